/**
 * @module snapshot/auto-compact
 * Compaction run by a sync when it is due: at most once per
 * `compaction.everyHours` per device (the time of the last run kept in
 * store meta, so a CLI that opens, syncs and exits counts too), never on
 * every sync. A failure never fails the sync: it becomes a warning, and the
 * next run is due after the interval as after a success. Two devices
 * compacting at once are safe: each plan deletes only what every reader can
 * do without, and deleting an object already gone succeeds.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { WarningCode, type SyncWarning } from '../base/warnings.js';
import { snapshotKeys } from '../format/index.js';
import { readMeta, writeMeta } from '../ports/store-meta.js';
import type { EngineContext } from '../sync/context.js';
import { compactRemote, type CompactResult } from './compact.js';
import type { CompactionPolicy } from './compact-options.js';

/** Store meta entry: when this device last ran compaction by itself (ms, its clock). */
const LAST_META = 'compaction.last';

export interface AutoCompactOutcome {
  /** What the run deleted, when one ran and succeeded. */
  readonly result?: CompactResult;
  /** Why the run failed, when it did. */
  readonly warning?: SyncWarning;
}

/**
 * Compacts the remote if this device's last run is at least `everyMs` ago;
 * `afterDelete` runs when something was deleted (blob GC marks the chunks
 * only old snapshots held). Never throws but for an abort.
 */
export async function maybeCompact(
  ctx: EngineContext,
  policy: CompactionPolicy,
  everyMs: number | false,
  afterDelete: () => Promise<unknown>,
  signal?: AbortSignal,
): Promise<AutoCompactOutcome> {
  if (everyMs === false) return {};
  const now = ctx.deps.now();
  const last = (await ctx.store.read((tx) => readMeta<{ at: number }>(tx, LAST_META)))?.at;
  // A clock that went back (last in the future) counts as due: otherwise it could hold compaction off for long.
  if (last !== undefined && last <= now && now - last < everyMs) return {};
  let outcome: AutoCompactOutcome;
  try {
    // Without any snapshot there is nothing to delete: one LIST, not the whole plan.
    const listed = await ctx.remote.list(snapshotKeys.prefix, signal ? { signal, limit: 1 } : { limit: 1 });
    const result = listed.length === 0 ? undefined : await compactRemote(ctx, { ...policy, ...(signal ? { signal } : {}) });
    if (result && result.deleted > 0) await afterDelete();
    outcome = result ? { result } : {};
  } catch (e) {
    if (signal?.aborted) throw e;
    const message = e instanceof Error ? e.message : String(e);
    const code = KithError.is(e) ? e.code : ErrorCode.Internal;
    outcome = {
      warning: {
        code: WarningCode.CompactionFailed,
        message: `compaction after this sync failed: ${message} (${code})`,
        hint: 'the sync itself succeeded; compaction is tried again after its interval, or compact the vault now to see the error',
      },
    };
  }
  await ctx.store.write((tx) => writeMeta(tx, LAST_META, { at: now }));
  return outcome;
}
