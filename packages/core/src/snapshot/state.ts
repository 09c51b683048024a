/**
 * @module snapshot/state
 * The merged state as bytes and back: every row (deleted ones too: a
 * tombstone's registers decide a later concurrent write's fate) in the
 * order (collection, id), one JSON line each, cut into chunks where a keyed
 * hash of the row's key says so. Cuts depend on the keys and the row's size
 * only, so a change to one row changes one chunk (two at most), and the
 * next snapshot uploads only that.
 */
import { concatBytes, hexToBytes, hkdfSha256, sha256Sync, utf8 } from '../crypto/index.js';
import type { RecordRow } from '../model/merge.js';
import type { StoreTx } from '../ports/store.js';
import { rowText } from '../ports/row-text.js';
import { isOneWriteState } from '../model/one-write.js';

/**
 * How a state's lines are written: 1, one JSON array per row; 2 (written
 * since), the row's head as a JSON array without the registers when they
 * are the one-write state, a tab, then the fields' JSON text, which a
 * reader may hand to the store as it is. The manifest's version byte says which.
 */
export type RowFormat = 1 | 2;

/** Average chunk size of a small state (rows v1): a change to a few rows re-uploads one chunk each, small beside the state. */
export const SNAPSHOT_CHUNK_TARGET = 32 * 1024;
/** Rows v2 start smaller: their lines are about a third shorter, and a small state must still make several chunks. */
const V2_CHUNK_FLOOR = 2 * 1024;
/** The average grows to this at most. */
const CHUNK_CEILING = 128 * 1024;
/** ...and doubles only while the state still makes this many chunks of the doubled size (rows v1)... */
const MIN_CHUNKS = 32;
/** ...or this many (rows v2), never above rows v1's size for the same records: a small state in a few chunks, not dozens. */
const MIN_CHUNKS_V2 = 8;
/**
 * The same records take about 1.5 times the bytes in rows v1 (v2 lines drop the one-write registers,
 * a third of a typical line): rows v2's cap is rows v1's size for a state this much larger.
 */
const V1_BYTES_PER_V2 = 1.5;

/**
 * The average chunk size for a state of `bytes`. Rows v1: 32 KiB, doubled
 * while the state still makes at least 32 chunks of the doubled size, up
 * to 128 KiB (64 KiB from 2 MiB, 128 KiB from 4 MiB). At 32 KiB the costs
 * of each chunk (a request, a decryption, an inflate) were most of a large
 * state's bootstrap. Rows v2: 2 KiB, doubled while the state still makes
 * at least 8 chunks of the doubled size, but never above rows v1's size
 * for the same records (a v1 state 1.5 times as large): a small state keeps
 * a few small chunks, so a change re-uploads little of it without a
 * bootstrap paying a request per 2 KiB, and a state of 10,000 typical
 * records (about 3 MiB) is read in about 24 chunks, not 48 (each chunk
 * costs a request, a key derivation, a decryption and an id check). When a
 * state crosses a step its chunks change size: that snapshot re-uploads
 * them all, once.
 */
export function chunkTargetOf(format: RowFormat, bytes: number): number {
  const v1Of = (n: number): number => {
    let v1 = SNAPSHOT_CHUNK_TARGET;
    while (v1 < CHUNK_CEILING && n >= MIN_CHUNKS * v1 * 2) v1 *= 2;
    return v1;
  };
  if (format === 1) return v1Of(bytes);
  const cap = v1Of(bytes * V1_BYTES_PER_V2);
  let target = V2_CHUNK_FLOOR;
  while (target < cap && bytes >= MIN_CHUNKS_V2 * target * 2) target *= 2;
  return target;
}

/** {@link chunkTargetOf} rows v1. */
export const snapshotChunkTarget = (bytes: number): number => chunkTargetOf(1, bytes);
/** A chunk is cut here at the latest (mid-row if one row is larger). Below the blob layer's 4 MiB. */
export const SNAPSHOT_CHUNK_MAX = 1024 * 1024;
/** Ids read per store call when fetching deleted rows, and rows per {@link StoreTx.scanRows} page. */
const BATCH = 500;

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** Ids whose place differs between code point and code-unit order hold a code unit from 0xD800 up (U+E000 and above). */
const HIGH_UNIT = /[\uD800-\uFFFF]/;

/**
 * Every row the store holds, by (collection, id) in code-unit order, one
 * at a time: what a snapshot holds. Through {@link StoreTx.scanRows} where
 * the store has it (the cost follows the rows); else the store lists live
 * rows only and deleted ones are found through the history (every row was
 * written by an op that history recorded, or arrived in a snapshot, whose
 * deleted rows are entered in history when applied).
 */
export async function* streamAllRows(tx: StoreTx): AsyncGenerator<RecordRow> {
  for (const collection of (await tx.listCollections()).sort()) {
    if (tx.scanRows) yield* scanInCodeUnitOrder(tx, collection);
    else yield* await rowsFromHistory(tx, collection);
  }
}

/** {@link streamAllRows} as one array (for callers that need the whole state at once). */
export async function readAllRows(tx: StoreTx): Promise<RecordRow[]> {
  const out: RecordRow[] = [];
  for await (const r of streamAllRows(tx)) out.push(r);
  return out;
}

/** One collection's rows for a store without `scanRows`: live rows, plus the others history and conflicts name. */
async function rowsFromHistory(tx: StoreTx, collection: string): Promise<RecordRow[]> {
  const rows = new Map<string, RecordRow>();
  for (const r of (await tx.query({ collection })).rows) rows.set(r.id, r);
  const others = new Set<string>();
  for (const e of await tx.readLog({ collection })) if (!rows.has(e.id)) others.add(e.id);
  for (const r of await tx.listConflicted(collection)) if (!rows.has(r.id)) others.add(r.id);
  const ids = [...others];
  for (let i = 0; i < ids.length; i += BATCH) for (const [id, r] of await tx.getRecords(collection, ids.slice(i, i + BATCH))) rows.set(id, r);
  return [...rows.values()].sort((a, b) => byCodeUnits(a.id, b.id));
}

/**
 * One collection's rows from `scanRows` pages, put in code-unit order. A
 * store pages in code point order (SQLite) or code-unit order; the two
 * agree on any pair where one id has no code unit from 0xD800 up. So the
 * rows of such "plain" ids stream through in store order, and the ids of
 * the others wait (ids only, never rows) until a plain id passes them,
 * then come out sorted, their rows read again by id in the same transaction.
 */
async function* scanInCodeUnitOrder(tx: StoreTx, collection: string): AsyncGenerator<RecordRow> {
  let waiting: string[] = [];
  const release = async function* (below: string | undefined): AsyncGenerator<RecordRow> {
    if (waiting.length === 0) return;
    waiting.sort(byCodeUnits);
    let n = waiting.findIndex((id) => below !== undefined && id > below);
    if (n < 0) n = waiting.length;
    const out = waiting.slice(0, n);
    waiting = waiting.slice(n);
    for (let i = 0; i < out.length; i += BATCH) {
      const ids = out.slice(i, i + BATCH);
      const rows = await tx.getRecords(collection, ids);
      for (const id of ids) {
        const r = rows.get(id);
        if (r) yield r;
      }
    }
  };
  let after: string | undefined;
  for (;;) {
    const page = await tx.scanRows!(collection, after, BATCH);
    for (const r of page) {
      if (HIGH_UNIT.test(r.id)) waiting.push(r.id);
      else {
        yield* release(r.id);
        yield r;
      }
    }
    if (page.length < BATCH) break;
    after = page[page.length - 1]!.id;
  }
  yield* release(undefined);
}

/** One row as its line in rows v1 (without the newline). */
export function rowLine(r: RecordRow): string {
  return JSON.stringify([r.collection, r.id, r.deleted ? 1 : 0, r.updated, r.fields, r.state]);
}

/** One row as its line in rows v2 (without the newline): JSON text never holds a raw tab, so the first one ends the head. */
export function rowLineV2(r: RecordRow): string {
  const deleted = r.deleted ? 1 : 0;
  const head = isOneWriteState(r.fields, r.state, r.updated) ? [r.collection, r.id, deleted, r.updated] : [r.collection, r.id, deleted, r.updated, r.state];
  return `${JSON.stringify(head)}\t${rowText(r)?.fields ?? JSON.stringify(r.fields)}`;
}

/** The key under which cut points are chosen: a vault secret, so the remote cannot tell which rows chunk sizes follow. */
export function cutKey(epochKey: Uint8Array, vaultId: string): Uint8Array {
  return hkdfSha256(epochKey, new Uint8Array(0), concatBytes(utf8('kith/v1/snapshot-cut'), hexToBytes(vaultId)), 32);
}

/** From this size on {@link snapshotChunkTarget} no longer grows: a cutter that has seen this much knows its target. */
const TARGET_SETTLED = MIN_CHUNKS * CHUNK_CEILING;

/**
 * Cuts rows into chunk plaintexts. After a row of n bytes (with its
 * newline) the chunk ends when the first 4 bytes of SHA-256(cutKey ‖
 * collection ‖ 0x00 ‖ id), as a u32, are below 2^32 · n / target: chunks
 * average `target` bytes (by default {@link snapshotChunkTarget} of the
 * whole state) whatever the row sizes. A chunk reaching `max` is cut there.
 */
export function cutRows(rows: Iterable<RecordRow>, key: Uint8Array, target?: number, max = SNAPSHOT_CHUNK_MAX, format: RowFormat = 1): Uint8Array[] {
  const cutter = new RowCutter(key, target, max, format);
  const chunks: Uint8Array[] = [];
  for (const r of rows) chunks.push(...cutter.push(r));
  chunks.push(...cutter.end());
  return chunks;
}

/**
 * {@link cutRows} a row at a time, for a state streamed from the store:
 * it holds the open chunk, and (without an explicit target) the first
 * rows until their size settles the target (4 MiB at most) or the state
 * ends. Gives the same chunks as `cutRows` over the same rows.
 */
export class RowCutter {
  readonly #key: Uint8Array;
  readonly #max: number;
  readonly #format: RowFormat;
  #target: number | undefined;
  /** Lines seen before the target was known, with the draw of their key. */
  #held: { line: Uint8Array; draw: number }[] = [];
  #heldBytes = 0;
  #parts: Uint8Array[] = [];
  #size = 0;

  constructor(key: Uint8Array, target?: number, max = SNAPSHOT_CHUNK_MAX, format: RowFormat = 1) {
    this.#key = key;
    this.#target = target;
    this.#max = max;
    this.#format = format;
  }

  /** Adds the next row; returns the chunks it completed. */
  push(r: RecordRow): Uint8Array[] {
    const line = utf8((this.#format === 1 ? rowLine(r) : rowLineV2(r)) + '\n');
    const h = sha256Sync(concatBytes(this.#key, utf8(r.collection), Uint8Array.of(0), utf8(r.id)));
    const draw = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
    const out: Uint8Array[] = [];
    if (this.#target !== undefined) this.#add(line, draw, out);
    else {
      this.#held.push({ line, draw });
      this.#heldBytes += line.length;
      if (this.#heldBytes >= TARGET_SETTLED) this.#settle(out);
    }
    return out;
  }

  /** After the last row: the remaining chunks. */
  end(): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (this.#target === undefined) this.#settle(out);
    this.#flush(out);
    return out;
  }

  #settle(out: Uint8Array[]): void {
    this.#target = chunkTargetOf(this.#format, this.#heldBytes);
    for (const { line, draw } of this.#held) this.#add(line, draw, out);
    this.#held = [];
  }

  #add(line: Uint8Array, draw: number, out: Uint8Array[]): void {
    this.#parts.push(line);
    this.#size += line.length;
    if (draw < (2 ** 32 * line.length) / this.#target! || this.#size >= this.#max) this.#flush(out);
  }

  #flush(out: Uint8Array[]): void {
    let all = concatBytes(...this.#parts);
    while (all.length > this.#max) {
      out.push(all.slice(0, this.#max));
      all = all.subarray(this.#max);
    }
    if (all.length > 0) out.push(all.slice());
    this.#parts = [];
    this.#size = 0;
  }
}
