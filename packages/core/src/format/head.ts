/**
 * @module format/head
 * `heads/<device>`: the device's latest segment (seq and hash), signed. The
 * only object an idle pull reads.
 */
import { ObjectReader, ObjectType, ObjectWriter, corrupt } from './framing.js';

export const HEAD_DOMAIN = 'kith/v1/head';

export interface EncodeHeadArgs {
  readonly vaultId: string;
  readonly deviceId: string;
  readonly seq: number;
  readonly hash: Uint8Array;
  readonly signSeed: Uint8Array;
}

export function encodeHead(a: EncodeHeadArgs): Promise<Uint8Array> {
  return new ObjectWriter(ObjectType.Head).hex(a.deviceId, 8).u64(a.seq).bytes(a.hash).sign(HEAD_DOMAIN, a.vaultId, a.signSeed);
}

export async function decodeHead(
  bytes: Uint8Array,
  a: { readonly vaultId: string; readonly deviceId: string; readonly signPub: Uint8Array },
): Promise<{ seq: number; hash: Uint8Array }> {
  const what = `head of device ${a.deviceId}`;
  const r = new ObjectReader(bytes, what, ObjectType.Head);
  const deviceId = r.hex(8);
  if (deviceId !== a.deviceId) throw corrupt(what, `it names device ${deviceId}`);
  const seq = r.u64();
  const hash = r.take(32).slice();
  await r.verify(HEAD_DOMAIN, a.vaultId, a.signPub);
  return { seq, hash };
}
