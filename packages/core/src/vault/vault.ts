/**
 * @module vault
 * The Vault: Kith's public API, a facade over its subsystems (lifecycle,
 * records, devices, blobs, sync, auto-sync) that share one session.
 * Writes go to the local store in one transaction and return; the network
 * only moves ciphertext, on `push`, `pull`, `sync` or auto-sync.
 *
 * @example
 * const { vault, recoveryCode } = await Vault.create({ store, remote, remoteUrl });
 * await vault.put('notes', 'n1', { title: 'Hello' });
 * await vault.sync();
 */
import type { SyncWarning } from '../base/warnings.js';
import type { JsonObject } from '../model/json.js';
import type { LogEntry, Store } from '../ports/store.js';
import type { Blobs } from '../blobs/blobs.js';
import type { CheckOptions, CheckReport } from '../check/index.js';
import type { CompactResult, SnapshotResult } from '../snapshot/index.js';
import { AutoSyncs, type AutoSync } from './auto-sync.js';
import { Collection, type RecordSchema } from './collection.js';
import { Devices } from './devices.js';
import { deliveryOf, type DeviceDelivery } from './delivery.js';
import { openVault, readConfig } from './open.js';
import { exportRecords, type ExportPage } from './export.js';
import type { BackupOptions, BackupResult } from './backup.js';
import type { BackupRestoreResult, RestoreFromBackupOptions } from './backup-restore.js';
import { Records } from './records.js';
import { Retention, type RetentionRule } from './retention.js';
import { historyPrunedBefore, pruneHistory } from './history-policy.js';
import { withOpenedRemote } from './remote-slot.js';
import type { VaultSession } from './session.js';
import { Syncer, type CompactCall } from './syncer.js';
import { LazySpaceHub } from './spaces/lazy-hub.js';
import { SpaceRecords } from './spaces/space-records.js';
import { Spaces } from './spaces/spaces.js';
import type {
  BatchWriter,
  Conflict,
  Doc,
  JoinOptions,
  ListPage,
  ListQuery,
  NewVaultOptions,
  Resolution,
  RestoreVaultOptions,
  StoredVaultConfig,
  SyncResult,
  VaultEvents,
  VaultOptions,
  VaultStatus,
} from './vault-types.js';

type Call = { signal?: AbortSignal };

/** Create, restore and join, loaded when first called (with the other on-demand code): a returning device only opens, and its page fetches none of them. */
const onDemand = (): Promise<typeof import('./on-demand.js')> => import('./on-demand.js');

export class Vault {
  readonly vaultId: string;
  readonly deviceId: string;
  /** Attachments: `vault.blobs.put(bytes | stream)` → a ref to store in a record; `vault.blobs.get(ref)` → a stream. */
  readonly blobs: Blobs;
  /** The vault's devices and ways back in: list, rename, revoke, pair, password, recovery code. */
  readonly devices: Devices;
  /** The shared spaces this person is in: create, list, invite, join, members, roles, leave, selective sync. */
  readonly spaces: Spaces;
  readonly #s: VaultSession;
  readonly #hub: LazySpaceHub;
  readonly #records: Records;
  readonly #retention: Retention;
  readonly #sync: Syncer;
  readonly #autoSync: AutoSyncs;

  private constructor(session: VaultSession) {
    this.#s = session;
    this.vaultId = session.ctx.vaultId;
    this.deviceId = session.ctx.deviceId;
    this.blobs = session.blobs;
    this.devices = new Devices(session);
    this.#records = new Records(session);
    this.#retention = new Retention(session, this.#records);
    this.#hub = new LazySpaceHub(session, this.#records);
    this.spaces = new Spaces(this.#hub);
    this.#sync = new Syncer(session, this.#records, () => this.#upkeep(), this.#hub);
    this.#autoSync = new AutoSyncs({
      sync: (o) => this.sync(o),
      events: session.events,
      watch: (prefix, fn) => session.slot.watch(prefix, fn),
      watchSpaces: (on) => this.#hub.watch(on),
    });
  }

  /**
   * What `restore` or `join` noticed about the remote when this device
   * joined: signs that it served an old state (see {@link SyncWarning}).
   * Empty for `create` and `open`; `pull` and `sync` return their own.
   */
  get warnings(): readonly SyncWarning[] {
    return this.#s.warnings;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Reads the home's vault identity without touching the remote (undefined if none). */
  static readConfig(store: Store): Promise<StoredVaultConfig | undefined> {
    return readConfig(store);
  }

  /**
   * Creates a new vault on an empty remote, with this store as its first
   * device. Returns the recovery code: show it once; it is the only way
   * back in if every device is lost.
   */
  static async create(o: NewVaultOptions): Promise<{ vault: Vault; recoveryCode: string }> {
    const { createVault } = await onDemand();
    const { session, recoveryCode } = await withOpenedRemote(o.remote, (remote) => createVault(o, remote));
    return { vault: new Vault(session), recoveryCode };
  }

  /**
   * Joins an existing vault as a new device with the recovery code or the
   * vault password. The device gets keys of its own. Nothing is written to
   * the store unless every check passed, so a failed restore leaves the
   * home reusable.
   */
  static async restore(o: RestoreVaultOptions): Promise<Vault> {
    const { restoreVault } = await onDemand();
    return new Vault(await withOpenedRemote(o.remote, (remote) => restoreVault(o, remote)));
  }

  /**
   * Joins an existing vault with a pairing code from one of its devices
   * (`vault.devices.pair()` there). Both sides show the same short
   * authentication string; the inviting device admits this one after its
   * user confirms.
   */
  static async join(o: JoinOptions): Promise<Vault> {
    const { joinVault } = await onDemand();
    return new Vault(await withOpenedRemote(o.remote, (remote) => joinVault(o, remote)));
  }

  /**
   * Recreates a vault from a backup (`vault.backup()`) on a new, empty
   * remote, keeping its id, registry and recovery key, with this store as a
   * new device; pushes the records before it returns. Other devices join
   * it again by pairing. Every file is verified before anything is written.
   */
  static async restoreFromBackup(o: RestoreFromBackupOptions): Promise<{ vault: Vault; restored: BackupRestoreResult }> {
    const { restoreFromBackup } = await onDemand();
    const { session, result } = await withOpenedRemote(o.remote, (remote) => restoreFromBackup(o, remote));
    const vault = new Vault(session);
    try {
      await vault.push();
    } catch (e) {
      await vault.close(); // the store holds the restored vault: a later sync sends what this push could not
      throw e;
    }
    return { vault, restored: result };
  }

  /** Opens the vault this store holds (KITH_NO_VAULT if none); the remote is opened when first needed. */
  static async open(o: VaultOptions): Promise<Vault> {
    const vault = new Vault(await openVault(o));
    await vault.#upkeep().catch(async (e: unknown) => {
      await vault.close();
      throw e;
    });
    return vault;
  }

  /**
   * Seals this device's private keys and epoch keys in its store under a
   * local passphrase (Argon2id), or with `null` stores them unsealed again.
   */
  async setLocalPassphrase(passphrase: string | null): Promise<void> {
    const { setLocalPassphrase } = await onDemand();
    return setLocalPassphrase(this.#s, passphrase);
  }

  /** Stops auto-sync and closes the store, the blob cache and the remote (if it was opened). */
  async close(): Promise<void> {
    await this.#autoSync.stopAll();
    await this.#hub.close();
    await this.#s.close();
  }

  // ---------------------------------------------------------------- records

  /**
   * One shared space's records and blobs (by name or spaceId), with the
   * same calls as the vault's own. The space is looked up on the first call.
   */
  space(space: string): SpaceRecords {
    return new SpaceRecords(() => this.#hub.host(space));
  }

  /** Replaces a record (fields not given are removed). */
  async put(collection: string, id: string, fields: JsonObject): Promise<void> {
    await this.#records.write([{ kind: 'put', collection, id, fields }]);
  }

  /** Sets the given top-level fields (an `undefined` value removes one), keeping the others; KITH_NOT_FOUND unless the record exists. */
  async patch(collection: string, id: string, fields: JsonObject): Promise<void> {
    await this.#records.write([{ kind: 'patch', collection, id, fields }]);
  }

  /** Deletes a record (KITH_NOT_FOUND if it does not exist). */
  async delete(collection: string, id: string): Promise<void> {
    await this.#records.write([{ kind: 'delete', collection, id }]);
  }

  /** Several writes in one transaction: all or nothing. Returns how many. */
  batch(fn: (b: BatchWriter) => void): Promise<number> {
    return this.#records.batch(fn);
  }

  get(collection: string, id: string): Promise<Doc | undefined> {
    return this.#records.get(collection, id);
  }

  /** A page of a collection's records, filtered and ordered. */
  list(collection: string, q: ListQuery = {}): Promise<ListPage> {
    return this.#records.list(collection, q);
  }

  /**
   * Calls `fn` with the query's records now and after every change to the
   * collection (local or synced). Returns a function that unsubscribes.
   */
  subscribe(collection: string, q: ListQuery, fn: (records: Doc[]) => void): () => void {
    return this.#records.subscribe(collection, q, fn);
  }

  /**
   * A collection whose writes are validated by a Standard Schema (zod,
   * valibot, arktype, …): a refused value throws KITH_SCHEMA and writes nothing.
   */
  collection<S extends RecordSchema>(name: string, schema: S): Collection<S> {
    return new Collection(this, name, schema);
  }

  /** Fields (or records) that concurrent writes left in conflict, in one collection or all. */
  conflicts(collection?: string): Promise<Conflict[]> {
    return this.#records.conflicts(collection);
  }

  /** Resolves a record's conflicts (one field, or all); the choice syncs like any write. */
  resolve(collection: string, id: string, field: string | null | undefined, how: Resolution): Promise<void> {
    return this.#records.resolve(collection, id, field, how);
  }

  /** Every live record, a page at a time, collection by collection (for exports: `kith export`). */
  exportRecords(): AsyncIterable<ExportPage> {
    return exportRecords(this.#s, this.#records);
  }

  /**
   * Writes one encrypted backup file of the vault through `o.write`: its
   * records, registry and keys (the recovery code alone opens it), and its
   * blobs unless `blobs: false`; with `previous`, only what changed since
   * that backup. Restore it with {@link Vault.restoreFromBackup}.
   */
  async backup(o: BackupOptions): Promise<BackupResult> {
    const { backupVault } = await onDemand();
    return backupVault(this.#s, this.#records, o);
  }

  /**
   * The history of record changes this device holds (local and pulled),
   * filtered; the engine's reserved `_kith.` collections only with
   * `reserved: true`.
   */
  log(filter: { collection?: string; id?: string; limit?: number; reserved?: boolean } = {}): Promise<LogEntry[]> {
    return this.#records.log(filter);
  }

  /**
   * Sets how long records of `collection` live after their newest write
   * (`{ days }`), or turns retention off (`null`), for every device of the
   * vault: the rule syncs like a record, and whichever device notices an
   * expired record deletes it everywhere (on open and on every sync).
   */
  setRetention(collection: string, rule: { days: number } | null): Promise<void> {
    return this.#retention.set(collection, rule);
  }

  /** Where this device pruned its history (`log` shows nothing older), as an ISO time, or null. */
  historyPrunedBefore(): Promise<string | null> {
    return historyPrunedBefore(this.#s.store);
  }

  /** On open and after every pull: retention expiry, then history pruning. */
  async #upkeep(): Promise<void> {
    await this.#retention.run();
    await pruneHistory(this.#s.store, this.#s.deps.now(), this.#s.historyDays);
  }

  /** The retention rules in force, by collection. */
  retention(): Promise<RetentionRule[]> {
    return this.#retention.rules();
  }

  // ---------------------------------------------------------------- sync

  /** Sends local writes to the remote. */
  push(o: Call = {}): Promise<SyncResult> {
    return this.#sync.push(o);
  }

  /** Fetches and applies what other devices wrote; `warnings` when the remote looks like it serves an old state. */
  pull(o: Call = {}): Promise<SyncResult> {
    return this.#sync.pull(o);
  }

  /** Pull, then push; `warnings` when the remote looks like it serves an old state. */
  sync(o: Call = {}): Promise<SyncResult> {
    return this.#sync.sync(o);
  }

  /**
   * Syncs, then writes an encrypted, signed snapshot of the merged state,
   * from which new devices start instead of replaying the whole history.
   * Chunks the remote already holds are not sent again.
   */
  snapshot(o: Call = {}): Promise<SnapshotResult> {
    return this.#sync.snapshot(o);
  }

  /**
   * Syncs, then deletes from the remote the segments every snapshot covers
   * and every active device acknowledged, once a snapshot is older than the
   * grace period, and snapshots beyond the newest two old ones (see
   * docs/FORMAT.md "Compaction"). `dryRun` reports without deleting.
   */
  compact(o: CompactCall = {}): Promise<CompactResult> {
    return this.#sync.compact(o);
  }

  /**
   * Verifies everything on the remote, reading only: see `checkRemote`.
   * Costs one listing plus one read per object (chunks only with `readData`).
   */
  check(o: CheckOptions = {}): Promise<CheckReport> {
    return this.#sync.check(o);
  }

  /** This device's view of the vault, from the store alone. */
  status(): Promise<VaultStatus> {
    return this.#sync.status();
  }

  /** For each other active device: when it was last seen and until when it has this device's changes (from the store; as of the last pull). */
  delivery(): Promise<DeviceDelivery[]> {
    return deliveryOf(this.#s.ctx);
  }

  /**
   * Syncs now, then every `intervalMs`, soon after local writes, and at
   * once when the remote reports a change (where it can watch). Failures
   * are reported as `error` events and retried with backoff.
   */
  startAutoSync(o: { intervalMs: number; signal?: AbortSignal }): AutoSync {
    return this.#autoSync.start(o);
  }

  /**
   * Tells this instance that another one on the same store (another tab)
   * changed records: its subscriptions re-read and, for `source: 'local'`,
   * its auto-sync pushes them, as after its own writes.
   */
  changedElsewhere(e: VaultEvents['change']): void {
    this.#s.events.emit('change', { collections: [...e.collections], source: e.source });
  }

  /** Listens to an event; returns a function that stops listening. */
  on<E extends keyof VaultEvents>(event: E, fn: (e: VaultEvents[E]) => void): () => void {
    return this.#s.events.on(event, fn);
  }
}
