/**
 * @module vault
 * The Vault: Kith's public API. Writes go to the local store in one
 * transaction and return; the network only moves ciphertext, on `push`,
 * `pull`, `sync` or auto-sync.
 *
 * @example
 * const { vault, recoveryCode } = await Vault.create({ store, remote, remoteUrl });
 * await vault.put('notes', 'n1', { title: 'Hello' });
 * await vault.sync();
 */
import { hex } from '@scure/base';
import { ErrorCode, KithError } from './errors.js';
import { systemDeps, type Deps } from './deps.js';
import { checkFields, type JsonObject } from './json.js';
import { checkCollection, checkRecordId } from './names.js';
import { HybridClock } from './hlc.js';
import { applyOp, conflictCount, conflictsOf, viewOf, type RecordView } from './merge.js';
import { deleteOp, patchOp, putOp, resolveOp } from './local-writes.js';
import type { Op } from './ops.js';
import type { Remote } from './remote.js';
import type { FieldFilter, LogEntry, RecordRow, Store, StoreTx } from './store.js';
import {
  decodeVaultHeader,
  encodeDeviceEntry,
  encodeVaultHeader,
  openEpochKey,
  remoteKeys,
  sealEpochKey,
} from './format/index.js';
import { generateDeviceKeys, generateRecoveryCode, newEpochKey, newVaultId, parseRecoveryCode, recoveryKeys } from './crypto/index.js';
import { ViewSet, logEntryOf } from './sync/apply.js';
import type { EngineContext } from './sync/context.js';
import { META, b64, readMeta, requireVault, unb64, writeMeta, type DeviceMeta, type RegistryEntry, type StatusMeta, type VaultMeta } from './sync/meta.js';
import { DeviceRegistry } from './sync/registry.js';
import { push } from './sync/push.js';
import { pull } from './sync/pull.js';
import type {
  BatchWriter,
  Conflict,
  CreateVaultOptions,
  Doc,
  ListPage,
  ListQuery,
  Resolution,
  RestoreVaultOptions,
  StoredVaultConfig,
  SyncResult,
  VaultEvents,
  VaultOptions,
  VaultStatus,
} from './vault-types.js';

const EPOCH = 0;

type Write =
  | { kind: 'put'; collection: string; id: string; fields: JsonObject }
  | { kind: 'patch'; collection: string; id: string; fields: JsonObject }
  | { kind: 'delete'; collection: string; id: string };

type Listener<E extends keyof VaultEvents> = (e: VaultEvents[E]) => void;

export class Vault {
  readonly vaultId: string;
  readonly deviceId: string;
  readonly #store: Store;
  readonly #remote: Remote;
  readonly #deps: Deps;
  readonly #ctx: EngineContext;
  readonly #listeners = new Map<keyof VaultEvents, Set<Listener<keyof VaultEvents>>>();
  readonly #autoSyncs = new Set<{ stop(): Promise<void> }>();
  /** Serializes push/pull of this instance (other processes are safe through the store). */
  #syncing: Promise<unknown> = Promise.resolve();

  private constructor(store: Store, remote: Remote, deps: Deps, vault: VaultMeta, device: DeviceMeta, epochs: Record<string, string>, registry: Record<string, RegistryEntry>) {
    this.vaultId = vault.vaultId;
    this.deviceId = device.deviceId;
    this.#store = store;
    this.#remote = remote;
    this.#deps = deps;
    const epochKeys = new Map(Object.entries(epochs).map(([k, v]) => [Number(k), unb64(v)] as const));
    this.#ctx = {
      store,
      remote,
      deps,
      vaultId: vault.vaultId,
      deviceId: device.deviceId,
      signSeed: unb64(device.signSeed),
      epoch: Math.max(...epochKeys.keys()),
      epochKeys,
      registry: new DeviceRegistry(vault.vaultId, unb64(vault.recoverySignPub), registry),
      progress: (p) => this.#emit('progress', p),
    };
  }

  // ---------------------------------------------------------------- lifecycle

  /** Reads the home's vault identity without touching the remote (undefined if none). */
  static async readConfig(store: Store): Promise<StoredVaultConfig | undefined> {
    return store.read(async (tx) => {
      const vault = await readMeta<VaultMeta>(tx, META.vault);
      const device = await readMeta<DeviceMeta>(tx, META.device);
      if (!vault || !device) return undefined;
      return { vaultId: vault.vaultId, deviceId: device.deviceId, deviceName: device.name, remoteUrl: vault.remoteUrl };
    });
  }

  /**
   * Creates a new vault on an empty remote, with this store as its first
   * device. Returns the recovery code: show it once; it is the only way
   * back in if every device is lost.
   */
  static async create(o: CreateVaultOptions): Promise<{ vault: Vault; recoveryCode: string }> {
    const deps = { ...systemDeps, ...o.deps };
    await refuseExistingVault(o.store);
    if (await o.remote.head(remoteKeys.vault)) {
      throw new KithError(ErrorCode.RemoteInUse, `the remote ${o.remote.url} already holds a vault`, {
        hint: 'join it with `kith restore --recovery-code ...`, or choose an empty location',
      });
    }
    const vaultId = newVaultId(deps.random);
    const device = generateDeviceKeys(deps.random);
    const { code, secret } = generateRecoveryCode(deps.random);
    const recovery = recoveryKeys(secret);
    const epochKey = newEpochKey(deps.random);
    const now = deps.now();
    const name = o.deviceName ?? 'device';
    await o.remote.put(
      remoteKeys.device(device.deviceId),
      await encodeDeviceEntry({ vaultId, deviceId: device.deviceId, name, signPub: device.sign.pub, boxPub: device.box.pub, addedAt: now, addedBy: 'recovery' }, recovery.sign.seed),
    );
    for (const [recipientId, recipientBoxPub] of [[device.deviceId, device.box.pub], ['recovery', recovery.box.pub]] as const) {
      await o.remote.put(
        remoteKeys.sealedKey(EPOCH, recipientId),
        await sealEpochKey({ vaultId, epoch: EPOCH, recipientId, recipientBoxPub, epochKey, signerId: device.deviceId, signerSeed: device.sign.seed, random: deps.random }),
      );
    }
    // The header goes last: its presence is what makes the vault exist.
    const header = await encodeVaultHeader(
      { vaultId, createdAt: now, founder: device.deviceId, recoverySignPub: recovery.sign.pub, recoveryBoxPub: recovery.box.pub },
      recovery.sign.seed,
    );
    await o.remote.put(remoteKeys.vault, header, { ifAbsent: true });
    const stored = await o.remote.get(remoteKeys.vault);
    if (!stored || !equalBytes(stored, header)) {
      throw new KithError(ErrorCode.RemoteInUse, `another device created a vault at ${o.remote.url} at the same moment`, { hint: 'join that vault with `kith restore`' });
    }
    const vault: VaultMeta = { vaultId, remoteUrl: o.remoteUrl, createdAt: now, founder: device.deviceId, recoverySignPub: b64(recovery.sign.pub), recoveryBoxPub: b64(recovery.box.pub) };
    const deviceMeta: DeviceMeta = { deviceId: device.deviceId, name, signSeed: b64(device.sign.seed), boxSecret: b64(device.box.secret) };
    const registry = { [device.deviceId]: { name, signPub: b64(device.sign.pub), boxPub: b64(device.box.pub), addedAt: now, addedBy: 'recovery' } };
    const epochs = { [EPOCH]: b64(epochKey) };
    await o.store.write(async (tx) => {
      await writeMeta(tx, META.vault, vault);
      await writeMeta(tx, META.device, deviceMeta);
      await writeMeta(tx, META.epochs, epochs);
      await writeMeta(tx, META.registry, registry);
      await writeMeta<StatusMeta>(tx, META.status, { lastPush: null, lastPull: null, caughtUp: true });
    });
    return { vault: new Vault(o.store, o.remote, deps, vault, deviceMeta, epochs, registry), recoveryCode: code };
  }

  /**
   * Joins an existing vault as a new device, using the recovery code. The
   * device gets keys of its own. Nothing is written to the store unless
   * every check passed, so a failed restore leaves the home reusable.
   */
  static async restore(o: RestoreVaultOptions): Promise<Vault> {
    const deps = { ...systemDeps, ...o.deps };
    const secret = parseRecoveryCode(o.recoveryCode); // a typo fails here, before any crypto
    await refuseExistingVault(o.store);
    const headerBytes = await o.remote.get(remoteKeys.vault);
    if (!headerBytes) {
      throw new KithError(ErrorCode.RemoteEmpty, `there is no vault at ${o.remote.url}`, { hint: 'check the remote URL, or create a vault with `kith init`' });
    }
    const header = await decodeVaultHeader(headerBytes);
    const recovery = recoveryKeys(secret);
    if (!equalBytes(header.recoverySignPub, recovery.sign.pub)) {
      throw new KithError(ErrorCode.WrongRecoveryCode, `this recovery code does not open the vault at ${o.remote.url}`, {
        hint: 'check that the code belongs to this vault',
      });
    }
    const registry = new DeviceRegistry(header.vaultId, header.recoverySignPub);
    const sealed = await o.remote.get(remoteKeys.sealedKey(EPOCH, 'recovery'));
    if (!sealed) throw new KithError(ErrorCode.IntegrityCorrupt, 'the vault key for the recovery code is missing from the remote');
    const signerId = peekSealedSigner(sealed);
    if (signerId) await registry.ensure(o.remote, signerId);
    const { epochKey } = await openEpochKey(sealed, {
      vaultId: header.vaultId,
      epoch: EPOCH,
      recipientId: 'recovery',
      recipientBoxSecret: recovery.box.secret,
      signerPub: registry.signPubOf,
    });
    const device = generateDeviceKeys(deps.random);
    const now = deps.now();
    const name = o.deviceName ?? 'device';
    await o.remote.put(
      remoteKeys.device(device.deviceId),
      await encodeDeviceEntry(
        { vaultId: header.vaultId, deviceId: device.deviceId, name, signPub: device.sign.pub, boxPub: device.box.pub, addedAt: now, addedBy: 'recovery' },
        recovery.sign.seed,
      ),
    );
    await o.remote.put(
      remoteKeys.sealedKey(EPOCH, device.deviceId),
      await sealEpochKey({ vaultId: header.vaultId, epoch: EPOCH, recipientId: device.deviceId, recipientBoxPub: device.box.pub, epochKey, signerId: device.deviceId, signerSeed: device.sign.seed, random: deps.random }),
    );
    registry.add(device.deviceId, { name, signPub: b64(device.sign.pub), boxPub: b64(device.box.pub), addedAt: now, addedBy: 'recovery' });
    const vault: VaultMeta = {
      vaultId: header.vaultId,
      remoteUrl: o.remoteUrl,
      createdAt: header.createdAt,
      founder: header.founder,
      recoverySignPub: b64(header.recoverySignPub),
      recoveryBoxPub: b64(header.recoveryBoxPub),
    };
    const deviceMeta: DeviceMeta = { deviceId: device.deviceId, name, signSeed: b64(device.sign.seed), boxSecret: b64(device.box.secret) };
    const epochs = { [EPOCH]: b64(epochKey) };
    await o.store.write(async (tx) => {
      await refuseExistingVaultTx(tx);
      await writeMeta(tx, META.vault, vault);
      await writeMeta(tx, META.device, deviceMeta);
      await writeMeta(tx, META.epochs, epochs);
      await writeMeta(tx, META.registry, registry.toJSON());
      await writeMeta<StatusMeta>(tx, META.status, { lastPush: null, lastPull: null, caughtUp: false });
    });
    return new Vault(o.store, o.remote, deps, vault, deviceMeta, epochs, registry.toJSON());
  }

  /** Opens the vault this store holds (KITH_NO_VAULT if none). */
  static async open(o: VaultOptions): Promise<Vault> {
    const deps = { ...systemDeps, ...o.deps };
    const m = await o.store.read(async (tx) => {
      const { vault, device } = await requireVault(tx);
      return {
        vault,
        device,
        epochs: (await readMeta<Record<string, string>>(tx, META.epochs)) ?? {},
        registry: (await readMeta<Record<string, RegistryEntry>>(tx, META.registry)) ?? {},
      };
    });
    return new Vault(o.store, o.remote, deps, m.vault, m.device, m.epochs, m.registry);
  }

  /** Stops auto-sync and closes the store and the remote. */
  async close(): Promise<void> {
    await Promise.all([...this.#autoSyncs].map((s) => s.stop()));
    await this.#syncing.catch(() => undefined);
    await this.#store.close();
    await this.#remote.close();
  }

  // ---------------------------------------------------------------- records

  /** Replaces a record (fields not given are removed). */
  async put(collection: string, id: string, fields: JsonObject): Promise<void> {
    await this.#write([{ kind: 'put', collection, id, fields }]);
  }

  /** Sets the given top-level fields, keeping the others. */
  async patch(collection: string, id: string, fields: JsonObject): Promise<void> {
    await this.#write([{ kind: 'patch', collection, id, fields }]);
  }

  /** Deletes a record (KITH_NOT_FOUND if it does not exist). */
  async delete(collection: string, id: string): Promise<void> {
    await this.#write([{ kind: 'delete', collection, id }]);
  }

  /** Several writes in one transaction: all or nothing. Returns how many. */
  async batch(fn: (b: BatchWriter) => void): Promise<number> {
    const writes: Write[] = [];
    fn({
      put: (collection, id, fields) => void writes.push({ kind: 'put', collection, id, fields }),
      patch: (collection, id, fields) => void writes.push({ kind: 'patch', collection, id, fields }),
      delete: (collection, id) => void writes.push({ kind: 'delete', collection, id }),
    });
    return this.#write(writes);
  }

  async get(collection: string, id: string): Promise<Doc | undefined> {
    checkCollection(collection);
    checkRecordId(id);
    const row = await this.#store.read(async (tx) => (await tx.getRecords(collection, [id])).get(id));
    return row && !row.deleted ? docOf(row) : undefined;
  }

  /** A page of a collection's records, filtered and ordered. */
  async list(collection: string, q: ListQuery = {}): Promise<ListPage> {
    checkCollection(collection);
    const where: FieldFilter[] = Object.entries(q.where ?? {}).map(([field, value]) => ({ field, value }));
    const desc = q.order?.startsWith('-') ?? false;
    const page = await this.#store.read((tx) =>
      tx.query({
        collection,
        where,
        ...(q.order ? { order: { field: desc ? q.order.slice(1) : q.order, direction: desc ? 'desc' : 'asc' } } : {}),
        ...(q.limit !== undefined ? { limit: q.limit } : {}),
        ...(q.after !== undefined ? { after: q.after } : {}),
      }),
    );
    return { records: page.rows.map(docOf), next: page.next };
  }

  /**
   * Calls `fn` with the query's records now and after every change to the
   * collection (local or synced). Returns a function that unsubscribes.
   */
  subscribe(collection: string, q: ListQuery, fn: (records: Doc[]) => void): () => void {
    let live = true;
    const run = (): void => {
      this.list(collection, q).then(
        (page) => live && fn(page.records),
        (error: unknown) => this.#emit('error', { error: error as Error }),
      );
    };
    const off = this.on('change', (e) => e.collections.includes(collection) && run());
    run();
    return () => {
      live = false;
      off();
    };
  }

  // ---------------------------------------------------------------- conflicts and history

  async conflicts(collection?: string): Promise<Conflict[]> {
    if (collection !== undefined) checkCollection(collection);
    const rows = await this.#store.read((tx) => tx.listConflicted(collection));
    const out: Conflict[] = [];
    for (const row of rows) {
      for (const c of conflictsOf(viewOf(row, row.collection, row.id))) {
        const [w, ...losers] = c.heads;
        out.push({
          collection: row.collection,
          id: row.id,
          field: c.field,
          ...(c.field === null ? { winnerDeleted: w!.value !== true } : w!.present ? { winner: w!.value! } : { winnerDeleted: true }),
          winnerDevice: w!.device,
          losers: losers.map((h) =>
            c.field === null
              ? { device: h.device, hlc: h.stamp, deleted: h.value !== true }
              : h.present
                ? { device: h.device, hlc: h.stamp, value: h.value! }
                : { device: h.device, hlc: h.stamp, deleted: true },
          ),
        });
      }
    }
    return out;
  }

  /** Resolves a record's conflicts (one field, or all); the choice syncs like any write. */
  async resolve(collection: string, id: string, field: string | null | undefined, how: Resolution): Promise<void> {
    checkCollection(collection);
    checkRecordId(id);
    if ('value' in how) checkFields({ [field ?? 'value']: how.value });
    await this.#commit(async (_tx, views, clock) => {
      await views.load([[collection, id]]);
      const v = views.view(collection, id);
      if (v.updated === '') throw notFound(collection, id);
      return [this.#applyLocal(views, v, resolveOp(v, clock.next(), field, how))];
    });
  }

  async log(filter: { collection?: string; id?: string; limit?: number } = {}): Promise<LogEntry[]> {
    return this.#store.read((tx) => tx.readLog(filter));
  }

  // ---------------------------------------------------------------- sync

  /** Sends local writes to the remote. */
  async push(o: { signal?: AbortSignal } = {}): Promise<SyncResult> {
    return this.#exclusive(async () => {
      const pushed = await push(this.#ctx, o.signal);
      return { pushed, pulled: 0, conflicts: await this.#conflictTotal() };
    });
  }

  /** Fetches and applies what other devices wrote. */
  async pull(o: { signal?: AbortSignal } = {}): Promise<SyncResult> {
    return this.#exclusive(async () => {
      const pulled = await this.#pullOnce(o.signal);
      return { pushed: 0, pulled, conflicts: await this.#conflictTotal() };
    });
  }

  /** Pull, then push. */
  async sync(o: { signal?: AbortSignal } = {}): Promise<SyncResult> {
    return this.#exclusive(async () => {
      const pulled = await this.#pullOnce(o.signal);
      const pushed = await push(this.#ctx, o.signal);
      const result = { pushed, pulled, conflicts: await this.#conflictTotal() };
      this.#emit('synced', result);
      return result;
    });
  }

  async status(): Promise<VaultStatus> {
    return this.#store.read(async (tx) => {
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
        conflicts: conflicted.reduce((n, r) => n + conflictCount(r), 0),
        caughtUp: status?.caughtUp ?? false,
      };
    });
  }

  /**
   * Syncs now, then every `intervalMs`, soon after local writes, and at
   * once when the remote reports a change (where it can watch). Failures
   * are reported as `error` events and retried with backoff.
   */
  startAutoSync(o: { intervalMs: number; signal?: AbortSignal }): { stop(): Promise<void> } {
    const abort = new AbortController();
    o.signal?.addEventListener('abort', () => abort.abort(), { once: true });
    let wake: (() => void) | undefined;
    const poke = (): void => wake?.();
    const offLocal = this.on('change', (e) => e.source === 'local' && poke());
    const offWatch = this.#remote.watch?.(remoteKeys.headsPrefix, poke);
    let failures = 0;
    const loop = (async () => {
      while (!abort.signal.aborted) {
        try {
          await this.sync({ signal: abort.signal });
          failures = 0;
        } catch (error) {
          if (abort.signal.aborted) break;
          failures++;
          this.#emit('error', { error: error as Error });
        }
        const delay = failures === 0 ? o.intervalMs : Math.min(o.intervalMs * 2 ** failures, 60_000);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          wake = () => {
            clearTimeout(timer);
            // Let a burst of local writes land before pushing.
            setTimeout(resolve, 50);
          };
          abort.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
        });
        wake = undefined;
      }
    })();
    const handle = {
      stop: async () => {
        abort.abort();
        offLocal();
        offWatch?.();
        await loop;
        this.#autoSyncs.delete(handle);
      },
    };
    this.#autoSyncs.add(handle);
    return handle;
  }

  /** Listens to an event; returns a function that stops listening. */
  on<E extends keyof VaultEvents>(event: E, fn: (e: VaultEvents[E]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(fn as Listener<keyof VaultEvents>);
    return () => set.delete(fn as Listener<keyof VaultEvents>);
  }

  // ---------------------------------------------------------------- internals

  #emit<E extends keyof VaultEvents>(event: E, e: VaultEvents[E]): void {
    for (const fn of this.#listeners.get(event) ?? []) {
      try {
        fn(e);
      } catch {
        // A listener's failure must not break a write or a sync.
      }
    }
  }

  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#syncing.catch(() => undefined).then(fn);
    this.#syncing = run;
    return run;
  }

  async #pullOnce(signal?: AbortSignal): Promise<number> {
    const wasCaughtUp = (await this.#store.read((tx) => readMeta<StatusMeta>(tx, META.status)))?.caughtUp ?? false;
    const outcome = await pull(this.#ctx, signal);
    await this.#store.write((tx) => writeMeta(tx, META.registry, this.#ctx.registry.toJSON()));
    if (outcome.collections.size > 0) this.#emit('change', { collections: [...outcome.collections], source: 'remote' });
    if (!wasCaughtUp && outcome.complete) {
      await this.#store.write(async (tx) => {
        const status = await readMeta<StatusMeta>(tx, META.status);
        await writeMeta<StatusMeta>(tx, META.status, { lastPush: null, lastPull: null, ...status, caughtUp: true });
      });
      this.#emit('caughtUp', { changes: outcome.pulled });
    }
    return outcome.pulled;
  }

  async #conflictTotal(): Promise<number> {
    const rows = await this.#store.read((tx) => tx.listConflicted());
    return rows.reduce((n, r) => n + conflictCount(r), 0);
  }

  /** Validates, then applies local writes in one transaction. */
  async #write(writes: Write[]): Promise<number> {
    for (const w of writes) {
      checkCollection(w.collection);
      checkRecordId(w.id);
      if (w.kind !== 'delete') checkFields(w.fields);
    }
    if (writes.length === 0) return 0;
    await this.#commit(async (_tx, views, clock) => {
      await views.load(writes.map((w) => [w.collection, w.id] as const));
      const ops: Op[] = [];
      for (const w of writes) {
        const v = views.view(w.collection, w.id);
        const t = clock.next();
        let op: Op;
        if (w.kind === 'put') op = putOp(v, t, w.fields);
        else if (w.kind === 'patch') op = patchOp(v, t, w.fields);
        else if (v.deleted) throw notFound(w.collection, w.id);
        else op = deleteOp(v, t);
        ops.push(this.#applyLocal(views, v, op));
      }
      return ops;
    });
    return writes.length;
  }

  #applyLocal(views: ViewSet, v: RecordView, op: Op): Op {
    const stamp = op.t + this.deviceId;
    applyOp(v, op, this.deviceId, (s) => s !== stamp);
    views.touch(v.collection, v.id);
    return op;
  }

  /** One local write transaction: clock, merge, rows, history, outbox. */
  async #commit(fn: (tx: StoreTx, views: ViewSet, clock: HybridClock) => Promise<Op[]>): Promise<void> {
    const collections = await this.#store.write(async (tx) => {
      const clock = new HybridClock(this.#deps.now, (await readMeta<{ last: string }>(tx, META.hlc))?.last);
      const views = new ViewSet(tx);
      const ops = await fn(tx, views, clock);
      const touched = await views.flush();
      await tx.appendLog(ops.map((op) => logEntryOf(op, this.deviceId)));
      await tx.appendOutbox(ops as unknown as JsonObject[]);
      await writeMeta(tx, META.hlc, { last: clock.last });
      return touched;
    });
    this.#emit('change', { collections, source: 'local' });
  }
}

function docOf(row: RecordRow): Doc {
  return { ...row.fields, id: row.id };
}

function notFound(collection: string, id: string): KithError {
  return new KithError(ErrorCode.NotFound, `no record ${JSON.stringify(id)} in ${collection}`);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function refuseExistingVault(store: Store): Promise<void> {
  await store.read(refuseExistingVaultTx);
}

async function refuseExistingVaultTx(tx: StoreTx): Promise<void> {
  if (await readMeta(tx, META.vault)) {
    throw new KithError(ErrorCode.VaultExists, 'this home already holds a vault', { hint: 'use another --home for another device' });
  }
}

/** The unverified signer id of a sealed key (to know which registry entry to fetch). */
function peekSealedSigner(bytes: Uint8Array): string | undefined {
  // Layout (docs/FORMAT.md): preamble 6, epoch 4, recipientId u8 len + ASCII, signerId 8.
  const at = 6 + 4;
  const len = bytes[at];
  if (len === undefined || at + 1 + len + 8 > bytes.length) return undefined;
  return hex.encode(bytes.subarray(at + 1 + len, at + 1 + len + 8));
}
