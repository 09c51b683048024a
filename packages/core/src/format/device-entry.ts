/**
 * @module format/device-entry
 * `devices/<id>`: a device's public keys, signed by whoever added it.
 */
import { ErrorCode, KithError } from '../errors.js';
import { ObjectReader, ObjectType, ObjectWriter, corrupt } from './framing.js';

export const DEVICE_DOMAIN = 'kith/v1/device';
/** Longest device name in UTF-8 bytes. */
export const MAX_DEVICE_NAME_BYTES = 200;

export interface DeviceEntry {
  readonly vaultId: string;
  readonly deviceId: string;
  readonly name: string;
  readonly signPub: Uint8Array;
  readonly boxPub: Uint8Array;
  readonly addedAt: number;
  /** `recovery` or the adding device's id. */
  readonly addedBy: string;
}

export function encodeDeviceEntry(e: DeviceEntry, signerSeed: Uint8Array): Promise<Uint8Array> {
  return new ObjectWriter(ObjectType.Device)
    .hex(e.deviceId, 8)
    .bytes(e.signPub)
    .bytes(e.boxPub)
    .u64(e.addedAt)
    .shortText(e.addedBy)
    .text(e.name, MAX_DEVICE_NAME_BYTES)
    .sign(DEVICE_DOMAIN, e.vaultId, signerSeed);
}

/** Decodes and verifies a device entry; the signer's key comes from `signerPub`. */
export async function decodeDeviceEntry(
  bytes: Uint8Array,
  expect: { readonly vaultId: string; readonly deviceId: string },
  signerPub: (signerId: string) => Uint8Array | undefined,
): Promise<DeviceEntry> {
  const what = `device entry ${expect.deviceId}`;
  const r = new ObjectReader(bytes, what, ObjectType.Device);
  const deviceId = r.hex(8);
  if (deviceId !== expect.deviceId) throw corrupt(what, `it names device ${deviceId}`);
  const signPub = r.take(32).slice();
  const boxPub = r.take(32).slice();
  const addedAt = r.u64();
  const addedBy = r.shortText();
  const name = r.text(MAX_DEVICE_NAME_BYTES);
  const pub = signerPub(addedBy);
  if (!pub) {
    throw new KithError(ErrorCode.IntegrityUnknownSigner, `${what} is signed by ${addedBy}, which is not a device of this vault`, {
      hint: 'someone with write access to the remote added a device; remove the object if you did not',
    });
  }
  await r.verify(DEVICE_DOMAIN, expect.vaultId, pub);
  return { vaultId: expect.vaultId, deviceId, name, signPub, boxPub, addedAt, addedBy };
}
