/**
 * @module identity/epochs
 * The epoch keys a device reads with: from memory, else opened from the
 * remote. Opening (X25519, in epoch-seals.ts) is loaded only when a device
 * meets an epoch it does not hold yet, which an open vault's sync rarely
 * does; sealing and publishing epochs live there too.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import type { EpochContext } from './epoch-seals.js';

export type { EpochContext } from './epoch-seals.js';

/**
 * The key of `epoch`: from memory, else sealed to this device on the
 * remote, else through the `previous` link of a newer epoch.
 */
export async function loadEpochKey(ctx: EpochContext, epoch: number): Promise<Uint8Array> {
  const known = ctx.epochKeys.get(epoch);
  if (known) return known;
  const { epochBoxKey, openSealedKey } = await import('./epoch-seals.js');
  let key = await openSealedKey(ctx, epoch, ctx.deviceId, ctx.boxSecret);
  if (!key && epoch < ctx.registry.epoch) {
    const newer = await loadEpochKey(ctx, epoch + 1);
    key = await openSealedKey(ctx, epoch + 1, 'previous', epochBoxKey(newer).secret);
  }
  if (key) {
    await ctx.rememberEpochKey(epoch, key);
    return key;
  }
  throw new KithError(ErrorCode.IntegrityCorrupt, `the key of epoch ${epoch} is not available to this device`, {
    hint: 'the remote lost the sealed key objects (keys/...), or this device was removed from the vault',
  });
}
