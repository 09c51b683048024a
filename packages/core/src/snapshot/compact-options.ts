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

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** When compaction may delete: a vault-wide policy every device should be given alike. */
export interface CompactionPolicy {
  /** A device whose newest head is older than this stops holding compaction back (default 90). */
  readonly horizonDays?: number;
  /** A snapshot must be this old before the segments it covers are deleted (default 24). */
  readonly graceHours?: number;
}

/** Checks a policy's numbers: bad input changes nothing. */
export function checkPolicy(p: CompactionPolicy): { horizonMs: number; graceMs: number } {
  const horizonDays = p.horizonDays ?? DEFAULT_HORIZON_DAYS;
  const graceHours = p.graceHours ?? DEFAULT_GRACE_HOURS;
  if (typeof horizonDays !== 'number' || !(horizonDays > 0))
    throw new KithError(ErrorCode.BadInput, `the compaction horizon must be a positive number of days, not ${String(horizonDays)}`);
  if (typeof graceHours !== 'number' || !(graceHours >= 0) || !Number.isFinite(graceHours))
    throw new KithError(ErrorCode.BadInput, `the compaction grace period must be a number of hours ≥ 0, not ${String(graceHours)}`);
  return { horizonMs: horizonDays * DAY, graceMs: graceHours * HOUR };
}
