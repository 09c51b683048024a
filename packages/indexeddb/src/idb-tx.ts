/**
 * @module idb-tx
 * The {@link StoreTx} of the IndexedDB store: each method places its
 * requests on the one IDBTransaction and resolves from their success
 * events. The caller's next request then comes from a promise reaction,
 * which runs while the transaction is still active; anything else awaited in
 * between (network, timers) lets IndexedDB commit the transaction, which is
 * why the Store contract allows awaiting only these methods.
 */
import { ErrorCode, KithError, type JsonObject, type JsonValue, type LogEntry } from '@kith/core';
import { type LogFilter, type OutboxEntry, type RecordPage, type RecordQuery, type RecordRow, type StoreTx } from '@kith/core/adapter';
import { checkQuery, compareCodePoints, decodeCursor, encodeCursor, idKey, matchesWhere, pageOf } from './idb-query.js';
import { domErrorName, toStoreError } from './idb-errors.js';

/** A record as kept in the `records` object store. */
interface StoredRecord {
  readonly collection: string;
  readonly id: string;
  /** {@link idKey} of the id: the second part of the primary key. */
  readonly key: string;
  readonly fields: string;
  readonly deleted: boolean;
  readonly state: string;
  readonly conflicted: boolean;
  readonly updated: string;
  /** [collection, id] on conflicted rows only: the key of the sparse `conflicted` index. */
  readonly conflict?: [string, string];
}

/** A log row as schema version 1 wrote them: one entry each (still read, never written). */
interface StoredLogEntry extends Omit<LogEntry, 'fields'> {
  readonly seq: number;
  readonly fields: string[];
}

/** One entry in a {@link StoredLogBatch}: id, stamp, device, kind, fields, and its place in its call. */
type LogTuple = [id: string, stamp: string, device: string, kind: LogEntry['kind'], fields: string[], n: number];

/**
 * A log row from schema version 2 on: the entries one `appendLog` call made
 * in one collection, in call order, as JSON text of {@link LogTuple}s (one
 * string clones far faster than thousands of objects). A call spanning
 * several collections writes a row for each; `first` (on all but the first
 * of them) is the seq of the call's first row, so the call's order survives
 * even across its rows.
 */
interface StoredLogBatch {
  readonly seq: number;
  readonly collection: string;
  readonly first?: number;
  readonly entries: string;
}

type StoredLog = StoredLogEntry | StoredLogBatch;

/** An entry read back with where it sorts among equal stamps: by its call, then its place in the call. */
interface Placed {
  readonly entry: LogEntry;
  readonly call: number;
  readonly n: number;
}

function placedEntries(rows: readonly StoredLog[], id: string | undefined): Placed[] {
  const out: Placed[] = [];
  for (const r of rows) {
    if (!('entries' in r)) {
      const { collection, stamp, device, kind, fields } = r;
      if (id === undefined || r.id === id) out.push({ entry: { collection, id: r.id, stamp, device, kind, fields }, call: r.seq, n: 0 });
      continue;
    }
    const call = r.first ?? r.seq;
    for (const [eid, stamp, device, kind, fields, n] of JSON.parse(r.entries) as LogTuple[]) {
      if (id === undefined || eid === id) out.push({ entry: { collection: r.collection, id: eid, stamp, device, kind, fields }, call, n });
    }
  }
  return out;
}

/** Settles with the request's result, or its error. */
export function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new DOMException('the request failed', 'UnknownError'));
  });
}

/** Every key [collection, …] of one collection: arrays sort above strings, so [c, []] is above every [c, key]. */
function collectionRange(collection: string): IDBKeyRange {
  return IDBKeyRange.bound([collection], [collection, []]);
}

/** Rows read per request when a query walks its collection in id order; doubled while a filter keeps rejecting them. */
const FIRST_BATCH = 64;
const MAX_BATCH = 4096;

/**
 * One page of a query without `order`: the rows come in id order straight
 * from the key range, from just after the cursor's id, in batches, until the
 * page (and one more row, to know whether another page follows) is full.
 */
async function pageById(records: IDBObjectStore, q: RecordQuery): Promise<RecordPage> {
  const after = q.after === undefined ? undefined : decodeCursor(q.after, q).id;
  const want = q.limit === undefined ? Infinity : q.limit + 1;
  const rows: RecordRow[] = [];
  let lower: IDBValidKey = after === undefined ? [q.collection] : [q.collection, idKey(after)];
  let open = after !== undefined;
  let batch = Math.max(FIRST_BATCH, Math.min(want, MAX_BATCH));
  for (;;) {
    const range = IDBKeyRange.bound(lower, [q.collection, []], open, false);
    const stored = (await request(records.getAll(range, want === Infinity ? undefined : batch))) as StoredRecord[];
    for (const s of stored) {
      if (s.deleted) continue;
      const fields = JSON.parse(s.fields) as JsonObject;
      if (matchesWhere(fields, q)) rows.push({ ...decodeRecord(s), fields });
      if (rows.length >= want) break;
    }
    const last = stored[stored.length - 1];
    if (rows.length >= want || want === Infinity || stored.length < batch || last === undefined) break;
    lower = [q.collection, last.key];
    open = true;
    batch = Math.min(batch * 2, MAX_BATCH);
  }
  if (rows.length < want) return { rows, next: null };
  const page = rows.slice(0, q.limit);
  return { rows: page, next: encodeCursor(q, { rank: 0, value: 0, id: page[page.length - 1]!.id }) };
}

/** From this many distinct ids on, {@link readRows} first learns which of them exist with one key read. */
const BULK_READ = 32;
/** That key read stops after this many keys per id asked: past it, the ids are too sparse in their collection for it to pay. */
const KEYS_PER_ID = 4;

/**
 * The stored rows of `collection` under `keys` ({@link idKey}s, distinct)
 * that exist. A few keys are a `get` each. Many keys first read which keys
 * of the range they span exist (one `getAllKeys`, bounded): into an empty
 * store (a first sync) that is the only request, and the rows that do exist
 * come with one `getAll` of the range when they are most of it, else a
 * `get` each. Only where the range holds more than {@link KEYS_PER_ID}
 * times as many rows as asked for does every key get its own `get`.
 */
async function readRows(records: IDBObjectStore, collection: string, keys: readonly string[]): Promise<StoredRecord[]> {
  let wanted = keys;
  if (keys.length >= BULK_READ) {
    // JavaScript's `<` and IndexedDB both compare strings by UTF-16 code unit.
    let lo = keys[0]!;
    let hi = lo;
    for (const k of keys) {
      if (k < lo) lo = k;
      if (k > hi) hi = k;
    }
    const range = IDBKeyRange.bound([collection, lo], [collection, hi]);
    const cap = keys.length * KEYS_PER_ID;
    const present = (await request(records.getAllKeys(range, cap))) as [string, string][];
    if (present.length < cap) {
      const asked = new Set(keys);
      wanted = present.map((k) => k[1]).filter((k) => asked.has(k));
      if (wanted.length === 0) return [];
      if (present.length <= 2 * wanted.length) {
        const rows = (await request(records.getAll(range))) as StoredRecord[];
        return rows.filter((r) => asked.has(r.key));
      }
    }
  }
  const found = await Promise.all(wanted.map((k) => request(records.get([collection, k])) as Promise<StoredRecord | undefined>));
  return found.filter((r) => r !== undefined);
}

function decodeRecord(s: StoredRecord): RecordRow {
  return {
    collection: s.collection,
    id: s.id,
    fields: JSON.parse(s.fields) as JsonObject,
    deleted: s.deleted,
    state: JSON.parse(s.state) as JsonObject,
    conflicted: s.conflicted,
    updated: s.updated,
  };
}

function encodeRecord(r: RecordRow): StoredRecord {
  const stored = {
    collection: r.collection,
    id: r.id,
    key: idKey(r.id),
    fields: JSON.stringify(r.fields),
    deleted: r.deleted === true,
    state: JSON.stringify(r.state),
    conflicted: r.conflicted === true,
    updated: r.updated,
  };
  return stored.conflicted ? { ...stored, conflict: [r.collection, r.id] } : stored;
}

const byCollectionThenId = (a: RecordRow, b: RecordRow): number => compareCodePoints(a.collection, b.collection) || compareCodePoints(a.id, b.id);

/**
 * One transaction's view of the store. Refuses writes in a read transaction
 * and any use after the transaction ended (a leaked handle must not write
 * into some later transaction).
 */
export class IdbTx implements StoreTx {
  #open = true;
  #failure: Error | undefined;
  /** Set when IndexedDB committed or aborted the transaction. */
  #finished = false;
  readonly #tx: IDBTransaction;
  readonly #writable: boolean;
  readonly #label: string;

  constructor(tx: IDBTransaction, writable: boolean, label: string) {
    this.#tx = tx;
    this.#writable = writable;
    this.#label = label;
    const finish = (): void => {
      this.#finished = true;
    };
    tx.addEventListener('complete', finish);
    tx.addEventListener('abort', finish);
  }

  /** Called once the transaction's function has settled. */
  end(): void {
    this.#open = false;
  }

  /**
   * The first IndexedDB failure in this transaction, if any. It dooms the
   * transaction even when the function catches it and goes on: IndexedDB has
   * already aborted it.
   */
  get failure(): Error | undefined {
    return this.#failure;
  }

  async #run<T>(name: string, writes: boolean, op: (store: (n: string) => IDBObjectStore) => Promise<T>): Promise<T> {
    if (!this.#open) throw new KithError(ErrorCode.Internal, `store transaction used after it ended (${name})`);
    if (writes && !this.#writable) throw new KithError(ErrorCode.Internal, `${name} in a read transaction`);
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#finished) {
      // Still inside the function, yet IndexedDB has committed: it was left without a pending request.
      throw new KithError(
        ErrorCode.Internal,
        `internal error: the store ${this.#label} committed a transaction left idle (${name} came after an await of something other than the transaction)`,
      );
    }
    try {
      return await op((n) => this.#tx.objectStore(n));
    } catch (e) {
      if (e instanceof KithError) throw e; // bad input: refused before any request, the transaction goes on
      // A request failed for an earlier one's failure (see putRecords): report that one.
      const cause = domErrorName(e) === 'AbortError' && this.#tx.error !== null ? this.#tx.error : e;
      const mapped = toStoreError(cause, this.#label);
      this.#failure ??= mapped;
      throw mapped;
    }
  }

  getMeta(key: string): Promise<JsonValue | undefined> {
    return this.#run('getMeta', false, async (s) => {
      const v = (await request(s('meta').get(key))) as string | undefined;
      return v === undefined ? undefined : (JSON.parse(v) as JsonValue);
    });
  }

  setMeta(key: string, value: JsonValue | undefined): Promise<void> {
    return this.#run('setMeta', true, async (s) => {
      const meta = s('meta');
      if (value === undefined) await request(meta.delete(key));
      else await request(meta.put(JSON.stringify(value), key));
    });
  }

  getRecords(collection: string, ids: readonly string[]): Promise<Map<string, RecordRow>> {
    return this.#run('getRecords', false, async (s) => {
      const records = s('records');
      const found = await readRows(records, collection, [...new Set(ids.map(idKey))]);
      const out = new Map<string, RecordRow>();
      for (const r of found) out.set(r.id, decodeRecord(r));
      return out;
    });
  }

  putRecords(rows: readonly RecordRow[]): Promise<void> {
    return this.#run('putRecords', true, async (s) => {
      const records = s('records');
      // Requests run and succeed in the order placed (so a later row with the same key replaces an earlier one):
      // the last one's success is every one's. A failed one aborts the transaction, which fails the last one
      // too (with AbortError; the cause is then the transaction's error). One promise, not one per row.
      let last: IDBRequest | undefined;
      for (const r of rows) last = records.put(encodeRecord(r));
      if (last !== undefined) await request(last);
    });
  }

  query(q: RecordQuery): Promise<RecordPage> {
    return this.#run('query', false, async (s) => {
      checkQuery(q);
      if (q.order === undefined) return pageById(s('records'), q);
      const stored = (await request(s('records').getAll(collectionRange(q.collection)))) as StoredRecord[];
      // Only the fields take part in filtering and order: the rest is decoded for the page's rows alone.
      const live = stored.filter((r) => !r.deleted).map((r) => ({ id: r.id, fields: JSON.parse(r.fields) as JsonObject, stored: r }));
      const page = pageOf(live, q);
      return { rows: page.rows.map((r) => ({ ...decodeRecord(r.stored), fields: r.fields })), next: page.next };
    });
  }

  scanRows(collection: string, after: string | undefined, limit: number): Promise<RecordRow[]> {
    return this.#run('scanRows', false, async (s) => {
      // Keys are idKey(id): the range walks ids in code point order, deleted rows included.
      const range = IDBKeyRange.bound(after === undefined ? [collection] : [collection, idKey(after)], [collection, []], after !== undefined, false);
      return ((await request(s('records').getAll(range, limit))) as StoredRecord[]).map(decodeRecord);
    });
  }

  listCollections(): Promise<string[]> {
    return this.#run('listCollections', false, (s) => {
      // One key per collection: after each, jump past the rest of its collection.
      const out: string[] = [];
      const cursor = s('records').openKeyCursor();
      return new Promise<string[]>((resolve, reject) => {
        cursor.onerror = () => reject(cursor.error ?? new DOMException('the cursor failed', 'UnknownError'));
        cursor.onsuccess = () => {
          const c = cursor.result;
          if (c === null) {
            resolve(out.sort(compareCodePoints));
            return;
          }
          const collection = (c.key as [string, string])[0];
          out.push(collection);
          c.continue([collection, []]);
        };
      });
    });
  }

  listConflicted(collection?: string): Promise<RecordRow[]> {
    return this.#run('listConflicted', false, async (s) => {
      const index = s('records').index('conflicted');
      const stored = (await request(index.getAll(collection === undefined ? null : collectionRange(collection)))) as StoredRecord[];
      return stored.map(decodeRecord).sort(byCollectionThenId);
    });
  }

  appendLog(entries: readonly LogEntry[]): Promise<void> {
    return this.#run('appendLog', true, async (s) => {
      // One row per collection of the call, not per entry: a pulled batch of thousands of ops is a request or two.
      const byCollection = new Map<string, LogTuple[]>();
      for (const [n, e] of entries.entries()) {
        let list = byCollection.get(e.collection);
        if (list === undefined) byCollection.set(e.collection, (list = []));
        list.push([e.id, e.stamp, e.device, e.kind, [...e.fields], n]);
      }
      const log = s('log');
      let first: number | undefined;
      for (const [collection, list] of byCollection) {
        const row = { collection, ...(first === undefined ? {} : { first }), entries: JSON.stringify(list) };
        const seq = (await request(log.add(row))) as number;
        first ??= seq;
      }
    });
  }

  readLog(filter: LogFilter): Promise<LogEntry[]> {
    return this.#run('readLog', false, async (s) => {
      const log = s('log');
      const rows = (await request(filter.collection === undefined ? log.getAll() : log.index('collection').getAll(filter.collection))) as StoredLog[];
      const picked = placedEntries(rows, filter.id);
      picked.sort((a, b) => compareCodePoints(a.entry.stamp, b.entry.stamp) || a.call - b.call || a.n - b.n);
      const newest = filter.limit === undefined ? picked : picked.slice(Math.max(0, picked.length - filter.limit));
      return newest.map((p) => p.entry);
    });
  }

  appendOutbox(ops: readonly JsonObject[]): Promise<void> {
    return this.#run('appendOutbox', true, async (s) => {
      const outbox = s('outbox');
      await Promise.all(ops.map((op) => request(outbox.add({ op: JSON.stringify(op) }))));
    });
  }

  readOutbox(limit: number): Promise<OutboxEntry[]> {
    return this.#run('readOutbox', false, async (s) => {
      // getAll's count 0 means "all": a limit below 1 reads nothing.
      if (!(limit >= 1)) return [];
      const rows = (await request(s('outbox').getAll(null, Math.min(Math.floor(limit), 0xffffffff)))) as { seq: number; op: string }[];
      return rows.map((r) => ({ seq: r.seq, op: JSON.parse(r.op) as JsonObject }));
    });
  }

  deleteOutbox(throughSeq: number): Promise<void> {
    return this.#run('deleteOutbox', true, async (s) => {
      await request(s('outbox').delete(IDBKeyRange.upperBound(throughSeq)));
    });
  }

  countOutbox(): Promise<number> {
    return this.#run('countOutbox', false, (s) => request(s('outbox').count()));
  }

  putOwnSegment(seq: number, bytes: Uint8Array): Promise<void> {
    // A copy of exactly these bytes: structured clone of a view would keep its whole buffer.
    return this.#run('putOwnSegment', true, async (s) => {
      await request(s('segments').put(bytes.slice(), seq));
    });
  }

  getOwnSegments(seqs: readonly number[]): Promise<Map<number, Uint8Array>> {
    return this.#run('getOwnSegments', false, async (s) => {
      const segments = s('segments');
      const found = await Promise.all(seqs.map((seq) => request(segments.get(seq)) as Promise<Uint8Array | undefined>));
      const out = new Map<number, Uint8Array>();
      for (const [i, bytes] of found.entries()) if (bytes !== undefined) out.set(seqs[i]!, bytes);
      return out;
    });
  }

  listOwnSegments(): Promise<number[]> {
    return this.#run('listOwnSegments', false, async (s) => (await request(s('segments').getAllKeys())) as number[]);
  }

  deleteOwnSegments(throughSeq: number): Promise<void> {
    return this.#run('deleteOwnSegments', true, async (s) => {
      await request(s('segments').delete(IDBKeyRange.upperBound(throughSeq)));
    });
  }
}
