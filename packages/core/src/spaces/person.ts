/**
 * @module spaces/person
 * A person's identity: one 32-byte secret from which their Ed25519 and
 * X25519 key pairs are derived, held by every device of the person. It is
 * kept in the personal space sealed to each device and to the vault's
 * recovery and password keys (`I` objects at `keys/identity/<recipient>`),
 * signed by the sealing device, as an epoch key is. The personId is derived from the signing key, so a chain entry
 * naming a person and a key cannot pair them wrongly. See docs/FORMAT.md
 * "Person identity".
 */
import type { RandomBytes } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import {
  boxKeyFromSecret,
  bytesEqual,
  bytesToHex,
  concatBytes,
  hexToBytes,
  hkdfSha256,
  sha256Sync,
  signingKeyFromSeed,
  utf8,
  type BoxKeyPair,
  type SigningKeyPair,
} from '../crypto/index.js';
import { ObjectReader, ObjectType, ObjectWriter, corrupt } from '../format/framing.js';
import { openSealed, sealTo } from '../format/sealed-key.js';
import { putIfAbsentHolds, remoteHolds } from '../ports/put-if-absent.js';
import type { Remote } from '../ports/remote.js';

export const SEALED_IDENTITY_DOMAIN = 'kith/v1/sealed-identity';
const PERSON_SALT = 'kith/v1/person';
const PERSON_ID_DOMAIN = 'kith/v1/person-id';

/** A person's public identity, as others see it. */
export interface PersonPublic {
  /** 16 bytes as 32 lowercase hex: the first half of SHA-256(`kith/v1/person-id` ‖ signPub). */
  readonly personId: string;
  readonly signPub: Uint8Array;
  readonly boxPub: Uint8Array;
}

/** A person's identity with its secret: what every device of the person holds. */
export interface PersonKeys extends PersonPublic {
  readonly secret: Uint8Array;
  readonly sign: SigningKeyPair;
  readonly box: BoxKeyPair;
}

/** The personId that a signing key stands for. */
export const personIdOf = (signPub: Uint8Array): string => bytesToHex(sha256Sync(concatBytes(utf8(PERSON_ID_DOMAIN), signPub)).subarray(0, 16));

/** The key pairs an identity secret stands for. */
export function personKeysFromSecret(secret: Uint8Array): PersonKeys {
  if (secret.length !== 32) throw new KithError(ErrorCode.Internal, 'a person secret is 32 bytes');
  const salt = utf8(PERSON_SALT);
  const sign = signingKeyFromSeed(hkdfSha256(secret, salt, utf8('sign'), 32));
  const box = boxKeyFromSecret(hkdfSha256(secret, salt, utf8('box'), 32));
  return { personId: personIdOf(sign.pub), signPub: sign.pub, boxPub: box.pub, secret, sign, box };
}

/** A fresh identity (made once per person, with their vault). */
export const newPersonKeys = (random: RandomBytes): PersonKeys => personKeysFromSecret(random(32));

/** True when `p` is self-consistent: its personId is the one its signing key stands for. */
export const isPersonConsistent = (p: PersonPublic): boolean => p.signPub.length === 32 && p.boxPub.length === 32 && personIdOf(p.signPub) === p.personId;

/** Where the identity sealed to `deviceId` (or to `recovery` / `password`) lives in the personal space. */
export const sealedIdentityKey = (deviceId: string): string => `keys/identity/${deviceId}`;

const identityInfo = (vaultId: string, personId: string, recipientId: string): Uint8Array =>
  concatBytes(utf8(SEALED_IDENTITY_DOMAIN), hexToBytes(vaultId), hexToBytes(personId), utf8(recipientId));

export interface SealIdentityArgs {
  /** The personal space (the person's vault) the object belongs to. */
  readonly vaultId: string;
  readonly person: PersonKeys;
  readonly recipientId: string;
  readonly recipientBoxPub: Uint8Array;
  readonly signerId: string;
  readonly signerSeed: Uint8Array;
  readonly random: RandomBytes;
}

/** Seals the person's identity secret to one of their devices, signed by the sealing device. */
export async function sealIdentity(a: SealIdentityArgs): Promise<Uint8Array> {
  const w = new ObjectWriter(ObjectType.SealedIdentity)
    .hex(a.person.personId, 16)
    .bytes(a.person.signPub)
    .bytes(a.person.boxPub)
    .shortText(a.recipientId)
    .hex(a.signerId, 8);
  return sealTo(w, {
    recipientBoxPub: a.recipientBoxPub,
    info: identityInfo(a.vaultId, a.person.personId, a.recipientId),
    secret: a.person.secret,
    random: a.random,
    domain: SEALED_IDENTITY_DOMAIN,
    vaultId: a.vaultId,
    signerSeed: a.signerSeed,
  });
}

export interface OpenIdentityArgs {
  readonly vaultId: string;
  readonly recipientId: string;
  readonly recipientBoxSecret: Uint8Array;
  /** The signing key of a device the registry admits (undefined: not admitted). */
  readonly signerPub: (signerId: string) => Uint8Array | undefined;
}

/**
 * Opens the identity sealed to this device: framing, addressing, the
 * signer's signature, decryption, and that the secret derives exactly the
 * public keys and personId the object names (else KITH_INTEGRITY_CORRUPT).
 */
export async function openIdentity(bytes: Uint8Array, a: OpenIdentityArgs): Promise<{ person: PersonKeys; signerId: string }> {
  const what = `sealed identity for ${a.recipientId}`;
  const r = new ObjectReader(bytes, what, ObjectType.SealedIdentity);
  const personId = r.hex(16);
  const signPub = r.take(32).slice();
  const boxPub = r.take(32).slice();
  const recipientId = r.shortText();
  if (recipientId !== a.recipientId) throw corrupt(what, `it is addressed to ${recipientId}`);
  const signerId = r.hex(8);
  const ephPub = r.take(32);
  const aad = bytes.subarray(0, r.offset);
  const ct = r.take(48);
  const pub = a.signerPub(signerId);
  if (!pub) throw new KithError(ErrorCode.IntegrityUnknownSigner, `${what} is signed by ${signerId}, which is not a device of this vault`);
  await r.verify(SEALED_IDENTITY_DOMAIN, a.vaultId, pub);
  const secret = await openSealed({ recipientBoxSecret: a.recipientBoxSecret, ephPub, info: identityInfo(a.vaultId, personId, a.recipientId), ct, aad });
  const person = personKeysFromSecret(secret);
  if (person.personId !== personId || !bytesEqual(person.signPub, signPub) || !bytesEqual(person.boxPub, boxPub)) {
    throw corrupt(what, 'the sealed secret is not the identity it names');
  }
  return { person, signerId };
}

/**
 * Seals the identity to each of `recipients` (devices of the person's
 * vault) in the personal space, as sealed epoch keys are written:
 * put-if-absent, read back, and if the remote holds other bytes there
 * (someone raced in an object) replace them once with a plain put; fail
 * with KITH_REMOTE_UNAVAILABLE if it still holds other bytes.
 */
export async function publishIdentity(
  remote: Remote,
  a: Omit<SealIdentityArgs, 'recipientId' | 'recipientBoxPub'>,
  recipients: readonly { readonly deviceId: string; readonly boxPub: Uint8Array }[],
): Promise<void> {
  for (const r of recipients) {
    const bytes = await sealIdentity({ ...a, recipientId: r.deviceId, recipientBoxPub: r.boxPub });
    const key = sealedIdentityKey(r.deviceId);
    if (await putIfAbsentHolds(remote, key, bytes)) continue;
    await remote.put(key, bytes);
    if (!(await remoteHolds(remote, key, bytes))) {
      throw new KithError(ErrorCode.RemoteUnavailable, `the remote does not keep the identity sealed to ${r.deviceId}`, { hint: 'try again later' });
    }
  }
}

/** This device's copy of the person's identity from the personal space, or null if none was sealed to it yet. */
export async function readOwnIdentity(remote: Remote, a: OpenIdentityArgs): Promise<PersonKeys | null> {
  const bytes = await remote.get(sealedIdentityKey(a.recipientId));
  return bytes ? (await openIdentity(bytes, a)).person : null;
}
