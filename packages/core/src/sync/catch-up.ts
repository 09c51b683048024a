/**
 * @module sync/catch-up
 * Catching up with the remote's device registry outside a pull. Objects
 * that carry no registry position (blob chunks and manifests) can name an
 * epoch that a device which has not synced since a revocation has never
 * heard of: that is a registry to fetch, not damage, so readers catch up
 * and try once more before calling anything corrupt.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import type { EngineContext } from './context.js';
import { loadEpochKey } from '../identity/epochs.js';

/** A registry position a signed head names (the head of device `by`). */
export interface RegistryPosition {
  seq: number;
  hash: Uint8Array;
  by?: string;
}

/**
 * Verifies and saves the registry entries the remote has beyond ours
 * (insisting on at least `atLeast`, a position some device's head names);
 * KITH_REVOKED if they remove this device.
 */
export async function catchUpRegistry(ctx: EngineContext, signal?: AbortSignal, atLeast?: RegistryPosition): Promise<void> {
  if ((await ctx.registry.sync(ctx.remote, atLeast, signal)) > 0) await ctx.saveRegistry();
  ctx.registry.assertNotRevoked(ctx.deviceId);
}

/**
 * The key of `epoch`, as named by the (not yet verified) header of `what`:
 * from memory; else, for an epoch newer than the verified registry, after
 * one registry catch-up; else opened from the remote. A device that turns
 * out to be revoked gets KITH_REVOKED; an epoch the remote's registry has
 * not opened, or a key it does not hold, an error that says which.
 */
export async function epochKeyNamedBy(ctx: EngineContext, epoch: number, what: string, signal?: AbortSignal): Promise<Uint8Array> {
  const known = ctx.epochKeys.get(epoch);
  if (known) return known;
  if (epoch > ctx.registry.epoch) await catchUpRegistry(ctx, signal);
  if (epoch > ctx.registry.epoch) {
    throw new KithError(
      ErrorCode.IntegrityCorrupt,
      `${what} names key epoch ${epoch}, but the device registry on the remote ends at epoch ${ctx.registry.epoch}`,
      {
        hint: 'the registry entry that opened that epoch is missing from the remote (registry/...), or the object was altered; nothing from it was used',
      },
    );
  }
  try {
    return await loadEpochKey(ctx, epoch);
  } catch (e) {
    // Without the key, a removed device is told so rather than that keys are missing.
    ctx.registry.assertNotRevoked(ctx.deviceId);
    throw e;
  }
}
