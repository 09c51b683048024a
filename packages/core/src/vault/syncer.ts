/**
 * @module vault/syncer
 * Moving ciphertext: push, pull and sync (one at a time per instance),
 * the remote check, and the status the store records of them.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import type { SyncWarning } from '../base/warnings.js';
import { conflictCount } from '../model/merge.js';
import { isReservedCollection } from '../model/names.js';
import { META, readMeta, requireVault, writeMeta, type StatusMeta } from '../ports/store-meta.js';
import type { EngineContext } from '../sync/context.js';
import { pull, SEGMENT_MISSING, type PullOutcome } from '../sync/pull.js';
import { push } from '../sync/push.js';
import { deviceStatuses } from '../sync/staleness.js';
import type { CheckOptions, CheckReport } from '../check/index.js';
import type { AutoCompactOutcome, ChunkStore, CompactResult, SnapshotResult } from '../snapshot/index.js';
import { autoCompactEvery } from '../snapshot/compact-options.js';
import type { Records } from './records.js';
import type { VaultSession } from './session.js';
import type { HeadsRead } from '../identity/heads-read.js';
import { listHeads } from '../sync/remote-heads.js';
import type { SyncResult, VaultStatus } from './vault-types.js';
import type { SpaceHub } from './spaces/hub.js';

type Call = { signal?: AbortSignal };
/** Options of `compact()`: the grace period may be given per call; the horizon is the vault's policy. */
export interface CompactCall extends Call {
  readonly graceHours?: number;
  readonly dryRun?: boolean;
  readonly onProgress?: (p: { done: number; total: number }) => void;
}

/** The snapshot code, loaded when a sync first needs it (a page that only opens, writes and lists never fetches it). */
const snapshots = (): Promise<typeof import('../snapshot/index.js')> => import('../snapshot/index.js');

export class Syncer {
  readonly #s: VaultSession;
  readonly #records: Records;
  /** Runs after every pull (retention: expire what is due, apply floors other devices published). */
  readonly #afterPull: () => Promise<unknown>;
  /** The shared spaces this device keeps: synced after the personal space. */
  readonly #spaces: Pick<SpaceHub, 'syncAll'> | undefined;

  constructor(session: VaultSession, records: Records, afterPull: () => Promise<unknown> = async () => undefined, spaces?: Pick<SpaceHub, 'syncAll'>) {
    this.#s = session;
    this.#records = records;
    this.#afterPull = afterPull;
    this.#spaces = spaces;
  }

  async push(o: Call = {}): Promise<SyncResult> {
    return this.#connected(async (ctx) => {
      const pushed = await push(ctx, o.signal);
      await this.#releaseHolds(o.signal);
      const spaces = await this.#syncSpaces({ pull: false, push: true }, o.signal);
      const warnings = spaces.warnings;
      return { pushed: pushed + spaces.pushed, pulled: 0, conflicts: await this.#records.conflictTotal(), ...(warnings.length > 0 ? { warnings } : {}) };
    });
  }

  async pull(o: Call = {}): Promise<SyncResult> {
    return this.#connected(async (ctx) => {
      const { pulled, warnings } = await this.#pullOnce(ctx, o.signal);
      const spaces = await this.#syncSpaces({ pull: true, push: false }, o.signal);
      warnings.push(...spaces.warnings);
      return { pushed: 0, pulled: pulled + spaces.pulled, conflicts: await this.#records.conflictTotal(), ...(warnings.length > 0 ? { warnings } : {}) };
    });
  }

  async sync(o: Call = {}): Promise<SyncResult> {
    return this.#connected(async (ctx) => {
      const { pulled, warnings } = await this.#pullOnce(ctx, o.signal);
      const pushed = await push(ctx, o.signal);
      await this.#releaseHolds(o.signal);
      // An optimisation only: a snapshot that fails now (its code not loaded included) is tried again after a later sync.
      if (this.#s.snapshotEvery !== false) {
        await snapshots()
          .then(({ maybeSnapshot }) => maybeSnapshot(ctx, this.#s.blobs, this.#s.snapshotEvery, () => push(ctx, o.signal), o.signal))
          .catch(() => undefined);
      }
      const compacted = await this.#maybeCompact(ctx, o.signal);
      if (compacted?.warning) warnings.push(compacted.warning);
      const spaces = await this.#syncSpaces({ pull: true, push: true }, o.signal);
      warnings.push(...spaces.warnings);
      const result = {
        pushed: pushed + spaces.pushed,
        pulled: pulled + spaces.pulled,
        conflicts: await this.#records.conflictTotal(),
        ...(warnings.length > 0 ? { warnings } : {}),
      };
      this.#s.events.emit('synced', result);
      return result;
    });
  }

  /** Holds are an upkeep: one that fails to go now goes after a later push, or with this device's GC. */
  async #releaseHolds(signal?: AbortSignal): Promise<void> {
    await this.#s.blobs.releaseHolds(signal).catch((e: unknown) => {
      if (signal?.aborted) throw e;
    });
  }

  /** The spaces this device keeps, after the personal space (whose directory lists them). */
  async #syncSpaces(how: { pull: boolean; push: boolean }, signal?: AbortSignal): Promise<{ pushed: number; pulled: number; warnings: SyncWarning[] }> {
    return this.#spaces ? this.#spaces.syncAll(how, signal) : { pushed: 0, pulled: 0, warnings: [] };
  }

  /** Compaction when it is due (see snapshot/auto-compact); its failures come back as a warning, never as the sync's. */
  async #maybeCompact(ctx: EngineContext, signal?: AbortSignal): Promise<AutoCompactOutcome | undefined> {
    const every = autoCompactEvery(this.#s.compaction, this.#s.snapshotEvery !== false);
    if (every === false) return undefined;
    const gc = (): Promise<unknown> => this.#s.blobs.gc(signal ? { signal } : {});
    // Like the automatic snapshot, an optimisation only: code that fails to load is tried again after a later sync.
    const code = await snapshots().catch(() => undefined);
    return code?.maybeCompact(ctx, this.#s.compaction, every, gc, signal);
  }

  /** Syncs, then writes a snapshot of the state (see snapshot/write). */
  async snapshot(o: Call = {}): Promise<SnapshotResult> {
    return this.#connected(async (ctx) => {
      const before = async (): Promise<void> => {
        await this.#pullOnce(ctx, o.signal);
        await push(ctx, o.signal);
      };
      const { writeSnapshot, noteSnapshot } = await snapshots();
      const result = await writeSnapshot(ctx, this.#s.blobs, before, o.signal);
      await noteSnapshot(ctx, result.snapshot, result.segments);
      return result;
    });
  }

  /**
   * Syncs, then compacts the remote (see snapshot/compact); when old
   * snapshots went, blob GC marks their chunks (deleted by a later GC).
   */
  async compact(o: CompactCall = {}): Promise<CompactResult> {
    return this.#connected(async (ctx) => {
      await this.#pullOnce(ctx, o.signal);
      await push(ctx, o.signal);
      const { compactRemote } = await snapshots();
      const result = await compactRemote(ctx, { ...this.#s.compaction, ...o });
      if (o.dryRun !== true && result.deleted > 0) await this.#s.blobs.gc(o.signal ? { signal: o.signal } : {});
      return result;
    });
  }

  async check(o: CheckOptions = {}): Promise<CheckReport> {
    const ctx = await this.#s.connect();
    // Loaded on first use: a page that only reads and writes records never fetches the checker.
    const { checkRemote } = await import('./on-demand.js');
    return checkRemote(ctx, await this.#s.blobs.referenced(), o);
  }

  async status(): Promise<VaultStatus> {
    return this.#s.store.read(async (tx) => {
      const { vault, device } = await requireVault(tx);
      const status = await readMeta<StatusMeta>(tx, META.status);
      const conflicted = await tx.listConflicted();
      return {
        vaultId: vault.vaultId,
        deviceId: device.deviceId,
        deviceName: device.name,
        remote: vault.remoteUrl,
        pending: await tx.countOutbox(),
        lastPush: status?.lastPush ?? null,
        lastPull: status?.lastPull ?? null,
        conflicts: conflicted.reduce((n, r) => n + (isReservedCollection(r.collection) ? 0 : conflictCount(r)), 0),
        caughtUp: status?.caughtUp ?? false,
        devices: await deviceStatuses(tx, this.#s.ctx.registry, device.deviceId),
      };
    });
  }

  /** Runs after this instance's other remote work, with the remote open (a failed open fails this call, and the next one tries again). */
  #connected<T>(fn: (ctx: EngineContext) => Promise<T>): Promise<T> {
    return this.#s.exclusive(async () => fn(await this.#s.connect()));
  }

  async #pullOnce(ctx: EngineContext, signal?: AbortSignal): Promise<{ pulled: number; warnings: SyncWarning[] }> {
    const store = this.#s.store;
    const wasCaughtUp = (await store.read((tx) => readMeta<StatusMeta>(tx, META.status)))?.caughtUp ?? false;
    // A device that has pulled nothing yet starts from the newest valid snapshot, if there is one.
    const prefetch = this.#s.snapshotPrefetch;
    this.#s.snapshotPrefetch = undefined;
    // After a restore or pairing: one listing of the heads for the bootstrap and the pull both, reading only heads that moved since.
    const known = this.#s.headsRead;
    this.#s.headsRead = undefined;
    const heads = known && !wasCaughtUp ? await listHeads(ctx, known, signal) : undefined;
    const boot = wasCaughtUp ? undefined : await (await snapshots()).bootstrapFromSnapshot(ctx, this.#s.blobs, signal, prefetch, heads);
    const { outcome, merged } = await pullPastCompaction(ctx, this.#s.blobs, signal, heads);
    for (const c of [...(boot?.applied?.collections ?? []), ...merged]) outcome.collections.add(c);
    outcome.warnings.unshift(...(boot?.warnings ?? []));
    await this.#afterPull();
    if (outcome.collections.size > 0) this.#s.events.emit('change', { collections: [...outcome.collections], source: 'remote' });
    if (!wasCaughtUp && outcome.complete) {
      await store.write(async (tx) => {
        const status = await readMeta<StatusMeta>(tx, META.status);
        await writeMeta<StatusMeta>(tx, META.status, { lastPush: null, lastPull: null, ...status, caughtUp: true });
      });
      this.#s.events.emit('caughtUp', { changes: outcome.pulled });
    }
    return { pulled: outcome.pulled, warnings: outcome.warnings };
  }
}

/** Snapshots merged at most per pull: each moves some cursor forward, so this only bounds a remote that keeps failing. */
const MAX_MERGES = 3;

/**
 * Pulls; when a segment this device needs is missing, merges the newest
 * valid snapshot ahead of its cursors (compaction deleted what it covers:
 * see snapshot/merge) and pulls again, a few times at most (a snapshot
 * written by a device that lagged may not reach far enough). A segment
 * missing with no snapshot ahead to explain it, while snapshots exist, is
 * withheld.
 */
async function pullPastCompaction(
  ctx: EngineContext,
  chunks: ChunkStore,
  signal?: AbortSignal,
  heads?: HeadsRead,
): Promise<{ outcome: PullOutcome; merged: string[] }> {
  const merged = new Set<string>();
  for (let merges = 0; ; merges++) {
    try {
      // The heads read for this pull stand for its first attempt only: after a merge, they are read again.
      return { outcome: await pull(ctx, signal, merges === 0 ? heads : undefined), merged: [...merged] };
    } catch (e) {
      if (!KithError.is(e) || e.reason !== SEGMENT_MISSING) throw e;
      const merge = merges < MAX_MERGES ? await (await snapshots()).mergeSnapshot(ctx, chunks, signal) : { anyListed: true };
      if (!merge.applied) throw merge.anyListed ? withheld(e) : e;
      for (const c of merge.applied.collections) merged.add(c);
    }
  }
}

const withheld = (e: KithError): KithError =>
  new KithError(ErrorCode.IntegrityWithheld, `${e.message}, above what every snapshot on the remote covers`, {
    hint: 'compaction never deletes a segment no snapshot covers: the remote lost or withholds it (nothing after it was applied)',
    reason: SEGMENT_MISSING,
  });
