/**
 * @module vault/records
 * Records: local writes (one store transaction each, never the network),
 * reads and queries, live queries, conflicts and their resolution, and
 * the local history.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { dict } from '../base/data-keys.js';
import { checkFields, checkPutFields, copyFields, orderedFields, type JsonObject, type JsonValue } from '../model/json.js';
import { checkCollection, checkNewRecordId, checkRecordId, isReservedCollection } from '../model/names.js';
import { HybridClock } from '../model/hlc.js';
import { applyOp, conflictCount, conflictsOf, viewOf, type RecordView } from '../model/merge.js';
import { deleteOp, emptyPutOp, patchOp, putOnEmpty, putOp, resolveOp } from '../model/local-writes.js';
import { oneWriteRow } from '../ports/row-text.js';
import type { Op } from '../model/ops.js';
import type { FieldFilter, LogEntry, RecordRow, StoreTx } from '../ports/store.js';
import { META, readMeta, writeMeta } from '../ports/store-meta.js';
import { ViewSet, logEntryOf } from '../sync/apply.js';
import { readHistory, type HistoryFilter } from './history-log.js';
import type { Deps } from '../base/deps.js';
import type { Store } from '../ports/store.js';
import type { VaultEmitter } from './events.js';
import type { BatchWriter, Conflict, Doc, ListPage, ListQuery, Resolution } from './vault-types.js';

/**
 * Writes merged per round inside a batch's one transaction. A round loads its
 * records, merges, writes rows, history and outbox, and lets them go: a batch
 * of 100,000 keeps a round's views in memory rather than the whole batch's
 * (the garbage collector's work grew with the batch). A record written again
 * in a later round is read back from the transaction, which sees its own writes.
 * Measured on 100,000 puts: rounds of 250 cost about 6 % less CPU than rounds
 * of 2,000 (what a round keeps dies young) and rounds of 8,000 about 20 % more.
 */
const ROUND = 250;

/** See `Records.#commit`. */
type Round = (keys: readonly (readonly [string, string])[], make: (views: ViewSet) => Op[]) => Promise<void>;

export type Write =
  | { kind: 'put'; collection: string; id: string; fields: JsonObject }
  | { kind: 'patch'; collection: string; id: string; fields: JsonObject }
  | { kind: 'delete'; collection: string; id: string };

/** What Records needs of the vault's session (a shared space's store gives the same). */
export interface RecordsHost {
  readonly store: Store;
  readonly deps: Pick<Deps, 'now'>;
  readonly events: VaultEmitter;
  readonly ctx: { readonly deviceId: string };
}

export class Records {
  readonly #s: RecordsHost;

  constructor(session: RecordsHost) {
    this.#s = session;
  }

  /** Several writes in one transaction: all or nothing. Returns how many. */
  async batch(fn: (b: BatchWriter) => void): Promise<number> {
    const writes: Write[] = [];
    fn({
      put: (collection, id, fields) => void writes.push({ kind: 'put', collection, id, fields }),
      patch: (collection, id, fields) => void writes.push({ kind: 'patch', collection, id, fields }),
      delete: (collection, id) => void writes.push({ kind: 'delete', collection, id }),
    });
    return this.write(writes);
  }

  async get(collection: string, id: string): Promise<Doc | undefined> {
    checkCollection(collection);
    checkRecordId(id);
    const row = await this.#s.store.read(async (tx) => (await tx.getRecords(collection, [id])).get(id));
    return row && !row.deleted ? docOf(row) : undefined;
  }

  async list(collection: string, q: ListQuery = {}): Promise<ListPage> {
    checkCollection(collection);
    const where: FieldFilter[] = Object.entries(q.where ?? {}).map(([field, value]) => ({ field, value }));
    const desc = q.order?.startsWith('-') ?? false;
    const page = await this.#s.store.read((tx) =>
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

  subscribe(collection: string, q: ListQuery, fn: (records: Doc[]) => void): () => void {
    let live = true;
    // One listing at a time, and one more after it when a change came meanwhile: listings run at once could
    // end out of order (a slow read of before the change answering last), and the last records handed on
    // would then miss that change until the next one (a tab paused in a debugger was left so).
    let running = false;
    let again = false;
    const run = (): void => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      again = false;
      void this.list(collection, q)
        .then(
          (page) => live && fn(page.records),
          (error: unknown) => this.#s.events.emit('error', { error: error as Error }),
        )
        .finally(() => {
          running = false;
          if (again && live) run();
        });
    };
    const off = this.#s.events.on('change', (e) => e.collections.includes(collection) && run());
    run();
    return () => {
      live = false;
      off();
    };
  }

  async conflicts(collection?: string): Promise<Conflict[]> {
    if (collection !== undefined) checkCollection(collection);
    const rows = await this.#s.store.read((tx) => tx.listConflicted(collection));
    const out: Conflict[] = [];
    for (const row of rows.filter(isAppRow)) {
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

  /** Fields in conflict, vault-wide. */
  async conflictTotal(): Promise<number> {
    const rows = (await this.#s.store.read((tx) => tx.listConflicted())).filter(isAppRow);
    return rows.reduce((n, r) => n + conflictCount(r), 0);
  }

  async resolve(collection: string, id: string, field: string | null | undefined, how: Resolution): Promise<void> {
    checkCollection(collection);
    checkRecordId(id);
    if ('value' in how) checkFields({ [field ?? 'value']: how.value });
    await this.#commit((clock, round) =>
      round([[collection, id]], (views) => {
        const v = views.view(collection, id);
        if (v.updated === '') throw notFound(collection, id);
        return [this.#applyLocal(views, v, resolveOp(v, clock.next(), field, how))];
      }),
    );
  }

  async log(filter: HistoryFilter = {}): Promise<LogEntry[]> {
    return this.#s.store.read((tx) => readHistory(tx, filter));
  }

  /** Validates, then applies local writes in one transaction. */
  async write(writes: Write[]): Promise<number> {
    let checked: string | undefined; // the collection name last checked: a batch names few, over and over
    for (const w of writes) {
      if (w.collection !== checked) checkCollection(w.collection);
      checked = w.collection;
      checkNewRecordId(w.id);
      if (w.kind === 'put') w.fields = checkPutFields(w.fields);
      else if (w.kind === 'patch') {
        checkFields(w.fields);
        w.fields = copyFields(w.fields, true);
      }
    }
    if (writes.length === 0) return 0;
    await this.#transaction(async (tx, clock) => {
      const touched = new Set<string>();
      const newIn = writes.length > ROUND ? await newCollections(tx, writes) : new Map<string, Set<string>>();
      for (let i = 0; i < writes.length; i += ROUND) {
        for (const c of await this.#writeRound(tx, clock, writes.length <= ROUND ? writes : writes.slice(i, i + ROUND), newIn)) touched.add(c);
      }
      return [...touched];
    });
    return writes.length;
  }

  /**
   * One round of {@link write}: loads what the round names, merges, writes; returns the collections changed.
   * A put on a record the store holds nothing of and the round names once (a bulk batch's records) needs no
   * view: its op and its row are made straight from its fields. Every other write merges through views.
   */
  async #writeRound(tx: StoreTx, clock: HybridClock, part: readonly Write[], newIn: ReadonlyMap<string, Set<string>>): Promise<string[]> {
    const deviceId = this.#s.ctx.deviceId;
    // Per collection, each id the round names and how often; 0 once read: absent from the store and named once.
    const named = new Map<string, Map<string, number>>();
    for (const w of part) {
      let ids = named.get(w.collection);
      if (ids === undefined) named.set(w.collection, (ids = new Map()));
      ids.set(w.id, (ids.get(w.id) ?? 0) + 1);
    }
    const views = new ViewSet(tx);
    for (const [c, ids] of named) {
      // In a collection the store held nothing of when the batch began, only ids earlier rounds wrote can be there.
      const written = newIn.get(c);
      const rows = await tx.getRecords(c, written ? [...ids.keys()].filter((i) => written.has(i)) : [...ids.keys()]);
      if (written) for (const i of ids.keys()) written.add(i);
      for (const [i, times] of ids) {
        const row = rows.get(i);
        if (row === undefined && times === 1) ids.set(i, 0);
        else views.add(c, i, row);
      }
    }
    // Views putOnEmpty filled: their fields are also that op's `s`, not written yet, and an ordinary object (putFields),
    // so a later write copies them first, into a null-prototype one where a field named `__proto__` can be added.
    const shared = new Set<RecordView>();
    const fresh: RecordRow[] = [];
    const ops: Op[] = new Array<Op>(part.length);
    for (let k = 0; k < part.length; k++) {
      const w = part[k]!;
      // Patch and delete need a live record (put creates one); the throw rolls the whole batch back.
      if (named.get(w.collection)!.get(w.id) === 0) {
        if (w.kind !== 'put') throw notFound(w.collection, w.id);
        const t = clock.next();
        ops[k] = emptyPutOp(w.collection, w.id, t, w.fields);
        fresh.push(oneWriteRow(w.collection, w.id, t + deviceId, w.fields));
        continue;
      }
      const v = views.view(w.collection, w.id);
      if (shared.delete(v)) v.fields = Object.assign(dict<JsonValue>(), v.fields);
      const t = clock.next();
      if (w.kind !== 'put' && v.deleted) throw notFound(w.collection, w.id);
      if (w.kind === 'put') {
        const op = putOnEmpty(v, t, deviceId, w.fields);
        // Not touched: its row is written from `fresh` unless a later write of the round changes it (and touches it).
        if (op !== undefined) {
          shared.add(v);
          ops[k] = op;
          continue;
        }
        ops[k] = this.#applyLocal(views, v, putOp(v, t, w.fields));
        continue;
      }
      ops[k] = this.#applyLocal(views, v, w.kind === 'patch' ? patchOp(v, t, w.fields) : deleteOp(v, t));
    }
    for (const v of shared) fresh.push(oneWriteRow(v.collection, v.id, v.updated, v.fields));
    return this.#record(tx, views, ops, fresh);
  }

  /** The engine's own writes (retention): `fn` applies local ops through `local` and may change other loaded views, in one write transaction. */
  async commitInternal(fn: (tx: StoreTx, views: ViewSet, clock: HybridClock, local: (v: RecordView, op: Op) => Op) => Promise<Op[]>): Promise<void> {
    await this.#transaction(async (tx, clock) => {
      const views = new ViewSet(tx);
      return this.#record(tx, views, await fn(tx, views, clock, (v, op) => this.#applyLocal(views, v, op)));
    });
  }

  #applyLocal(views: ViewSet, v: RecordView, op: Op): Op {
    const deviceId = this.#s.ctx.deviceId;
    const stamp = op.t + deviceId;
    applyOp(v, op, deviceId, (s) => s !== stamp);
    views.touch(v.collection, v.id);
    return op;
  }

  /**
   * One local write transaction: the clock, then rounds of merge, rows,
   * history and outbox. `round` loads the records `keys` name, runs `make`
   * on them (it returns the ops it applied) and writes what they changed.
   */
  async #commit(fn: (clock: HybridClock, round: Round) => Promise<void>): Promise<void> {
    await this.#transaction(async (tx, clock) => {
      const touched = new Set<string>();
      await fn(clock, async (keys, make) => {
        const views = new ViewSet(tx);
        await views.load(keys);
        for (const c of await this.#record(tx, views, make(views))) touched.add(c);
      });
      return [...touched];
    });
  }

  /** A write transaction with the device's clock, saved at the end; `fn` returns the collections it changed. */
  async #transaction(fn: (tx: StoreTx, clock: HybridClock) => Promise<string[]>): Promise<void> {
    const collections = await this.#s.store.write(async (tx) => {
      const clock = new HybridClock(this.#s.deps.now, (await readMeta<{ last: string }>(tx, META.hlc))?.last);
      const touched = await fn(tx, clock);
      await writeMeta(tx, META.hlc, { last: clock.last });
      return touched;
    });
    this.#s.events.emit('change', { collections, source: 'local' });
  }

  /**
   * Writes the ops' history entries and outbox rows, then what `views` changed; returns the changed collections.
   * The ops go first: a store that keeps a put on an empty record by reference to its row (schema 6 of the
   * SQLite store) then knows, as the rows arrive, which of them an op refers to.
   */
  async #record(tx: StoreTx, views: ViewSet, ops: Op[], fresh: readonly RecordRow[] = []): Promise<string[]> {
    const device = this.#s.ctx.deviceId;
    // A store that can keeps the history inside the outbox rows until push: one write per op instead of two.
    if (tx.appendOwnOps) await tx.appendOwnOps(ops as unknown as JsonObject[], device);
    else {
      await tx.appendLog(ops.map((op) => logEntryOf(op, device)));
      await tx.appendOutbox(ops as unknown as JsonObject[]);
    }
    const touched = await views.flush();
    if (fresh.length === 0) return touched;
    // Records a put created and nothing changed since: live, one write, no conflict; their rows without rowOf's scan.
    await tx.putRecords(fresh);
    const collections = new Set(touched);
    for (const r of fresh) collections.add(r.collection);
    return [...collections];
  }
}

/**
 * The collections `writes` name that the store holds no row of (deleted ones included), each with the ids
 * the batch has written to it so far (none yet): a round then reads back only ids an earlier round wrote.
 */
async function newCollections(tx: StoreTx, writes: readonly Write[]): Promise<Map<string, Set<string>>> {
  const held = new Set(await tx.listCollections());
  const out = new Map<string, Set<string>>();
  for (const w of writes) if (!held.has(w.collection) && !out.has(w.collection)) out.set(w.collection, new Set());
  return out;
}

/** Fields in their documented order (see {@link orderedFields}), then the id. */
function docOf(row: RecordRow): Doc {
  return { ...orderedFields(row.fields), id: row.id };
}

/** Reserved `_kith.` collections are the engine's (two devices publishing different retention floors is not the user's conflict). */
function isAppRow(row: RecordRow): boolean {
  return !isReservedCollection(row.collection);
}

function notFound(collection: string, id: string): KithError {
  return new KithError(ErrorCode.NotFound, `no record ${JSON.stringify(id)} in ${collection}`);
}
