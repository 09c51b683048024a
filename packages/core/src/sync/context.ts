/**
 * @module sync/context
 * What push and pull need from an open vault.
 */
import type { Deps } from '../base/deps.js';
import type { Remote } from '../ports/remote.js';
import type { Store } from '../ports/store.js';
import type { DeviceRegistry } from '../identity/registry.js';
import type { EpochContext } from '../identity/epochs.js';
import type { Op } from '../model/ops.js';

export interface EngineContext extends EpochContext {
  readonly store: Store;
  readonly remote: Remote;
  readonly deps: Deps;
  readonly vaultId: string;
  readonly deviceId: string;
  readonly signSeed: Uint8Array;
  readonly boxSecret: Uint8Array;
  /** Epoch keys this device holds (new segments use `registry.epoch`). */
  readonly epochKeys: ReadonlyMap<number, Uint8Array>;
  readonly registry: DeviceRegistry;
  /** A newest remote head older than this (ms) is reported as a warning (see sync/staleness). */
  readonly staleAfterMs: number;
  /** Keeps a newly obtained epoch key, in memory and in the store. */
  rememberEpochKey(epoch: number, key: Uint8Array): Promise<void>;
  /** Saves the registry's verified state to the store. */
  saveRegistry(): Promise<void>;
  progress(p: SyncProgress): void;
  /** Runs before a new segment of these ops is built and uploaded (re-uploads blobs they reference). */
  beforeSegment?(ops: readonly Op[], signal?: AbortSignal): Promise<void>;
}

/** Ops per segment at most; a push of more writes several segments and one head. */
export const MAX_OPS_PER_SEGMENT = 10_000;
/** Payload bytes (JSON, before compression) per segment, soft limit. */
export const TARGET_SEGMENT_BYTES = 8 * 1024 * 1024;
/** Segments fetched in parallel during a pull. */
export const PULL_CONCURRENCY = 4;
/** Segments asked for in one batched read on remotes with `getMany` (each is at most ~8 MiB before compression). */
export const PULL_BATCH = 16;
/**
 * Ops a pull applies in one write transaction at most (a segment with more
 * is applied alone): a replay holds the decoded ops of that much, not of a
 * whole fetched batch (up to {@link PULL_BATCH} segments of 10,000 ops).
 */
export const PULL_APPLY_OPS = MAX_OPS_PER_SEGMENT;

/** Progress of a push or pull, for progress bars. */
export interface SyncProgress {
  readonly phase: 'push' | 'pull';
  /** Units done and total (segments), total 0 when unknown. */
  readonly done: number;
  readonly total: number;
  /** Device whose changes are being pulled. */
  readonly device?: string;
}
