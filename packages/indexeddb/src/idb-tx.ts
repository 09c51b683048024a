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
import { checkQuery, compareCodePoints, idKey, pageOf } from './idb-query.js';
import { domErrorName, toStoreError } from './idb-errors.js';
import { filterLog, logBatches, type StoredLog } from './idb-log.js';
import { byCollectionThenId, collectionRange, decodeRecord, encodeRecord, pageById, readRows, type StoredRecord } from './idb-records.js';
import { request } from './idb-request.js';

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
      const log = s('log');
      let first: number | undefined;
      for (const [collection, list] of logBatches(entries)) {
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
      return filterLog(rows, filter);
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
