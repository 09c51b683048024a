/**
 * @module snapshot/state
 * The merged state as bytes and back: every row (deleted ones too: a
 * tombstone's registers decide a later concurrent write's fate) in the
 * order (collection, id), one JSON line each, cut into chunks where a keyed
 * hash of the row's key says so. Cuts depend on the keys and the row's size
 * only, so a change to one row changes one chunk (two at most), and the
 * next snapshot uploads only that.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { concatBytes, hexToBytes, hkdfSha256, sha256Sync, utf8 } from '../crypto/index.js';
import { corrupt } from '../format/framing.js';
import type { JsonObject } from '../model/json.js';
import { rowOf, viewOf, type RecordRow } from '../model/merge.js';
import { checkCollection, checkRecordId, isRecordId, isReservedCollection } from '../model/names.js';
import type { StoreTx } from '../ports/store.js';
import { rowText, rowWithText, type RowText } from '../ports/row-text.js';
import { isOneWriteState, oneWriteState } from '../model/one-write.js';

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
const NEWLINE = 0x0a;
/**
 * A rows v2 head as writers write it for a one-write row: `["collection","id",0|1,"updated"]`, each
 * string without a quote, backslash or control character, so its JSON value is its text as it stands.
 * Read with this instead of JSON.parse (a tenth of a cold bootstrap's parsing at 10,000 rows); any
 * other head, escapes or spaces included, goes to JSON.parse, so both read every head alike.
 */
const PLAIN_HEAD = /^\["([^"\\\x00-\x1f]*)","([^"\\\x00-\x1f]*)",([01]),"([^"\\\x00-\x1f]*)"\]$/;
/** {@link PLAIN_HEAD} at the start of a whole line, with the tab that ends it. */
const PLAIN_HEAD_TAB = /^\["([^"\\\x00-\x1f]*)","([^"\\\x00-\x1f]*)",([01]),"([^"\\\x00-\x1f]*)"\]\t/;
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

/** Reads rows back from chunk plaintexts fed in order; refuses anything that is not a well-formed row. */
export class RowReader {
  readonly #what: string;
  readonly #format: RowFormat;
  #carry: Uint8Array = new Uint8Array(0);
  /** The collection name of the last row read, which passed its check. */
  #collection: unknown;
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(what: string, format: RowFormat = 1) {
    this.#what = what;
    this.#format = format;
  }

  push(chunk: Uint8Array): RecordRow[] {
    const bytes = this.#carry.length > 0 ? concatBytes(this.#carry, chunk) : chunk;
    const end = bytes.lastIndexOf(NEWLINE);
    if (end < 0) {
      this.#carry = bytes.slice();
      return [];
    }
    // One decode per chunk rather than per row: the complete lines end at a newline, never inside a character.
    let text: string;
    try {
      text = this.#decoder.decode(bytes.subarray(0, end));
    } catch {
      throw corrupt(this.#what, 'a row is not JSON');
    }
    this.#carry = bytes.slice(end + 1);
    // JSON text escapes newlines inside strings: every '\n' in the text ends a row.
    const lines = text.split('\n');
    return this.#format === 1 ? lines.map((line) => this.#rowV1(line)) : this.#linesV2(lines);
  }

  /**
   * Rows v2 lines. The usual one (a plain head, one-write registers, the collection of the row before, an
   * object for fields, a valid id) is read here in one loop with the same outcome as {@link RowReader.#rowV2}:
   * a bootstrap's first 10,000 rows run mostly in the interpreter, where each call per row costs. Any other
   * line, and any line that fails a check, goes through #rowV2, which reads it again and refuses it there.
   */
  #linesV2(lines: string[]): RecordRow[] {
    const out: RecordRow[] = [];
    for (const line of lines) {
      const plain = PLAIN_HEAD_TAB.exec(line);
      if (plain === null || plain[1] !== this.#collection || !isRecordId(plain[2])) {
        out.push(this.#rowV2(line));
        continue;
      }
      const fieldsText = line.slice(plain[0].length);
      let fields: unknown;
      try {
        fields = JSON.parse(fieldsText);
      } catch {
        fields = undefined;
      }
      if (!isPlainObject(fields)) {
        out.push(this.#rowV2(line));
        continue;
      }
      const updated = plain[4]!;
      out.push(
        rowWithText(plain[1]!, plain[2], plain[3] === '1', updated, fields, oneWriteState(fields, updated, true), { fields: fieldsText, oneWrite: true }),
      );
    }
    return out;
  }

  /** After the last chunk: nothing may be left over. */
  end(): void {
    if (this.#carry.length > 0) throw corrupt(this.#what, 'the state ends inside a row');
  }

  #rowV1(line: string): RecordRow {
    const v = this.#json(line);
    if (!Array.isArray(v) || v.length !== 6) throw corrupt(this.#what, 'a row is not a 6-element array');
    const [collection, id, deleted, updated, fields, state] = v as unknown[];
    return this.#checked(collection, id, deleted, updated, fields, state);
  }

  /** A v2 line: the head array (4 elements, or 5 with the registers), a tab, the fields' JSON text. */
  #rowV2(line: string): RecordRow {
    const tab = line.indexOf('\t');
    if (tab < 0) throw corrupt(this.#what, 'a row has no fields');
    const headText = line.slice(0, tab);
    const plain = PLAIN_HEAD.exec(headText);
    const head = plain ? [plain[1], plain[2], plain[3] === '1' ? 1 : 0, plain[4]] : this.#json(headText);
    if (!Array.isArray(head) || (head.length !== 4 && head.length !== 5)) throw corrupt(this.#what, 'a row head is not a 4- or 5-element array');
    const fieldsText = line.slice(tab + 1);
    const fields = this.#json(fieldsText);
    const [collection, id, deleted, updated, given] = head as unknown[];
    const oneWrite = head.length === 4;
    // The registers are rebuilt only after the fields are known to be an object (checked again below).
    const state = oneWrite && typeof updated === 'string' && isPlainObject(fields) ? oneWriteState(fields, updated) : given;
    return this.#checked(collection, id, deleted, updated, fields, state, oneWrite, { fields: fieldsText, oneWrite });
  }

  #json(text: string): unknown {
    try {
      return JSON.parse(text);
    } catch {
      throw corrupt(this.#what, 'a row is not JSON');
    }
  }

  /**
   * `built`: the registers are the one-write state this reader made (well-formed, no losers), not read.
   * `text`: the fields' text, carried by the row while its fields are the parsed object (a conflicted row's are the merge's copy).
   */
  #checked(collection: unknown, id: unknown, deleted: unknown, updated: unknown, fields: unknown, state: unknown, built = false, text?: RowText): RecordRow {
    try {
      // Rows come in collection order: a name checked for the row before is not checked again.
      // The engine's reserved collections (retention, the spaces directory and keyring) are state too: writers include them.
      if (collection !== this.#collection && !isReservedCollection(collection as string)) checkCollection(collection as string);
      checkRecordId(id as string);
    } catch (e) {
      if (KithError.is(e, ErrorCode.BadName)) throw corrupt(this.#what, e.message);
      throw e;
    }
    if ((deleted !== 0 && deleted !== 1) || typeof updated !== 'string' || !isPlainObject(fields) || !isPlainObject(state)) {
      throw corrupt(this.#what, `row ${String(collection)}/${String(id)} is malformed`);
    }
    let losers = false;
    if (!built)
      for (const reg of Object.values(state)) {
        if (
          !isPlainObject(reg) ||
          typeof reg.w !== 'string' ||
          (reg.l !== undefined && !Array.isArray(reg.l)) ||
          (reg.p !== undefined && !Array.isArray(reg.p))
        ) {
          throw corrupt(this.#what, `row ${String(collection)}/${String(id)} has a malformed register`);
        }
        if (reg.l !== undefined) losers = true;
      }
    const c = collection as string;
    const i = id as string;
    // `conflicted` is derived, never taken from the bytes: without losing heads there is no conflict, and the
    // parsed objects are the row's own (the merge's view would only copy them); else through the merge's view.
    this.#collection = c;
    if (!losers)
      return text
        ? rowWithText(c, i, deleted === 1, updated, fields, state, text)
        : { collection: c, id: i, deleted: deleted === 1, updated, fields, state, conflicted: false };
    return rowOf(viewOf({ collection: c, id: i, deleted: deleted === 1, updated, fields, state, conflicted: false }, c, i));
  }
}

function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
