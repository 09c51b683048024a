/**
 * @module idb-query
 * {@link RecordQuery} evaluated in JavaScript over one collection's rows.
 *
 * IndexedDB orders string keys by UTF-16 code unit and cannot index inside
 * JSON, so the store reads the collection's rows (one key range) and this
 * module filters, orders and pages them. Each row gets a sort key (rank,
 * value, id) in the documented order: missing/null 0 < false 1 < true 2 <
 * numbers 3 < strings 4 < arrays/objects 5 (by JSON text); strings and ids
 * by code point. Pages continue strictly after the key of the last row, so
 * rows changed between pages are neither repeated nor skipped.
 */
import { ErrorCode, KithError, type JsonObject, type JsonValue } from '@kith/core';
import { type RecordQuery } from '@kith/core/adapter';

/** The sort key of a row for one query (also what a cursor holds). */
export interface SortKey {
  readonly rank: number;
  /** 0 for ranks 0–2, the number for 3, the string for 4, the JSON text for 5. */
  readonly value: number | string;
  readonly id: string;
}

const CURSOR_TAG = 'i1';

/** Code point order; `<` on JS strings is UTF-16 order, which puts astral characters before U+E000–U+FFFF. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (part of a code point above U+FFFF) outranks every other code unit.
    const xs = x >= 0xd800 && x <= 0xdfff ? 1 : 0;
    const ys = y >= 0xd800 && y <= 0xdfff ? 1 : 0;
    return xs !== ys ? xs - ys : x - y;
  }
  return a.length - b.length;
}

/**
 * `id` as a key whose UTF-16 order (IndexedDB's) is the code point order of
 * the ids: units E000–FFFF move down to D800–F7FF and surrogates up to
 * F800–FFFF, which puts every character above U+FFFF after every BMP one, as
 * code point order does. Records are keyed by it, so a query by id reads
 * its page straight from a key range.
 */
export function idKey(id: string): string {
  if (!/[\ud800-\uffff]/.test(id)) return id;
  let out = '';
  for (let i = 0; i < id.length; i++) {
    const u = id.charCodeAt(i);
    out += String.fromCharCode(u >= 0xe000 ? u - 0x800 : u >= 0xd800 ? u + 0x2000 : u);
  }
  return out;
}

function badQuery(message: string): KithError {
  return new KithError(ErrorCode.BadInput, `invalid query: ${message}`);
}

/** Rejects malformed queries before any row is read. */
export function checkQuery(q: RecordQuery): void {
  if (typeof q.collection !== 'string') throw badQuery('collection must be a string');
  for (const f of q.where ?? []) {
    if (typeof f.field !== 'string') throw badQuery('a where field must be a string');
    const v: unknown = f.value;
    if (!(v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))) {
      throw badQuery(`where ${JSON.stringify(f.field)}: the value must be a string, a finite number, a boolean or null`);
    }
  }
  if (q.order !== undefined) {
    if (typeof q.order.field !== 'string') throw badQuery('order field must be a string');
    if (q.order.direction !== 'asc' && q.order.direction !== 'desc') throw badQuery('order direction must be "asc" or "desc"');
  }
  if (q.limit !== undefined && !(Number.isSafeInteger(q.limit) && q.limit > 0)) throw badQuery('limit must be a positive integer');
}

/** A field of a record, never an inherited member (field names such as `constructor` are data). */
function fieldOf(fields: JsonObject, name: string): JsonValue | undefined {
  return Object.hasOwn(fields, name) ? fields[name] : undefined;
}

/** True when `fields` passes every equality filter of `q`; null matches a null or missing field. */
export function matchesWhere(fields: JsonObject, q: RecordQuery): boolean {
  for (const f of q.where ?? []) {
    const v = fieldOf(fields, f.field);
    if (f.value === null ? v !== undefined && v !== null : v !== f.value) return false;
  }
  return true;
}

/** The sort key of a row under `q` (by id alone when `q` has no order). */
export function sortKey(fields: JsonObject, id: string, q: RecordQuery): SortKey {
  if (q.order === undefined) return { rank: 0, value: 0, id };
  const v = fieldOf(fields, q.order.field);
  if (v === undefined || v === null) return { rank: 0, value: 0, id };
  if (v === false) return { rank: 1, value: 0, id };
  if (v === true) return { rank: 2, value: 0, id };
  if (typeof v === 'number') return { rank: 3, value: v, id };
  if (typeof v === 'string') return { rank: 4, value: v, id };
  return { rank: 5, value: JSON.stringify(v), id };
}

/** Ascending order of sort keys; ties on (rank, value) go to the id. */
export function compareKeys(a: SortKey, b: SortKey): number {
  if (a.rank !== b.rank) return a.rank - b.rank;
  if (a.value !== b.value) {
    if (typeof a.value === 'number' && typeof b.value === 'number') return a.value < b.value ? -1 : 1;
    const c = compareCodePoints(String(a.value), String(b.value));
    if (c !== 0) return c;
  }
  return compareCodePoints(a.id, b.id);
}

/** Which queries a cursor may continue: the same order field and direction. */
function scope(q: RecordQuery): [string | null, string] {
  return q.order === undefined ? [null, 'asc'] : [q.order.field, q.order.direction];
}

function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): string {
  const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

/** The opaque `next` cursor for a page that ended at `key`. */
export function encodeCursor(q: RecordQuery, key: SortKey): string {
  const [field, dir] = scope(q);
  return toBase64Url(JSON.stringify([CURSOR_TAG, field, dir, key.rank, key.value, key.id]));
}

/** The key a cursor of `q` continues after; KITH_BAD_INPUT for anything else. */
export function decodeCursor(cursor: string, q: RecordQuery): SortKey {
  const bad = (why: string): KithError =>
    new KithError(ErrorCode.BadInput, `invalid query cursor: ${why}`, { hint: 'pass the `next` value of a previous page of the same query' });
  let parsed: unknown;
  try {
    parsed = typeof cursor === 'string' && /^[A-Za-z0-9_-]+$/.test(cursor) ? JSON.parse(fromBase64Url(cursor)) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 6 || parsed[0] !== CURSOR_TAG) throw bad('not a cursor of this store');
  const [, field, dir, rank, value, id] = parsed as unknown[];
  const [wantField, wantDir] = scope(q);
  if (field !== wantField || dir !== wantDir) throw bad('it belongs to a query with another order');
  if (!(typeof rank === 'number' && Number.isInteger(rank) && rank >= 0 && rank <= 5)) throw bad('malformed');
  if (typeof value !== (rank >= 4 ? 'string' : 'number') || typeof id !== 'string') throw bad('malformed');
  return { rank, value: value as number | string, id };
}

/** One page of `q` over candidate rows, already filtered to the live rows of its collection (any order). */
export function pageOf<R extends { readonly id: string; readonly fields: JsonObject }>(rows: readonly R[], q: RecordQuery): { rows: R[]; next: string | null } {
  const sign = q.order?.direction === 'desc' ? -1 : 1;
  const after = q.after === undefined ? undefined : decodeCursor(q.after, q);
  let keyed = rows.filter((r) => matchesWhere(r.fields, q)).map((r) => ({ r, k: sortKey(r.fields, r.id, q) }));
  if (after !== undefined) keyed = keyed.filter((x) => sign * compareKeys(x.k, after) > 0);
  keyed.sort((x, y) => sign * compareKeys(x.k, y.k));
  if (q.limit === undefined || keyed.length <= q.limit) return { rows: keyed.map((x) => x.r), next: null };
  const page = keyed.slice(0, q.limit);
  return { rows: page.map((x) => x.r), next: encodeCursor(q, page[page.length - 1]!.k) };
}
