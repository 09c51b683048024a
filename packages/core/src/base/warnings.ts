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
  /**
   * A member's device refused another device's segment or head in a shared
   * space (a reader's or removed member's write, a cut device's, a bad
   * signature or chain): nothing of that device past it is applied, every
   * other device's changes are. Said once per refused object.
   */
  SpaceRefused: 'KITH_SPACE_REFUSED',
} as const;
export type WarningCode = (typeof WarningCode)[keyof typeof WarningCode];

/** Something a sync noticed that is not an error but may need the person's attention. */
export interface SyncWarning {
  readonly code: WarningCode;
  /** One line: what was seen. */
  readonly message: string;
  /** What to do about it. */
  readonly hint: string;
  /** The shared space it concerns (its spaceId), for warnings of a space. */
  readonly space?: string;
  /** KITH_SPACE_REFUSED: the device whose object was refused. */
  readonly device?: string;
  /** KITH_SPACE_REFUSED: that device's person, when a certificate of the space names it. */
  readonly person?: string;
  /** KITH_SPACE_REFUSED: the number of the refused segment in that device's chain. */
  readonly seq?: number;
  /** KITH_SPACE_REFUSED: why, as the refusal's error code (`KITH_INTEGRITY_…`, `KITH_FORBIDDEN`) and reason. */
  readonly error?: string;
  readonly reason?: string;
}
