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
import { checkCollection, checkRecordId } from '../model/names.js';
import type { StoreTx } from '../ports/store.js';

/** Average chunk size of a small state: a change to a few rows re-uploads one chunk each, small beside the state. */
export const SNAPSHOT_CHUNK_TARGET = 32 * 1024;
/** The average doubles at most this often (to 128 KiB). */
const MAX_DOUBLINGS = 2;
/** ...and only while the state still makes this many chunks of the doubled size. */
const MIN_CHUNKS = 32;

/**
 * The average chunk size for a state of `bytes`: 32 KiB, doubled while
 * the state still makes at least 32 chunks of the doubled size, at most
 * twice (64 KiB from 2 MiB, 128 KiB from 4 MiB). At 32 KiB the costs of
 * each chunk (a request, a decryption, an inflate) were most of a large
 * state's bootstrap; a small state keeps small chunks, so a change
 * re-uploads little of it. When a state crosses 2 or 4 MiB its chunks
 * change size: that snapshot re-uploads them all, once.
 */
export function snapshotChunkTarget(bytes: number): number {
  let target = SNAPSHOT_CHUNK_TARGET;
  for (let k = 0; k < MAX_DOUBLINGS && bytes >= MIN_CHUNKS * target * 2; k++) target *= 2;
  return target;
}
/** A chunk is cut here at the latest (mid-row if one row is larger). Below the blob layer's 4 MiB. */
export const SNAPSHOT_CHUNK_MAX = 1024 * 1024;
const NEWLINE = 0x0a;
/** Ids read per store call when fetching deleted rows. */
const BATCH = 500;

/**
 * Every row the store holds, by (collection, id) in code-unit order. The
 * store lists live rows only; deleted ones are found through the history
 * (every row was written by an op that history recorded, or arrived in a
 * snapshot, whose deleted rows are entered in history when applied).
 */
export async function readAllRows(tx: StoreTx): Promise<RecordRow[]> {
  const out: RecordRow[] = [];
  for (const collection of (await tx.listCollections()).sort()) {
    const rows = new Map<string, RecordRow>();
    for (const r of (await tx.query({ collection })).rows) rows.set(r.id, r);
    const others = new Set<string>();
    for (const e of await tx.readLog({ collection })) if (!rows.has(e.id)) others.add(e.id);
    for (const r of await tx.listConflicted(collection)) if (!rows.has(r.id)) others.add(r.id);
    const ids = [...others];
    for (let i = 0; i < ids.length; i += BATCH) for (const [id, r] of await tx.getRecords(collection, ids.slice(i, i + BATCH))) rows.set(id, r);
    out.push(...[...rows.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
  }
  return out;
}

/** One row as its line (without the newline). */
export function rowLine(r: RecordRow): string {
  return JSON.stringify([r.collection, r.id, r.deleted ? 1 : 0, r.updated, r.fields, r.state]);
}

/** The key under which cut points are chosen: a vault secret, so the remote cannot tell which rows chunk sizes follow. */
export function cutKey(epochKey: Uint8Array, vaultId: string): Uint8Array {
  return hkdfSha256(epochKey, new Uint8Array(0), concatBytes(utf8('kith/v1/snapshot-cut'), hexToBytes(vaultId)), 32);
}

/**
 * Cuts rows into chunk plaintexts. After a row of n bytes (with its
 * newline) the chunk ends when the first 4 bytes of SHA-256(cutKey ‖
 * collection ‖ 0x00 ‖ id), as a u32, are below 2^32 · n / target: chunks
 * average `target` bytes (by default {@link snapshotChunkTarget} of the
 * whole state) whatever the row sizes. A chunk reaching `max` is cut there.
 */
export function cutRows(rows: Iterable<RecordRow>, key: Uint8Array, target?: number, max = SNAPSHOT_CHUNK_MAX): Uint8Array[] {
  const lines: { line: Uint8Array; r: RecordRow }[] = [];
  let total = 0;
  for (const r of rows) {
    const line = utf8(rowLine(r) + '\n');
    lines.push({ line, r });
    total += line.length;
  }
  const average = target ?? snapshotChunkTarget(total);
  const chunks: Uint8Array[] = [];
  let parts: Uint8Array[] = [];
  let size = 0;
  const flush = (): void => {
    let all = concatBytes(...parts);
    while (all.length > max) {
      chunks.push(all.slice(0, max));
      all = all.subarray(max);
    }
    if (all.length > 0) chunks.push(all.slice());
    parts = [];
    size = 0;
  };
  for (const { line, r } of lines) {
    parts.push(line);
    size += line.length;
    const h = sha256Sync(concatBytes(key, utf8(r.collection), Uint8Array.of(0), utf8(r.id)));
    const draw = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
    if (draw < (2 ** 32 * line.length) / average || size >= max) flush();
  }
  flush();
  return chunks;
}

/** Reads rows back from chunk plaintexts fed in order; refuses anything that is not a well-formed row. */
export class RowReader {
  readonly #what: string;
  #carry: Uint8Array = new Uint8Array(0);
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(what: string) {
    this.#what = what;
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
    return text.split('\n').map((line) => this.#row(line));
  }

  /** After the last chunk: nothing may be left over. */
  end(): void {
    if (this.#carry.length > 0) throw corrupt(this.#what, 'the state ends inside a row');
  }

  #row(line: string): RecordRow {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw corrupt(this.#what, 'a row is not JSON');
    }
    if (!Array.isArray(v) || v.length !== 6) throw corrupt(this.#what, 'a row is not a 6-element array');
    const [collection, id, deleted, updated, fields, state] = v as unknown[];
    try {
      checkCollection(collection as string);
      checkRecordId(id as string);
    } catch (e) {
      if (KithError.is(e, ErrorCode.BadName)) throw corrupt(this.#what, e.message);
      throw e;
    }
    if ((deleted !== 0 && deleted !== 1) || typeof updated !== 'string' || !isPlainObject(fields) || !isPlainObject(state)) {
      throw corrupt(this.#what, `row ${String(collection)}/${String(id)} is malformed`);
    }
    let losers = false;
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
    if (!losers) return { collection: c, id: i, deleted: deleted === 1, updated, fields, state, conflicted: false };
    return rowOf(viewOf({ collection: c, id: i, deleted: deleted === 1, updated, fields, state, conflicted: false }, c, i));
  }
}

function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
