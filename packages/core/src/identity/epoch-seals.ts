/**
 * @module identity/epoch-seals
 * Epoch keys: a new one is sealed to every current recipient (devices,
 * recovery, password) when a device is revoked or the recovery code is
 * rotated, and the previous epoch's key is sealed under the new one
 * (`previous`), so a device that joins later can read the whole history
 * from the newest key alone.
 *
 * The registry entry that opens an epoch commits to its key (a key check)
 * and names where its sealed keys live (a keyId taken from the check), so
 * objects a device wrote ahead of its own revocation can neither stand in
 * for the opener's nor occupy the places the opener writes to.
 *
 * Sealing and opening need X25519: epochs.ts imports this module only
 * when a device meets an epoch key it does not hold yet.
 */
import { boxKeyFromSecret, bytesEqual, hkdfSha256, utf8, type BoxKeyPair } from '../crypto/index.js';
import type { Deps, RandomBytes } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { epochKeyCheck, epochKeyId, openEpochKey, remoteKeys, sealEpochKey, verifySealedKey } from '../format/index.js';
import { putIfAbsentHolds, remoteHolds } from '../ports/put-if-absent.js';
import type { Remote } from '../ports/remote.js';
import type { DeviceRegistry } from './registry.js';

/** The X25519 key pair an epoch key stands for (recipient of the previous epoch's key). */
export function epochBoxKey(epochKey: Uint8Array): BoxKeyPair {
  return boxKeyFromSecret(hkdfSha256(epochKey, new Uint8Array(0), utf8('kith/v1/previous-epoch'), 32));
}

/** Where sealed keys are read from and written to, with the registry that says where an epoch's keys live. */
export interface KeyPlace {
  readonly remote: Remote;
  readonly registry: DeviceRegistry;
  readonly vaultId: string;
}

/** Who signs the epoch keys it seals: a device, or the recovery or password key. */
export interface KeySigner {
  readonly vaultId: string;
  readonly signerId: string;
  readonly signerSeed: Uint8Array;
  readonly random: RandomBytes;
}

/** A device that seals epoch keys and stores them (it signs what it seals). */
export interface Sealer extends KeyPlace, KeySigner {}

/** `epochKey` sealed to one recipient and signed by `s`: the bytes of a sealed-key object (nothing is stored). */
export function sealKeyTo(s: KeySigner, epoch: number, epochKey: Uint8Array, recipientId: string, recipientBoxPub: Uint8Array): Promise<Uint8Array> {
  return sealEpochKey({ vaultId: s.vaultId, epoch, recipientId, recipientBoxPub, epochKey, signerId: s.signerId, signerSeed: s.signerSeed, random: s.random });
}

/** What epoch-key work needs of an open vault (the sync engine's context is one). */
export interface EpochContext {
  readonly remote: Remote;
  readonly registry: DeviceRegistry;
  readonly deps: Pick<Deps, 'random'>;
  readonly vaultId: string;
  readonly deviceId: string;
  readonly signSeed: Uint8Array;
  readonly boxSecret: Uint8Array;
  /** Epoch keys this device holds. */
  readonly epochKeys: ReadonlyMap<number, Uint8Array>;
  /** Keeps a newly obtained epoch key, in memory and in the store. */
  rememberEpochKey(epoch: number, key: Uint8Array): Promise<void>;
}

/** The sealer of an open vault's own device. */
export function sealerOf(ctx: EpochContext): Sealer {
  return { remote: ctx.remote, registry: ctx.registry, vaultId: ctx.vaultId, signerId: ctx.deviceId, signerSeed: ctx.signSeed, random: ctx.deps.random };
}

/** The keyId of an epoch opened under the key-check rules (undefined: its keys live at the version 1 places). */
function keyIdOf(registry: DeviceRegistry, epoch: number): string | undefined {
  const opening = registry.opening(epoch);
  return opening && epochKeyId(opening.check);
}

/** The one place readers look for the key of `epoch` sealed to `recipientId`: `keys/<epoch>/<keyId>/` or, under the version 1 rules, `keys/<epoch>/`. */
export function sealedKeyPlace(registry: DeviceRegistry, epoch: number, recipientId: string): string {
  return remoteKeys.sealedKey(epoch, recipientId, keyIdOf(registry, epoch));
}

/**
 * Seals `epochKey` to one recipient and stores it, then reads back what
 * the remote holds. `keyId` defaults to the one the registry gives the
 * epoch; an epoch not announced yet passes its own.
 */
export async function sealTo(
  s: Sealer,
  epoch: number,
  epochKey: Uint8Array,
  recipientId: string,
  recipientBoxPub: Uint8Array,
  keyId = keyIdOf(s.registry, epoch),
): Promise<void> {
  const key = remoteKeys.sealedKey(epoch, recipientId, keyId);
  const bytes = await sealKeyTo(s, epoch, epochKey, recipientId, recipientBoxPub);
  if (await putIfAbsentHolds(s.remote, key, bytes)) return;
  // Someone else's object sits where only this device's belongs (put there by a device before its
  // revocation, or raced in): readers would refuse it, so it is replaced rather than left to block.
  await s.remote.put(key, bytes);
  if (await remoteHolds(s.remote, key, bytes)) return;
  throw new KithError(ErrorCode.RemoteUnavailable, `the remote does not keep the sealed key this device wrote to ${key}`, {
    hint: 'something keeps replacing it; check who else can write to the remote, then try again',
  });
}

/**
 * Seals a new epoch's key to each recipient, and the previous epoch's key
 * under it, at the places its key check names; every object is checked on
 * the remote before this returns. Returns the key check that the entry
 * opening the epoch must carry.
 */
export async function publishEpoch(
  ctx: EpochContext,
  epoch: number,
  epochKey: Uint8Array,
  previousKey: Uint8Array | undefined,
  recipients: readonly (readonly [string, Uint8Array])[],
): Promise<Uint8Array> {
  const check = epochKeyCheck(ctx.vaultId, epoch, epochKey);
  const keyId = epochKeyId(check);
  const s = sealerOf(ctx);
  for (const [recipientId, pub] of recipients) await sealTo(s, epoch, epochKey, recipientId, pub, keyId);
  if (previousKey) await sealTo(s, epoch, previousKey, 'previous', epochBoxKey(epochKey).pub, keyId);
  return check;
}

/** Judges who signed a sealed key: the registry's signers, by default those it admits now. */
export type Admits = (signerId: string) => Uint8Array | undefined;

/**
 * Who may have signed the key of `epoch` sealed to `recipientId`. Under
 * the key-check rules: a signer `admits`, or the epoch's opener (its seals
 * stay good after it is itself revoked), and for a `previous` link the
 * opener alone. Epochs opened by version 1 entries keep the version 1
 * rules: a signer `admits`, and for links any device ever added.
 */
function sealedKeySigner(registry: DeviceRegistry, epoch: number, recipientId: string, admits: Admits): Admits {
  const opening = registry.opening(epoch);
  const byOpener = (id: string): Uint8Array | undefined => (id === opening?.by ? registry.deviceSignPub(id) : undefined);
  if (recipientId === 'previous') return opening ? byOpener : (id) => registry.deviceSignPub(id);
  return (id) => admits(id) ?? byOpener(id);
}

/** Where sealed keys are judged: the registry that says who may sign them and which keys epochs committed to. */
export type KeyRules = Pick<KeyPlace, 'registry' | 'vaultId'>;

/**
 * Checks the key of `epoch` sealed to `recipientId` (`bytes`, read from
 * its {@link sealedKeyPlace}) as far as anyone but its recipient can: its
 * addressing and that an allowed signer signed it. Returns the signer.
 */
export async function verifySealedKeyAt(
  p: KeyRules,
  epoch: number,
  recipientId: string,
  bytes: Uint8Array,
  admits: Admits = p.registry.signPubOf,
): Promise<string> {
  const signerPub = sealedKeySigner(p.registry, epoch, recipientId, admits);
  return (await verifySealedKey(bytes, { vaultId: p.vaultId, epoch, recipientId, signerPub })).signerId;
}

/**
 * Opens `bytes`, the key of `epoch` sealed to `recipientId`, checked as
 * {@link verifySealedKeyAt} does; under the key-check rules the result
 * must also pass the check of the entry that opened its epoch. For
 * `previous` the result is the key of epoch − 1.
 */
export async function openSealedKeyBytes(
  p: KeyRules,
  epoch: number,
  recipientId: string,
  bytes: Uint8Array,
  boxSecret: Uint8Array,
  admits: Admits = p.registry.signPubOf,
): Promise<Uint8Array> {
  const signerPub = sealedKeySigner(p.registry, epoch, recipientId, admits);
  const { epochKey } = await openEpochKey(bytes, { vaultId: p.vaultId, epoch, recipientId, recipientBoxSecret: boxSecret, signerPub });
  const keyEpoch = recipientId === 'previous' ? epoch - 1 : epoch;
  const committed = p.registry.opening(keyEpoch);
  if (committed && !bytesEqual(epochKeyCheck(p.vaultId, keyEpoch, epochKey), committed.check)) {
    throw new KithError(
      ErrorCode.IntegrityCorrupt,
      `sealed key ${epoch}/${recipientId} holds a key that registry entry opening epoch ${keyEpoch} did not commit to`,
      {
        hint: 'a device wrote keys for an epoch it did not open; remove the object',
      },
    );
  }
  return epochKey;
}

/**
 * Opens the key sealed at `epoch` to `recipientId` (undefined if the
 * remote holds none), as {@link openSealedKeyBytes} does, with the signers
 * the registry admits now.
 */
export async function openSealedKey(p: KeyPlace, epoch: number, recipientId: string, boxSecret: Uint8Array): Promise<Uint8Array | undefined> {
  const bytes = await p.remote.get(sealedKeyPlace(p.registry, epoch, recipientId));
  return bytes ? openSealedKeyBytes(p, epoch, recipientId, bytes, boxSecret) : undefined;
}
