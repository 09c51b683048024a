/**
 * @module snapshot/options
 * When a device writes snapshots on its own. A module of its own so that the
 * Vault reads the option without loading the snapshot code, which a page
 * fetches only when a sync needs it.
 */

/** When a device writes a snapshot on its own: `false`, never; else after this many segments beyond the newest snapshot. */
export type SnapshotEvery = false | { readonly segments: number };
/** The default: about a thousand segments (a few thousand writes at least) between snapshots. */
export const DEFAULT_SNAPSHOT_EVERY: SnapshotEvery = { segments: 1000 };
