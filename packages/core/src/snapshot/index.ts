/**
 * @module snapshot
 * Snapshots of the merged state (docs/FORMAT.md "Snapshot"): writing
 * them, by hand or as history accumulates, and bootstrapping from them.
 */
export { writeSnapshot, type SnapshotResult } from './write.js';
export { bootstrapFromSnapshot, type BootstrapOutcome } from './bootstrap.js';
export { maybeSnapshot, noteSnapshot, snapshotChunkIds } from './auto.js';
export { DEFAULT_SNAPSHOT_EVERY, type SnapshotEvery } from './options.js';
export type { ChunkStore } from './chunks.js';
export { mergeSnapshot, type MergeOutcome } from './merge.js';
export { maybeCompact, type AutoCompactOutcome } from './auto-compact.js';
export { compactRemote, planCompaction, type CompactOptions, type CompactResult } from './compact.js';
