/**
 * @module snapshot/compact-options
 * The compaction policy (device horizon, grace period), apart from the
 * compaction code so that the Vault reads it without loading that code.
 */
import { ErrorCode, KithError } from '../base/errors.js';

/** How long a device may stay unseen before it stops holding compaction back (days). */
export const DEFAULT_HORIZON_DAYS = 90;
/** How old a snapshot must be before the segments it covers are deleted (hours). */
export const DEFAULT_GRACE_HOURS = 24;
/** How often a device compacts by itself after a sync (hours). */
export const DEFAULT_COMPACT_EVERY_HOURS = 24;

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** When compaction may delete: a vault-wide policy every device should be given alike. */
export interface CompactionPolicy {
  /** A device whose newest head is older than this stops holding compaction back (default 90). */
  readonly horizonDays?: number;
  /** A snapshot must be this old before the segments it covers are deleted (default 24). */
  readonly graceHours?: number;
  /**
   * How often this device compacts by itself, after a sync (hours); `false`, never (only `compact()` does).
   * Default: every 24 hours when the vault writes snapshots by itself (`snapshotEvery`), else never.
   */
  readonly everyHours?: number | false;
}

/** Checks a policy's numbers: bad input changes nothing. */
export function checkPolicy(p: CompactionPolicy): { horizonMs: number; graceMs: number; everyMs: number | false | undefined } {
  const horizonDays = p.horizonDays ?? DEFAULT_HORIZON_DAYS;
  const graceHours = p.graceHours ?? DEFAULT_GRACE_HOURS;
  if (typeof horizonDays !== 'number' || !(horizonDays > 0))
    throw new KithError(ErrorCode.BadInput, `the compaction horizon must be a positive number of days, not ${String(horizonDays)}`);
  if (typeof graceHours !== 'number' || !(graceHours >= 0) || !Number.isFinite(graceHours))
    throw new KithError(ErrorCode.BadInput, `the compaction grace period must be a number of hours ≥ 0, not ${String(graceHours)}`);
  const every = p.everyHours;
  if (every !== undefined && every !== false && (typeof every !== 'number' || !(every > 0) || !Number.isFinite(every)))
    throw new KithError(ErrorCode.BadInput, `the compaction interval must be a positive number of hours or false, not ${String(every)}`);
  return { horizonMs: horizonDays * DAY, graceMs: graceHours * HOUR, everyMs: every === undefined || every === false ? every : every * HOUR };
}

/** How often this device compacts by itself (ms), or false: an explicit interval wins, else it follows automatic snapshots. */
export function autoCompactEvery(policy: CompactionPolicy, snapshotsByThemselves: boolean): number | false {
  const { everyMs } = checkPolicy(policy);
  if (everyMs !== undefined) return everyMs;
  return snapshotsByThemselves ? DEFAULT_COMPACT_EVERY_HOURS * HOUR : false;
}
