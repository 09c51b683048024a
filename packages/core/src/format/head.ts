/**
 * @module format/head
 * `heads/<device>`: the device's latest segment (seq and hash), the
 * registry entry it had seen (seq and hash) and, from version 2, the time
 * it wrote the head, signed. The only object an idle pull reads. Naming the
 * registry position lets every reader insist on at least that much of the
 * registry, so a remote that drops registry entries (a revocation, say) is
 * caught. The signed time is what lets a device notice a remote that serves
 * an old but consistent state (see docs/FORMAT.md, Head).
 */
import { ObjectReader, ObjectType, ObjectWriter, corrupt } from './framing.js';

export const HEAD_DOMAIN = 'kith/v1/head';
/** Heads are written at version 2 (with the signed time); version 1 heads stay readable. */
export const HEAD_VERSION = 2;
const HEAD_VERSIONS = [1, HEAD_VERSION] as const;

export interface Head {
  readonly seq: number;
  readonly hash: Uint8Array;
  readonly registrySeq: number;
  readonly registryHash: Uint8Array;
  /** When the device wrote the head (ms since the Unix epoch, its own clock); absent in version 1 heads. */
  readonly at?: number;
}

export interface EncodeHeadArgs extends Head {
  readonly vaultId: string;
  readonly deviceId: string;
  readonly at: number;
  readonly signSeed: Uint8Array;
}

export function encodeHead(a: EncodeHeadArgs): Promise<Uint8Array> {
  return new ObjectWriter(ObjectType.Head, HEAD_VERSION)
    .hex(a.deviceId, 8)
    .u64(a.seq)
    .bytes(a.hash)
    .u64(a.registrySeq)
    .bytes(a.registryHash)
    .u64(a.at)
    .sign(HEAD_DOMAIN, a.vaultId, a.signSeed);
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
  await r.verify(HEAD_DOMAIN, a.vaultId, a.signPub);
  return at === undefined ? { seq, hash, registrySeq, registryHash } : { seq, hash, registrySeq, registryHash, at };
}
