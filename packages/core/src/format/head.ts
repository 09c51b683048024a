/**
 * @module format/head
 * `heads/<device>`: the device's latest segment (seq and hash), the
 * registry entry it had seen (seq and hash), from version 2 the time it
 * wrote the head, and from version 3 its acknowledgements (how far it has
 * applied every other active device's chain, and when it last pulled),
 * signed. The only object an idle pull reads. Naming the registry position
 * lets every reader insist on at least that much of the registry, so a
 * remote that drops registry entries (a revocation, say) is caught. The
 * signed time is what lets a device notice a remote that serves an old but
 * consistent state; the signed acknowledgements are what "laptop has
 * everything you wrote" and, later, compaction rest on (see docs/FORMAT.md,
 * Head).
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { ObjectReader, ObjectType, ObjectWriter, corrupt } from './framing.js';

export const HEAD_DOMAIN = 'kith/v1/head';
/** Devices write heads at version 3 (with acknowledgements); versions 1 and 2 stay readable. */
export const HEAD_VERSION = 3;
const HEAD_VERSIONS = [1, 2, HEAD_VERSION] as const;
/** At most this many acknowledgements in one head (one per registered, unrevoked device). */
export const MAX_HEAD_ACKS = 4096;

/** What a head says its device has applied of the others (version 3). */
export interface HeadAcks {
  /** When the device last pulled (ms since the Unix epoch, its own clock); 0 if it never has. */
  readonly pulledAt: number;
  /** deviceId → the highest seq of that device's chain applied, every lower seq applied too (seq ≥ 1; a device with none is absent). */
  readonly applied: ReadonlyMap<string, number>;
}

export interface Head {
  readonly seq: number;
  readonly hash: Uint8Array;
  readonly registrySeq: number;
  readonly registryHash: Uint8Array;
  /** When the device wrote the head (ms since the Unix epoch, its own clock); absent in version 1 heads. */
  readonly at?: number;
  /** Absent in heads older than version 3: nothing is known of what their device applied. */
  readonly acks?: HeadAcks;
}

export interface EncodeHeadArgs extends Head {
  readonly vaultId: string;
  readonly deviceId: string;
  readonly at: number;
  readonly signSeed: Uint8Array;
}

/** Encodes a head: version 3 with `acks`, else version 2 (a head that acknowledges nothing; kept for the vectors and tools). */
export async function encodeHead(a: EncodeHeadArgs): Promise<Uint8Array> {
  const w = new ObjectWriter(ObjectType.Head, a.acks ? HEAD_VERSION : 2)
    .hex(a.deviceId, 8)
    .u64(a.seq)
    .bytes(a.hash)
    .u64(a.registrySeq)
    .bytes(a.registryHash)
    .u64(a.at);
  if (a.acks) writeAcks(w, a.deviceId, a.acks);
  return w.sign(HEAD_DOMAIN, a.vaultId, a.signSeed);
}

export async function decodeHead(bytes: Uint8Array, a: { readonly vaultId: string; readonly deviceId: string; readonly signPub: Uint8Array }): Promise<Head> {
  const what = `head of device ${a.deviceId}`;
  const r = new ObjectReader(bytes, what, ObjectType.Head, HEAD_VERSIONS);
  const deviceId = r.hex(8);
  if (deviceId !== a.deviceId) throw corrupt(what, `it names device ${deviceId}`);
  const seq = r.u64();
  const hash = r.take(32).slice();
  const registrySeq = r.u64();
  const registryHash = r.take(32).slice();
  const at = r.version >= 2 ? r.u64() : undefined;
  const acks = r.version >= 3 ? readAcks(r, deviceId) : undefined;
  await r.verify(HEAD_DOMAIN, a.vaultId, a.signPub);
  const head = { seq, hash, registrySeq, registryHash };
  return at === undefined ? head : acks === undefined ? { ...head, at } : { ...head, at, acks };
}

// (Also a shared space's heads, spaces/space-head.ts.) Entries in ascending deviceId order, each id once, never the head's own device, seq ≥ 1 as a minimal
// LEB128 varint: one canonical encoding per vector, so equal acknowledgements are equal bytes.
export function writeAcks(w: ObjectWriter, self: string, acks: HeadAcks): void {
  const entries = [...acks.applied].filter(([, seq]) => seq > 0).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  if (entries.length > MAX_HEAD_ACKS) throw new KithError(ErrorCode.Internal, `a head holds at most ${MAX_HEAD_ACKS} acknowledgements`);
  w.u64(acks.pulledAt);
  w.u8(entries.length >> 8).u8(entries.length & 0xff);
  for (const [device, seq] of entries) {
    if (device === self) throw new KithError(ErrorCode.Internal, 'a head does not acknowledge its own device');
    w.hex(device, 8).bytes(varint(seq));
  }
}

export function readAcks(r: ObjectReader, self: string): HeadAcks {
  const pulledAt = r.u64();
  const n = r.u16();
  if (n > MAX_HEAD_ACKS) throw corrupt(r.what, `it holds ${n} acknowledgements`);
  const applied = new Map<string, number>();
  let last = '';
  for (let i = 0; i < n; i++) {
    const device = r.hex(8);
    if (device <= last) throw corrupt(r.what, 'its acknowledgements are not in ascending device order');
    if (device === self) throw corrupt(r.what, 'it acknowledges its own device');
    applied.set(device, readVarint(r));
    last = device;
  }
  return { pulledAt, applied };
}

/** Unsigned LEB128 of 1 ≤ n ≤ 2^53 − 1 (7 bits per byte, low first, high bit = more). */
function varint(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 1) throw new KithError(ErrorCode.Internal, `acknowledged seq out of range: ${n}`);
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Uint8Array.from(out);
}

function readVarint(r: ObjectReader): number {
  let n = 0;
  for (let i = 0, scale = 1; i < 8; i++, scale *= 0x80) {
    const b = r.u8();
    n += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      // A trailing zero group is a second encoding of a shorter number; zero is never acknowledged.
      if ((b === 0 && i > 0) || n === 0) throw corrupt(r.what, 'an acknowledgement is not minimally encoded');
      if (n > Number.MAX_SAFE_INTEGER) throw corrupt(r.what, 'integer out of range');
      return n;
    }
  }
  throw corrupt(r.what, 'an acknowledgement is longer than 8 bytes');
}
