/**
 * @module vault/session
 * What the subsystems of one open vault share: its store, its remote
 * (opened on first need), the sync engine's context, its events, and the
 * lock that orders this instance's remote work.
 */
import { lendDeviceKey } from '../ports/capabilities.js';
import { ErrorCode, KithError } from '../base/errors.js';
import type { Deps } from '../base/deps.js';
import type { SyncWarning } from '../base/warnings.js';
import type { BlobCache } from '../ports/blob-cache.js';
import type { Remote } from '../ports/remote.js';
import type { Store } from '../ports/store.js';
import { META, b64, readMeta, unb64, writeMeta } from '../ports/store-meta.js';
import { deviceKeyOf } from '../identity/device-key.js';
import { DeviceRegistry } from '../identity/registry.js';
import type { JoinedState } from '../identity/join.js';
import { sealEpochValue } from '../identity/local-keys.js';
import type { EngineContext } from '../sync/context.js';
import { checkStaleAfter } from '../sync/staleness.js';
import { Blobs, refsIn } from '../blobs/blobs.js';
import { DEFAULT_SNAPSHOT_EVERY, type SnapshotEvery } from '../snapshot/options.js';
import { checkPolicy, type CompactionPolicy } from '../snapshot/compact-options.js';
import { VaultEmitter } from './events.js';
import { checkHistoryDays } from './history-policy.js';
import { RemoteSlot, type RemoteSource } from './remote-slot.js';
import type { SnapshotPrefetch } from '../snapshot/prefetch.js';
import type { HeadsRead } from '../identity/heads-read.js';
import type { SpaceRemotes } from './vault-types.js';

export interface SessionOptions {
  readonly blobCache?: BlobCache | undefined;
  readonly staleAfterMs?: number | undefined;
  readonly snapshotEvery?: SnapshotEvery | undefined;
  readonly historyDays?: number | undefined;
  readonly compaction?: CompactionPolicy | undefined;
  readonly spaceRemotes?: SpaceRemotes | undefined;
  readonly spaceStore?: ((spaceId: string) => Promise<Store>) | undefined;
}

export class VaultSession {
  readonly store: Store;
  readonly deps: Deps;
  readonly ctx: EngineContext;
  readonly slot: RemoteSlot;
  readonly events = new VaultEmitter();
  readonly blobs: Blobs;
  /** Days of local history kept (see history-policy.ts). */
  readonly historyDays: number;
  /** What `restore` or `join` noticed about the remote when this device joined. */
  readonly warnings: readonly SyncWarning[];
  /** Seals epoch keys written to the store when the device's secrets are passphrase-protected. */
  localKey: Uint8Array | undefined;
  /** When a sync also writes a snapshot (see snapshot/auto). */
  readonly snapshotEvery: SnapshotEvery;
  /** When `compact()` may delete (see snapshot/compact). */
  readonly compaction: CompactionPolicy;
  /** Where shared spaces live and are kept locally (see VaultOptions.spaceRemotes, spaceStore). */
  readonly spaceOptions: Pick<SessionOptions, 'spaceRemotes' | 'spaceStore'>;
  /** What `restore` read ahead for the first pull's snapshot bootstrap (see snapshot/prefetch); taken by it. */
  snapshotPrefetch: SnapshotPrefetch | undefined;
  /** The heads `restore` or `join` read (see identity/heads-read); taken by the first pull. */
  headsRead: HeadsRead | undefined;
  /** Serializes push/pull of this instance (other processes are safe through the store). */
  #syncing: Promise<unknown> = Promise.resolve();
  readonly #blobCache: BlobCache | undefined;

  constructor(
    store: Store,
    remote: RemoteSource,
    o: SessionOptions,
    deps: Deps,
    j: Omit<JoinedState, 'caughtUp'>,
    localKey: Uint8Array | undefined,
    warnings: readonly SyncWarning[] = [],
  ) {
    this.store = store;
    this.#blobCache = o.blobCache;
    this.deps = deps;
    this.localKey = localKey;
    this.snapshotEvery = o.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY;
    this.warnings = warnings;
    this.historyDays = checkHistoryDays(o.historyDays);
    checkPolicy(o.compaction ?? {});
    this.compaction = o.compaction ?? {};
    this.spaceOptions = { spaceRemotes: o.spaceRemotes, spaceStore: o.spaceStore };
    const vaultId = j.vault.vaultId;
    const deviceId = j.device.deviceId;
    const signSeed = unb64(j.device.signSeed);
    const registry = new DeviceRegistry(vaultId, j.registry);
    // The public key the registry holds for this device (its own, checked when it joined): no curve arithmetic at open.
    const signPub = (): Uint8Array => registry.deviceSignPub(deviceId) ?? new Uint8Array(0);
    this.slot = new RemoteSlot(remote, (r) => lendDeviceKey(r, deviceKeyOf(vaultId, deviceId, signSeed, signPub)));
    const slot = this.slot;
    const epochKeys = new Map(Object.entries(j.epochs).map(([k, v]) => [Number(k), unb64(v)] as const));
    this.ctx = {
      store,
      // Every path that reaches the remote goes through `connect()` first.
      get remote(): Remote {
        if (!slot.current) throw new KithError(ErrorCode.Internal, 'the remote was used before it was opened');
        return slot.current;
      },
      deps,
      vaultId,
      deviceId,
      signSeed,
      boxSecret: unb64(j.device.boxSecret),
      epochKeys,
      registry,
      staleAfterMs: checkStaleAfter(o.staleAfterMs),
      rememberEpochKey: async (epoch, key) => {
        epochKeys.set(epoch, key);
        await store.write(async (tx) => {
          const saved = (await readMeta<Record<string, string>>(tx, META.epochs)) ?? {};
          const value = this.localKey ? await sealEpochValue(this.localKey, b64(key), deps.random) : b64(key);
          await writeMeta(tx, META.epochs, { ...saved, [epoch]: value });
        });
      },
      saveRegistry: () => store.write((tx) => writeMeta(tx, META.registry, registry.state)),
      progress: (p) => this.events.emit('progress', p),
      // A blob the remote collected while this device was offline is re-uploaded before a reference to it.
      beforeSegment: async (ops, signal) => {
        const refs = new Set<string>();
        for (const op of ops) refsIn(op.s, refs);
        if (refs.size > 0) await this.blobs.ensureUploaded(refs, signal);
      },
    };
    this.blobs = new Blobs(
      this.ctx,
      o.blobCache,
      () => this.connect(),
      async (signal) => (await import('../snapshot/index.js')).snapshotChunkIds(this.ctx, signal),
    );
  }

  /** The engine context with the remote open (opened now if need be). */
  async connect(): Promise<EngineContext> {
    await this.slot.open();
    return this.ctx;
  }

  /** Runs `fn` after this instance's earlier remote work, whatever its outcome. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#syncing.catch(() => undefined).then(fn);
    this.#syncing = run;
    return run;
  }

  /** Waits for remote work under way, then closes the store, the blob cache and the remote. */
  async close(): Promise<void> {
    await this.#syncing.catch(() => undefined);
    await this.store.close();
    await this.#blobCache?.close?.();
    await this.slot.close();
  }
}
