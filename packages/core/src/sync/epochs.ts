/**
 * @module sync/epochs
 * Epoch keys: a new one is sealed to every current recipient (devices,
 * recovery, password) when a device is revoked or the recovery code is
 * rotated, and the previous epoch's key is sealed under the new one
 * (`keys/<epoch>/previous`), so a device that joins later can read the
 * whole history from the newest key alone.
 */
import { boxKeyFromSecret, hkdfSha256, utf8, type BoxKeyPair } from '../crypto/index.js';
import { ErrorCode, KithError } from '../errors.js';
import { openEpochKey, remoteKeys, sealEpochKey } from '../format/index.js';
import type { EngineContext } from './context.js';

/** The X25519 key pair an epoch key stands for (recipient of the previous epoch's key). */
export function epochBoxKey(epochKey: Uint8Array): BoxKeyPair {
  return boxKeyFromSecret(hkdfSha256(epochKey, new Uint8Array(0), utf8('kith/v1/previous-epoch'), 32));
}

/** Seals `epochKey` to each recipient, and links the previous epoch's key under it. */
export async function publishEpoch(
  ctx: EngineContext,
  epoch: number,
  epochKey: Uint8Array,
  previousKey: Uint8Array | undefined,
  recipients: readonly (readonly [string, Uint8Array])[],
): Promise<void> {
  const seal = (recipientId: string, recipientBoxPub: Uint8Array, key: Uint8Array) =>
    sealEpochKey({ vaultId: ctx.vaultId, epoch, recipientId, recipientBoxPub, epochKey: key, signerId: ctx.deviceId, signerSeed: ctx.signSeed, random: ctx.deps.random });
  for (const [recipientId, pub] of recipients) {
    await ctx.remote.put(remoteKeys.sealedKey(epoch, recipientId), await seal(recipientId, pub, epochKey), { ifAbsent: true });
  }
  if (previousKey) {
    await ctx.remote.put(remoteKeys.sealedKey(epoch, 'previous'), await seal('previous', epochBoxKey(epochKey).pub, previousKey), { ifAbsent: true });
  }
}

/** Seals the current epoch key to one new recipient (a device that just joined, a new password). */
export async function sealCurrentEpochTo(ctx: EngineContext, recipientId: string, recipientBoxPub: Uint8Array): Promise<void> {
  const epoch = ctx.registry.epoch;
  const key = await loadEpochKey(ctx, epoch);
  await ctx.remote.put(
    remoteKeys.sealedKey(epoch, recipientId),
    await sealEpochKey({ vaultId: ctx.vaultId, epoch, recipientId, recipientBoxPub, epochKey: key, signerId: ctx.deviceId, signerSeed: ctx.signSeed, random: ctx.deps.random }),
    { ifAbsent: true },
  );
}

/**
 * The key of `epoch`: from memory, else sealed to this device on the
 * remote, else through the `previous` link of a newer epoch.
 */
export async function loadEpochKey(ctx: EngineContext, epoch: number): Promise<Uint8Array> {
  const known = ctx.epochKeys.get(epoch);
  if (known) return known;
  const sealed = await ctx.remote.get(remoteKeys.sealedKey(epoch, ctx.deviceId));
  if (sealed) {
    const { epochKey } = await openEpochKey(sealed, { vaultId: ctx.vaultId, epoch, recipientId: ctx.deviceId, recipientBoxSecret: ctx.boxSecret, signerPub: ctx.registry.signPubOf });
    await ctx.rememberEpochKey(epoch, epochKey);
    return epochKey;
  }
  if (epoch < ctx.registry.epoch) {
    const newer = await loadEpochKey(ctx, epoch + 1);
    const link = await ctx.remote.get(remoteKeys.sealedKey(epoch + 1, 'previous'));
    if (link) {
      const { epochKey } = await openEpochKey(link, {
        vaultId: ctx.vaultId,
        epoch: epoch + 1,
        recipientId: 'previous',
        recipientBoxSecret: epochBoxKey(newer).secret,
        // Only a holder of the newer key can address this link; any registered device may have written it.
        signerPub: (id) => ctx.registry.deviceSignPub(id),
      });
      await ctx.rememberEpochKey(epoch, epochKey);
      return epochKey;
    }
  }
  throw new KithError(ErrorCode.IntegrityCorrupt, `the key of epoch ${epoch} is not available to this device`, {
    hint: 'the remote lost the sealed key objects (keys/...), or this device was removed from the vault',
  });
}

