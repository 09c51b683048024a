/**
 * @module sync/snapshot-cover
 * Opening snapshot manifests below the snapshot layer: what a signed
 * snapshot says it covers of a device's chain. Compaction deletes only
 * segments snapshots cover, so a segment of this device's own chain
 * missing at or below that point was compacted, not lost: repair leaves it
 * gone.
 */
import { isIntegrityError } from '../base/errors.js';
import { decodeSnapshot, peekSnapshot, snapshotKeys, type SnapshotManifest } from '../format/index.js';
import type { EngineContext } from './context.js';
import { epochKeyNamedBy } from './catch-up.js';

/** A listed snapshot's manifest (signature by a registered device and encryption checked), or undefined if it is gone or does not open. */
export async function openSnapshotManifest(ctx: EngineContext, key: string, signal?: AbortSignal): Promise<SnapshotManifest | undefined> {
  const bytes = await ctx.remote.get(key, signal ? { signal } : {});
  if (!bytes) return undefined;
  try {
    const header = peekSnapshot(bytes, key);
    const signPub = ctx.registry.deviceSignPub(header.deviceId);
    if (!signPub) return undefined;
    await epochKeyNamedBy(ctx, header.epoch, `snapshot ${key}`, signal);
    return await decodeSnapshot(bytes, { vaultId: ctx.vaultId, key, signPub, epochKey: (e) => ctx.epochKeys.get(e) });
  } catch (e) {
    if (isIntegrityError(e)) return undefined;
    throw e;
  }
}

/** Per device, the highest seq of its chain that a signed snapshot by an unrevoked device covers (absent: none). */
export async function snapshotCovers(ctx: EngineContext, signal?: AbortSignal): Promise<Map<string, number>> {
  const best = new Map<string, number>();
  for (const info of await ctx.remote.list(snapshotKeys.prefix, signal ? { signal } : {})) {
    const named = snapshotKeys.parse(info.key);
    if (!named || ctx.registry.device(named.deviceId)?.revoked) continue;
    for (const d of (await openSnapshotManifest(ctx, info.key, signal))?.devices ?? []) best.set(d.deviceId, Math.max(d.seq, best.get(d.deviceId) ?? 0));
  }
  return best;
}
