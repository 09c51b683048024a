/**
 * @module format/sealed-key
 * `keys/<epoch>/<keyId>/<recipient>` (`keys/<epoch>/<recipient>` for epochs
 * opened by version 1 registry entries): an epoch key sealed to one
 * recipient's X25519 key (age-style: ephemeral key agreement, HKDF,
 * one-time AES-GCM key), signed by the sealing device so the remote cannot
 * substitute its own key. The entry that opens an epoch carries the key's
 * check value, and the keyId is taken from it.
 */
import type { RandomBytes } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { aesGcmDecrypt, aesGcmEncrypt, boxKeyFromSecret, bytesToHex, concatBytes, hexToBytes, hkdfSha256, u32, utf8, x25519Shared } from '../crypto/index.js';
import { ObjectReader, ObjectType, ObjectWriter, corrupt } from './framing.js';

export const SEALED_KEY_DOMAIN = 'kith/v1/sealed-key';
export const EPOCH_CHECK_DOMAIN = 'kith/v1/epoch-check';

/**
 * The commitment to an epoch key that the registry entry opening the epoch
 * carries: one-way, so it tells the remote nothing about the key, and a key
 * from anyone but the entry's signer fails it.
 */
export function epochKeyCheck(vaultId: string, epoch: number, epochKey: Uint8Array): Uint8Array {
  return hkdfSha256(epochKey, new Uint8Array(0), concatBytes(utf8(EPOCH_CHECK_DOMAIN), hexToBytes(vaultId), u32(epoch)), 32);
}

/**
 * The folder of an epoch's sealed keys (16 hex): unknown until the opener
 * writes its first object, so nobody can occupy the keys in advance.
 */
export function epochKeyId(keyCheck: Uint8Array): string {
  return bytesToHex(keyCheck.subarray(0, 8));
}
// The wrap key is single-use (fresh ephemeral key), so a fixed nonce is safe.
const ZERO_NONCE = new Uint8Array(12);

/** The one-time key: HKDF-SHA256(ikm = X25519 shared secret, salt = E ‖ R, info). */
const wrapKey = (shared: Uint8Array, ephPub: Uint8Array, rcptPub: Uint8Array, info: Uint8Array): Uint8Array =>
  hkdfSha256(shared, concatBytes(ephPub, rcptPub), info, 32);

/**
 * Seals 32 secret bytes to one X25519 key, age-style, into a signed
 * object: appends a fresh ephemeral public key to the header `w`, then the
 * AES-GCM ciphertext under the one-time key (AAD = every byte before it),
 * and signs. What sealed epoch keys (`K`) and sealed identities (`I`)
 * share; `info` binds the object's place.
 */
export async function sealTo(
  w: ObjectWriter,
  a: {
    readonly recipientBoxPub: Uint8Array;
    readonly info: Uint8Array;
    readonly secret: Uint8Array;
    readonly random: RandomBytes;
    readonly domain: string;
    readonly vaultId: string;
    readonly signerSeed: Uint8Array;
  },
): Promise<Uint8Array> {
  const eph = boxKeyFromSecret(a.random(32));
  const key = wrapKey(x25519Shared(eph.secret, a.recipientBoxPub), eph.pub, a.recipientBoxPub, a.info);
  w.bytes(eph.pub);
  const ct = await aesGcmEncrypt(key, ZERO_NONCE, a.secret, w.finish());
  return w.bytes(ct).sign(a.domain, a.vaultId, a.signerSeed);
}

/** Opens what {@link sealTo} sealed, given the parts read from the object (its signature checked by the caller). */
export async function openSealed(a: {
  readonly recipientBoxSecret: Uint8Array;
  readonly ephPub: Uint8Array;
  readonly info: Uint8Array;
  readonly ct: Uint8Array;
  readonly aad: Uint8Array;
}): Promise<Uint8Array> {
  const rcptPub = boxKeyFromSecret(a.recipientBoxSecret).pub;
  return aesGcmDecrypt(wrapKey(x25519Shared(a.recipientBoxSecret, a.ephPub), a.ephPub, rcptPub, a.info), ZERO_NONCE, a.ct, a.aad);
}

const sealedKeyInfo = (vaultId: string, epoch: number, recipientId: string): Uint8Array =>
  concatBytes(utf8(SEALED_KEY_DOMAIN), hexToBytes(vaultId), u32(epoch), utf8(recipientId));

export interface SealArgs {
  readonly vaultId: string;
  readonly epoch: number;
  readonly recipientId: string;
  readonly recipientBoxPub: Uint8Array;
  readonly epochKey: Uint8Array;
  readonly signerId: string;
  readonly signerSeed: Uint8Array;
  readonly random: RandomBytes;
}

export async function sealEpochKey(a: SealArgs): Promise<Uint8Array> {
  return sealTo(new ObjectWriter(ObjectType.SealedKey).u32(a.epoch).shortText(a.recipientId).hex(a.signerId, 8), {
    recipientBoxPub: a.recipientBoxPub,
    info: sealedKeyInfo(a.vaultId, a.epoch, a.recipientId),
    secret: a.epochKey,
    random: a.random,
    domain: SEALED_KEY_DOMAIN,
    vaultId: a.vaultId,
    signerSeed: a.signerSeed,
  });
}

export interface VerifyArgs {
  readonly vaultId: string;
  readonly epoch: number;
  readonly recipientId: string;
  readonly signerPub: (signerId: string) => Uint8Array | undefined;
}

export interface OpenArgs extends VerifyArgs {
  readonly recipientBoxSecret: Uint8Array;
}

interface SealedParts {
  readonly signerId: string;
  readonly ephPub: Uint8Array;
  readonly aad: Uint8Array;
  readonly ct: Uint8Array;
}

/** Framing, addressing and the signer's signature: everything short of opening. */
async function readSealed(bytes: Uint8Array, a: VerifyArgs): Promise<SealedParts> {
  const what = `sealed key ${a.epoch}/${a.recipientId}`;
  const r = new ObjectReader(bytes, what, ObjectType.SealedKey);
  const epoch = r.u32();
  const recipientId = r.shortText();
  if (epoch !== a.epoch || recipientId !== a.recipientId) throw corrupt(what, `it is addressed to ${epoch}/${recipientId}`);
  const signerId = r.hex(8);
  const ephPub = r.take(32);
  const aad = bytes.subarray(0, r.offset);
  const ct = r.take(48);
  const pub = a.signerPub(signerId);
  if (!pub) throw new KithError(ErrorCode.IntegrityUnknownSigner, `${what} is signed by ${signerId}, which is not a device of this vault`);
  await r.verify(SEALED_KEY_DOMAIN, a.vaultId, pub);
  return { signerId, ephPub, aad, ct };
}

/**
 * Checks a sealed key as far as anyone but its recipient can: framing,
 * addressing and signature. Returns its signer.
 */
export async function verifySealedKey(bytes: Uint8Array, a: VerifyArgs): Promise<{ signerId: string }> {
  return { signerId: (await readSealed(bytes, a)).signerId };
}

export async function openEpochKey(bytes: Uint8Array, a: OpenArgs): Promise<{ epochKey: Uint8Array; signerId: string }> {
  const { signerId, ephPub, aad, ct } = await readSealed(bytes, a);
  const epochKey = await openSealed({ recipientBoxSecret: a.recipientBoxSecret, ephPub, info: sealedKeyInfo(a.vaultId, a.epoch, a.recipientId), ct, aad });
  return { epochKey, signerId };
}
