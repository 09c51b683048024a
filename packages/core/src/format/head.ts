/**
 * @module format/head
 * `heads/<device>`: the device's latest segment (seq and hash) and the
 * registry entry it had seen (seq and hash), signed. The only object an
 * idle pull reads. Naming the registry position lets every reader insist on
 * at least that much of the registry, so a remote that drops registry
 * entries (a revocation, say) is caught.
 */
import { ObjectReader, ObjectType, ObjectWriter, corrupt } from './framing.js';

export const HEAD_DOMAIN = 'kith/v1/head';

export interface Head {
  readonly seq: number;
  readonly hash: Uint8Array;
  readonly registrySeq: number;
  readonly registryHash: Uint8Array;
}

export interface EncodeHeadArgs extends Head {
  readonly vaultId: string;
  readonly deviceId: string;
  readonly signSeed: Uint8Array;
}

export function encodeHead(a: EncodeHeadArgs): Promise<Uint8Array> {
  return new ObjectWriter(ObjectType.Head)
    .hex(a.deviceId, 8)
    .u64(a.seq)
    .bytes(a.hash)
    .u64(a.registrySeq)
    .bytes(a.registryHash)
    .sign(HEAD_DOMAIN, a.vaultId, a.signSeed);
}

export async function decodeHead(bytes: Uint8Array, a: { readonly vaultId: string; readonly deviceId: string; readonly signPub: Uint8Array }): Promise<Head> {
  const what = `head of device ${a.deviceId}`;
  const r = new ObjectReader(bytes, what, ObjectType.Head);
  const deviceId = r.hex(8);
  if (deviceId !== a.deviceId) throw corrupt(what, `it names device ${deviceId}`);
  const seq = r.u64();
  const hash = r.take(32).slice();
  const registrySeq = r.u64();
  const registryHash = r.take(32).slice();
  await r.verify(HEAD_DOMAIN, a.vaultId, a.signPub);
  return { seq, hash, registrySeq, registryHash };
}
