/**
 * @module put-refs
 * Outbox references (schema 6). A put on a record this device held nothing
 * of (every import, most of a bulk batch) writes a row whose fields are the
 * op's `s`, and its op is fully given by that row: the outbox then keeps the
 * op as `[collection, id, t]` instead of a second copy of the fields (half
 * the bytes a batch writes, and one JSON serialization of its fields less).
 *
 * A referenced row has the state marker `'@'` (state-codec.ts). When such a
 * row changes before its op is pushed (a later write, a pulled op, a
 * snapshot's rows), the triggers of schema 6 first copy its fields into
 * `outbox_kept`, keyed by the op's stamp, so the push still sends the op as
 * it was written. A reference is resolved from the row while the row still
 * carries the op's stamp and the marker, else from the kept copy.
 *
 * Within a write transaction the ops arrive before their rows
 * (vault/records.ts): {@link PendingRefs} holds the references whose row is
 * not written yet, and any it still holds when the transaction is about to
 * commit, or before the outbox is read, are written out whole.
 */
import type Database from 'better-sqlite3';
import { emptyPutOp, ErrorCode, isEmptyPutOp, KithError, type JsonObject, type JsonValue, type RecordRow } from '@kith/core/adapter';

/** How the outbox holds a referenced op: an array, where ops are objects. */
export type PutRef = readonly [collection: string, id: string, t: string];

/** A reference written in this transaction whose row is not written yet. */
export interface PendingRef {
  readonly op: JsonObject;
  /** The op's outbox seq. */
  readonly seq: number;
}

/** One write transaction's references waiting for their rows, by the op's fields object (the row's, too). */
export class PendingRefs {
  readonly #byFields = new Map<object, PendingRef>();
  /** The device whose stamps the waiting references carry (one per transaction: the writer's). */
  #device = '';

  get size(): number {
    return this.#byFields.size;
  }

  /** Whether `op` (outbox seq `seq`, by `device`) may be kept as a reference; if so it waits for its row. */
  offer(op: JsonObject, seq: number, device: string): boolean {
    if (!isEmptyPutOp(op)) return false;
    const fields = op['s'] as JsonObject;
    // Two ops sharing one fields object: the second is written whole, so each reference finds its own row.
    if (this.#byFields.has(fields)) return false;
    // References of another device than those waiting (never, in practice) are written whole: claim compares one device.
    if (this.#byFields.size > 0 && device !== this.#device) return false;
    this.#device = device;
    this.#byFields.set(fields, { op, seq });
    return true;
  }

  /**
   * For a live, unconflicted one-write row about to be written from its fields object: true when a waiting
   * reference points at it (same object, record and stamp), which then stops waiting.
   */
  claim(row: RecordRow): boolean {
    const p = this.#byFields.get(row.fields);
    if (p === undefined || p.op['c'] !== row.collection || p.op['i'] !== row.id || !isStampOf(row.updated, p.op['t'] as string, this.#device)) return false;
    this.#byFields.delete(row.fields);
    return true;
  }

  /** Every reference still waiting, forgotten here: the caller writes their ops whole. */
  take(): PendingRef[] {
    const out = [...this.#byFields.values()];
    this.#byFields.clear();
    return out;
  }
}

/** Whether `stamp` is `t` + `device`, without building that string (claim runs for every new row of a batch). */
function isStampOf(stamp: string, t: string, device: string): boolean {
  return stamp.length === t.length + device.length && stamp.startsWith(t) && stamp.endsWith(device);
}

export function isPutRef(element: JsonValue): element is JsonValue[] {
  return Array.isArray(element);
}

/** Resolves references and drops kept copies no reference needs any more (one connection's statements). */
export class PutRefStore {
  readonly #fromRow: Database.Statement;
  readonly #fromKept: Database.Statement;
  readonly #keptAny: Database.Statement;
  readonly #forget: Database.Statement;
  readonly #forgetAll: Database.Statement;

  constructor(db: Database.Database) {
    this.#fromRow = db.prepare("SELECT json(fields) FROM records WHERE collection = ? AND id = ? AND updated = ? AND state = '@'").pluck();
    this.#fromKept = db.prepare('SELECT json(fields) FROM outbox_kept WHERE collection = ? AND id = ? AND updated = ?').pluck();
    this.#keptAny = db.prepare('SELECT 1 FROM outbox_kept LIMIT 1').pluck();
    this.#forget = db.prepare('DELETE FROM outbox_kept WHERE collection = ? AND id = ? AND updated = ?');
    this.#forgetAll = db.prepare('DELETE FROM outbox_kept');
  }

  /** The op `ref` stands for, written by `owner`. */
  resolve(ref: JsonValue[], owner: string): JsonObject {
    const [c, i, t] = ref as unknown as PutRef;
    const stamp = t + owner;
    const text = (this.#fromRow.get(c, i, stamp) ?? this.#fromKept.get(c, i, stamp)) as string | undefined;
    if (text === undefined) {
      throw new KithError(ErrorCode.StoreFailed, `the outbox refers to the put of ${c}/${i} at ${stamp}, which the store no longer holds`, {
        hint: 'the store is damaged: restore the device from another one or from a backup',
      });
    }
    return emptyPutOp(c, i, t, JSON.parse(text) as JsonObject) as unknown as JsonObject;
  }

  /** The raw elements of an outbox row (`ops` as stored) with every reference resolved. */
  resolveAll(raw: JsonValue[], owner: string | null): JsonObject[] {
    if (owner !== null) for (let k = 0; k < raw.length; k++) if (isPutRef(raw[k]!)) raw[k] = this.resolve(raw[k] as JsonValue[], owner);
    return raw as JsonObject[];
  }

  /** Whether any kept copy exists (almost never: only rows changed before their push). */
  anyKept(): boolean {
    return this.#keptAny.get() !== undefined;
  }

  /** Drops the kept copies of the references among `raw` (elements of a row of `owner` leaving the outbox). */
  forget(raw: readonly JsonValue[], owner: string): void {
    for (const e of raw) {
      if (!isPutRef(e)) continue;
      const [c, i, t] = e as unknown as PutRef;
      this.#forget.run(c, i, t + owner);
    }
  }

  /** Drops every kept copy: once the outbox is empty no reference needs one (rows changed after their push leave some). */
  forgetAll(): void {
    this.#forgetAll.run();
  }
}
