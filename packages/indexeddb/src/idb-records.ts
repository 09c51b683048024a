/**
 * @module idb-records
 * The `records` object store: how a row is kept (fields and state as JSON
 * text, the id under {@link idKey} as the second part of the primary key,
 * a sparse `conflicted` index), and the reads that walk it by key range:
 * a page in id order, a set of ids, a whole collection.
 */
import type { JsonObject } from '@kith/core';
import type { RecordPage, RecordQuery, RecordRow } from '@kith/core/adapter';
import { compareCodePoints, decodeCursor, encodeCursor, idKey, matchesWhere } from './idb-query.js';
import { request } from './idb-request.js';

/** A record as kept in the `records` object store. */
export interface StoredRecord {
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

/** Every key [collection, …] of one collection: arrays sort above strings, so [c, []] is above every [c, key]. */
export function collectionRange(collection: string): IDBKeyRange {
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
export async function pageById(records: IDBObjectStore, q: RecordQuery): Promise<RecordPage> {
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
export async function readRows(records: IDBObjectStore, collection: string, keys: readonly string[]): Promise<StoredRecord[]> {
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

export function decodeRecord(s: StoredRecord): RecordRow {
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

export function encodeRecord(r: RecordRow): StoredRecord {
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

export const byCollectionThenId = (a: RecordRow, b: RecordRow): number => compareCodePoints(a.collection, b.collection) || compareCodePoints(a.id, b.id);
