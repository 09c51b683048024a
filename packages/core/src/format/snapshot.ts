/**
 * @module format/snapshot
 * `snapshots/<u64 ms>-<device>`: the manifest of a snapshot of the merged
 * state at a version vector V. It names, per device in V, the segment seq
 * and hash it covers (so the tail after it still chains) and the last stamp
 * applied from that device (what the merge needs to tell a re-delivered
 * write from a new one); the registry position it was made under; and the
 * state's chunks, which are blob chunks (`blobs/chunks/<id>`). Encrypted
 * under the epoch key, signed by the writing device. See docs/FORMAT.md
 * "Snapshot".
 */
import type { RandomBytes } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { aesGcmDecrypt, aesGcmEncrypt, bytesToHex, concatBytes, fromUtf8, hexToBytes, hkdfSha256, u32, u64, utf8 } from '../crypto/index.js';
import { isStamp } from '../model/hlc.js';
import { ObjectReader, ObjectType, ObjectWriter, SUITE, corrupt } from './framing.js';

export const SNAPSHOT_DOMAIN = 'kith/v1/snapshot';
/** Written now: version 2 says the state is in rows v2 (snapshot/state.ts); version 1, rows v1, is still read. */
export const SNAPSHOT_VERSION = 2;
const SNAPSHOT_VERSIONS = [1, 2] as const;
const SALT_BYTES = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HASH_BYTES = 32;
/** Bounds a reader enforces before allocating anything. */
const MAX_DEVICES = 65_536;
const MAX_CHUNKS = 16_777_216;

export const snapshotKeys = {
  prefix: 'snapshots/',
  /** `snapshots/<ms, 16 digits>-<deviceId>`: a listing in byte order is oldest first. */
  of: (at: number, deviceId: string): string => `snapshots/${String(at).padStart(16, '0')}-${deviceId}`,
  /** The time and writer a key names, or undefined for a key that is not a snapshot's. */
  parse: (key: string): { at: number; deviceId: string } | undefined => {
    const m = /^snapshots\/(\d{16})-([0-9a-f]{16})$/.exec(key);
    return m ? { at: Number(m[1]), deviceId: m[2]! } : undefined;
  },
  /** The snapshot keys of a listing, newest first (other keys left out). */
  newestFirst: (listed: readonly { readonly key: string }[]): string[] =>
    listed
      .map((i) => i.key)
      .filter((k) => snapshotKeys.parse(k) !== undefined)
      .sort()
      .reverse(),
} as const;

/** How far the snapshot covers one device's chain. */
export interface SnapshotDevice {
  readonly deviceId: string;
  /** The last segment of that device the state includes (≥ 1). */
  readonly seq: number;
  /** SHA-256 of that segment: segment seq + 1 names it as prevHash. */
  readonly hash: Uint8Array;
  /** The full stamp (29 characters) of the last write applied from that device. */
  readonly stamp: string;
}

export interface SnapshotChunk {
  /** The blob chunk id (64 hex). */
  readonly id: string;
  /** Plaintext bytes. */
  readonly size: number;
}

export interface SnapshotManifest {
  /** The object's version, which names the state's row format: 1 or 2 (the default when writing). */
  readonly version?: 1 | 2;
  /** Writer's clock (ms); also in the key. */
  readonly at: number;
  /** The writing device; also in the key. */
  readonly deviceId: string;
  readonly epoch: number;
  /** The registry entry the writer had verified (seq, hash). */
  readonly registrySeq: number;
  readonly registryHash: Uint8Array;
  /** V, by deviceId ascending. */
  readonly devices: readonly SnapshotDevice[];
  /** Rows in the state (deleted ones included) and live rows among them. */
  readonly rows: number;
  readonly live: number;
  /** The state's chunks in order; their plaintexts concatenated are the state. */
  readonly chunks: readonly SnapshotChunk[];
}

/** A fresh key per object (salt), bound to the vault, the writer and the time. */
function objectKey(epochKey: Uint8Array, salt: Uint8Array, vaultId: string, deviceId: string, at: number): Uint8Array {
  return hkdfSha256(epochKey, salt, concatBytes(utf8(SNAPSHOT_DOMAIN), hexToBytes(vaultId), hexToBytes(deviceId), u64(at)), 32);
}

const aadOf = (vaultId: string, headerBytes: Uint8Array): Uint8Array => concatBytes(utf8(SNAPSHOT_DOMAIN), hexToBytes(vaultId), headerBytes);

/** The plaintext: V, counts, chunk list (see docs/FORMAT.md). */
function encodeBody(m: SnapshotManifest): Uint8Array {
  const parts: Uint8Array[] = [u32(m.devices.length)];
  let last = '';
  for (const d of m.devices) {
    if (d.deviceId <= last || d.seq < 1 || d.hash.length !== HASH_BYTES || !isStamp(d.stamp)) throw new KithError(ErrorCode.Internal, 'bad snapshot vector');
    last = d.deviceId;
    const stamp = utf8(d.stamp);
    parts.push(hexToBytes(d.deviceId), u64(d.seq), d.hash, Uint8Array.of(stamp.length), stamp);
  }
  parts.push(u64(m.rows), u64(m.live), u32(m.chunks.length));
  for (const c of m.chunks) parts.push(hexToBytes(c.id), u32(c.size));
  return concatBytes(...parts);
}

/** Reads the plaintext; any overrun, trailing byte or disorder is corrupt. */
function decodeBody(b: Uint8Array, what: string): Pick<SnapshotManifest, 'devices' | 'rows' | 'live' | 'chunks'> {
  let at = 0;
  const take = (n: number): Uint8Array => {
    if (at + n > b.length) throw corrupt(what, 'truncated');
    const out = b.subarray(at, at + n);
    at += n;
    return out;
  };
  const view = (n: number): DataView => {
    const t = take(n);
    return new DataView(t.buffer, t.byteOffset, n);
  };
  const int32 = (): number => view(4).getUint32(0);
  const int64 = (): number => {
    const v = view(8).getBigUint64(0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(what, 'integer out of range');
    return Number(v);
  };
  const deviceCount = int32();
  if (deviceCount > MAX_DEVICES) throw corrupt(what, 'too many devices');
  const devices: SnapshotDevice[] = [];
  for (let i = 0; i < deviceCount; i++) {
    const deviceId = bytesToHex(take(8));
    const seq = int64();
    const hash = take(HASH_BYTES).slice();
    const stampBytes = take(take(1)[0]!);
    let stamp: string;
    try {
      stamp = fromUtf8(stampBytes);
    } catch {
      throw corrupt(what, 'a stamp is not UTF-8');
    }
    if (seq < 1 || !isStamp(stamp) || (i > 0 && deviceId <= devices[i - 1]!.deviceId)) throw corrupt(what, `bad entry for device ${deviceId}`);
    devices.push({ deviceId, seq, hash, stamp });
  }
  const rows = int64();
  const live = int64();
  if (live > rows) throw corrupt(what, 'more live rows than rows');
  const chunkCount = int32();
  if (chunkCount > MAX_CHUNKS || chunkCount * 36 !== b.length - at) throw corrupt(what, 'wrong length');
  const chunks: SnapshotChunk[] = [];
  for (let i = 0; i < chunkCount; i++) chunks.push({ id: bytesToHex(take(32)), size: int32() });
  return { devices, rows, live, chunks };
}

export interface EncodeSnapshotArgs extends SnapshotManifest {
  readonly vaultId: string;
  readonly epochKey: Uint8Array;
  readonly signSeed: Uint8Array;
  readonly random: RandomBytes;
}

export async function encodeSnapshot(a: EncodeSnapshotArgs): Promise<Uint8Array> {
  if (a.registryHash.length !== HASH_BYTES) throw new KithError(ErrorCode.Internal, 'registryHash must be 32 bytes');
  const plain = encodeBody(a);
  const salt = a.random(SALT_BYTES);
  const nonce = a.random(NONCE_BYTES);
  const header = new ObjectWriter(ObjectType.Snapshot, a.version ?? SNAPSHOT_VERSION)
    .u8(SUITE)
    .u32(a.epoch)
    .hex(a.deviceId, 8)
    .u64(a.at)
    .u64(a.registrySeq)
    .bytes(a.registryHash)
    .bytes(salt)
    .bytes(nonce)
    .u32(plain.length + TAG_BYTES);
  const ct = await aesGcmEncrypt(objectKey(a.epochKey, salt, a.vaultId, a.deviceId, a.at), nonce, plain, aadOf(a.vaultId, header.finish()));
  return header.bytes(ct).sign(SNAPSHOT_DOMAIN, a.vaultId, a.signSeed);
}

/** The fields readable before the signature is checked, to find the signer's key and the epoch key. */
export interface SnapshotHeader {
  readonly epoch: number;
  readonly deviceId: string;
  readonly at: number;
  readonly registrySeq: number;
  readonly registryHash: Uint8Array;
}

/** Reads the clear header without verifying anything (to look up the signer and the key); decodeSnapshot verifies. */
export function peekSnapshot(bytes: Uint8Array, key: string): SnapshotHeader {
  const r = new ObjectReader(bytes, `snapshot ${key}`, ObjectType.Snapshot, SNAPSHOT_VERSIONS);
  if (r.u8() !== SUITE) throw corrupt(`snapshot ${key}`, 'unknown cipher suite');
  return { epoch: r.u32(), deviceId: r.hex(8), at: r.u64(), registrySeq: r.u64(), registryHash: r.take(HASH_BYTES).slice() };
}

export interface DecodeSnapshotArgs {
  readonly vaultId: string;
  /** The remote key it was read under: its time and writer must be the object's. */
  readonly key: string;
  readonly signPub: Uint8Array;
  readonly epochKey: (epoch: number) => Uint8Array | undefined;
}

/**
 * Check order: preamble → framing → key names this writer and time (else
 * KITH_INTEGRITY_SNAPSHOT: a moved object) → signature → decryption → body.
 */
export async function decodeSnapshot(bytes: Uint8Array, a: DecodeSnapshotArgs): Promise<SnapshotManifest> {
  const what = `snapshot ${a.key}`;
  const r = new ObjectReader(bytes, what, ObjectType.Snapshot, SNAPSHOT_VERSIONS);
  const version = r.version as 1 | 2;
  if (r.u8() !== SUITE) throw corrupt(what, 'unknown cipher suite');
  const epoch = r.u32();
  const deviceId = r.hex(8);
  const at = r.u64();
  const registrySeq = r.u64();
  const registryHash = r.take(HASH_BYTES).slice();
  const salt = r.take(SALT_BYTES);
  const nonce = r.take(NONCE_BYTES);
  const ctLen = r.u32();
  const header = bytes.subarray(0, r.offset);
  if (ctLen < TAG_BYTES) throw corrupt(what, 'ciphertext too short');
  const ct = r.take(ctLen);
  const named = snapshotKeys.parse(a.key);
  if (!named || named.deviceId !== deviceId || named.at !== at) {
    throw new KithError(ErrorCode.IntegritySnapshot, `${what} holds the snapshot of device ${deviceId} at ${at}: an object was moved`, {
      hint: 'the remote serves an object under the wrong name; it was ignored',
    });
  }
  await r.verify(SNAPSHOT_DOMAIN, a.vaultId, a.signPub);
  const epochKey = a.epochKey(epoch);
  if (!epochKey) throw corrupt(what, `it is encrypted under epoch ${epoch}, whose key this device does not hold`);
  const plain = await aesGcmDecrypt(objectKey(epochKey, salt, a.vaultId, deviceId, at), nonce, ct, aadOf(a.vaultId, header));
  return { version, at, deviceId, epoch, registrySeq, registryHash, ...decodeBody(plain, what) };
}
