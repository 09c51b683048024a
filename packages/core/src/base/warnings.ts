/**
 * @module warnings
 * What a restore, join, pull or sync noticed that is not an error but may
 * need the person's attention: signs that the remote serves an old state
 * (see sync/staleness). Like error codes, warning codes are stable.
 */

/** Stable codes of the warnings a restore, join, pull or sync may return. */
export const WarningCode = {
  /** The newest head on the remote is older than the staleness threshold. */
  StaleRemote: 'KITH_STALE_REMOTE',
  /** The remote served a head older than one this device had already seen (its own or another device's). */
  OldHead: 'KITH_STALE_HEAD',
  /** The device registry records a revocation newer than every head on the remote. */
  HeadsBehindRegistry: 'KITH_STALE_HEADS',
  /** A snapshot on the remote failed its checks; the device bootstrapped without it (an older one, or the full history). */
  SnapshotRefused: 'KITH_SNAPSHOT_REFUSED',
  /** Compaction run by a sync failed; the sync itself succeeded and compaction is tried again later. */
  CompactionFailed: 'KITH_COMPACTION_FAILED',
  /** This person is no longer a member of a shared space (an admin removed them, or another of their devices left): said once, then the space is not synced. */
  Removed: 'KITH_REMOVED',
} as const;
export type WarningCode = (typeof WarningCode)[keyof typeof WarningCode];

/** Something a sync noticed that is not an error but may need the person's attention. */
export interface SyncWarning {
  readonly code: WarningCode;
  /** One line: what was seen. */
  readonly message: string;
  /** What to do about it. */
  readonly hint: string;
}
