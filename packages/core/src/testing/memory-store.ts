/**
 * @module testing/memory-store
 * A Store held in memory: the reference implementation of the Store
 * contract (it passes the same conformance suite as the SQLite store) and a
 * fast store for core tests. Not durable: data lives as long as the
 * `MemoryStoreData` object given to it.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { own } from '../base/data-keys.js';
import type { JsonObject, JsonValue } from '../model/json.js';
import type { LogEntry, LogFilter, OutboxEntry, RecordPage, RecordQuery, RecordRow, Store, StoreTx } from '../ports/store.js';
import { compareCodePoints, compareFieldValues, referenceQuery } from './store-conformance.js';

/** What a memory store keeps; pass the same object again to "reopen" it. */
export interface MemoryStoreData {
  meta: Map<string, string>;
  records: Map<string, string>;
  log: LogEntry[];
  outbox: OutboxEntry[];
  outboxSeq: number;
  /** This device's own pushed segments, by seq. */
  ownSegments: Map<number, Uint8Array>;
}

export const newMemoryStoreData = (): MemoryStoreData => ({ meta: new Map(), records: new Map(), log: [], outbox: [], outboxSeq: 0, ownSegments: new Map() });

const recordKey = (collection: string, id: string): string => `${collection}\u0000${id}`;
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** Opens a store over `data` (a fresh one by default). */
export function openMemoryStore(data: MemoryStoreData = newMemoryStoreData()): Store {
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.catch(() => undefined).then(fn);
    queue = run;
    return run;
  };
  const check = (): void => {
    if (closed) throw new Error('memory store is closed');
  };
  return {
    read: (fn) => serial(async () => (check(), scoped(fn, data, false))),
    // The queue keeps writes out until fn settles, whatever else it awaits.
    bulkRead: (fn) => serial(async () => (check(), scoped(fn, data, false))),
    // Copy-on-write: the transaction works on a copy that replaces the data only on success.
    write: (fn) =>
      serial(async () => {
        check();
        const draft: MemoryStoreData = {
          meta: new Map(data.meta),
          records: new Map(data.records),
          log: [...data.log],
          outbox: [...data.outbox],
          outboxSeq: data.outboxSeq,
          ownSegments: new Map(data.ownSegments),
        };
        const out = await scoped(fn, draft, true);
        Object.assign(data, draft);
        return out;
      }),
    close: async () => {
      await queue.catch(() => undefined);
      closed = true;
    },
  };
}

const WRITES = new Set(['setMeta', 'putRecords', 'appendLog', 'appendOutbox', 'deleteOutbox', 'putOwnSegment', 'deleteOwnSegments']);

/** Runs `fn` with a transaction that refuses writes in a read and any use after it ended. */
async function scoped<T>(fn: (tx: StoreTx) => Promise<T>, d: MemoryStoreData, writable: boolean): Promise<T> {
  const inner = txOver(d);
  let open = true;
  const tx = Object.fromEntries(
    Object.entries(inner).map(([name, method]) => [
      name,
      async (...args: unknown[]) => {
        if (!open) throw new KithError(ErrorCode.Internal, `store transaction used after it ended (${name})`);
        if (!writable && WRITES.has(name)) throw new KithError(ErrorCode.Internal, `${name} in a read transaction`);
        return (method as (...a: unknown[]) => Promise<unknown>)(...args);
      },
    ]),
  ) as unknown as StoreTx;
  try {
    return await fn(tx);
  } finally {
    open = false;
  }
}

function txOver(d: MemoryStoreData): StoreTx {
  const allRows = (): RecordRow[] => [...d.records.values()].map((s) => JSON.parse(s) as RecordRow);
  return {
    getMeta: async (key) => {
      const v = d.meta.get(key);
      return v === undefined ? undefined : (JSON.parse(v) as JsonValue);
    },
    setMeta: async (key, value) => {
      if (value === undefined) d.meta.delete(key);
      else d.meta.set(key, JSON.stringify(value));
    },
    getRecords: async (collection, ids) => {
      const out = new Map<string, RecordRow>();
      for (const id of ids) {
        const s = d.records.get(recordKey(collection, id));
        if (s) out.set(id, JSON.parse(s) as RecordRow);
      }
      return out;
    },
    putRecords: async (rows) => {
      for (const r of rows) d.records.set(recordKey(r.collection, r.id), JSON.stringify(r));
    },
    query: async (q: RecordQuery): Promise<RecordPage> => {
      let rows = referenceQuery(allRows(), q);
      if (q.after !== undefined && q.after !== '') {
        const cur = JSON.parse(q.after) as { v?: JsonValue; id: string };
        const sign = q.order?.direction === 'desc' ? -1 : 1;
        rows = rows.filter((r) => sign * ((q.order ? compareFieldValues(own(r.fields, q.order.field), cur.v) : 0) || compareCodePoints(r.id, cur.id)) > 0);
      }
      const limit = q.limit ?? rows.length;
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      const more = rows.length > limit && last !== undefined;
      const v = last && q.order ? own(last.fields, q.order.field) : undefined;
      return { rows: page, next: more ? JSON.stringify(v === undefined ? { id: last.id } : { v, id: last.id }) : null };
    },
    listCollections: async () => [...new Set(allRows().map((r) => r.collection))].sort(compareCodePoints),
    listConflicted: async (collection) =>
      allRows()
        .filter((r) => r.conflicted && (collection === undefined || r.collection === collection))
        .sort((a, b) => compareCodePoints(a.collection, b.collection) || compareCodePoints(a.id, b.id)),
    // Ids from the keys, and only the page's rows parsed: a scan of a large store stays cheap per page.
    scanRows: async (collection, after, limit) => {
      const prefix = recordKey(collection, '');
      const ids: string[] = [];
      for (const key of d.records.keys()) {
        const id = key.slice(prefix.length);
        if (key.startsWith(prefix) && (after === undefined || compareCodePoints(id, after) > 0)) ids.push(id);
      }
      return ids
        .sort(compareCodePoints)
        .slice(0, limit)
        .map((id) => JSON.parse(d.records.get(recordKey(collection, id))!) as RecordRow);
    },
    appendLog: async (entries) => {
      d.log.push(...clone(entries as LogEntry[]));
    },
    readLog: async (f: LogFilter) => {
      const hits = d.log
        .filter((e) => (f.collection === undefined || e.collection === f.collection) && (f.id === undefined || e.id === f.id))
        .sort((a, b) => (a.stamp < b.stamp ? -1 : a.stamp > b.stamp ? 1 : 0));
      return clone(f.limit === undefined ? hits : hits.slice(Math.max(0, hits.length - f.limit)));
    },
    appendOutbox: async (ops: readonly JsonObject[]) => {
      for (const op of ops) d.outbox.push({ seq: ++d.outboxSeq, op: clone(op) });
    },
    readOutbox: async (limit) => clone(d.outbox.slice(0, limit)),
    deleteOutbox: async (through) => {
      d.outbox = d.outbox.filter((e) => e.seq > through);
    },
    countOutbox: async () => d.outbox.length,
    // Copies in and out: a caller's later edits of its array never reach the store.
    putOwnSegment: async (seq, bytes) => {
      d.ownSegments.set(seq, bytes.slice());
    },
    getOwnSegments: async (seqs) => {
      const out = new Map<number, Uint8Array>();
      for (const seq of seqs) {
        const bytes = d.ownSegments.get(seq);
        if (bytes) out.set(seq, bytes.slice());
      }
      return out;
    },
    listOwnSegments: async () => [...d.ownSegments.keys()].sort((a, b) => a - b),
    deleteOwnSegments: async (through) => {
      for (const seq of [...d.ownSegments.keys()]) if (seq <= through) d.ownSegments.delete(seq);
    },
  };
}
