/**
 * @module ports/row-text
 * Column text a reader already holds for a row it parsed (a snapshot's
 * rows carry their fields' JSON text as read), attached under a symbol so
 * the row stays a plain {@link RecordRow} for every other store and caller.
 * A store that keeps fields as JSON text may bind it as is instead of
 * serializing the fields again; the text is valid JSON whose value equals
 * `fields`.
 */
import type { JsonObject } from '../model/json.js';
import type { RecordRow } from '../model/merge.js';
import { oneWriteState } from '../model/one-write.js';

const ROW_TEXT = Symbol('kith.rowText');

export interface RowText {
  /** The fields' JSON text. */
  readonly fields: string;
  /** True when the row's state is the one-write state of its fields and `updated` (model/one-write.ts). */
  readonly oneWrite: boolean;
}

/**
 * A row with its text attached: a private field behind a getter on the
 * prototype, so copies, JSON and structured clones leave it out (a copy
 * whose fields change must not carry the old text). Cheaper than defining
 * a non-enumerable property on each row (about 5 ms per 10,000 rows here).
 */
class RowWithText implements RecordRow {
  readonly #text: RowText;

  constructor(
    readonly collection: string,
    readonly id: string,
    readonly deleted: boolean,
    readonly updated: string,
    readonly fields: JsonObject,
    readonly state: JsonObject,
    readonly conflicted: boolean,
    text: RowText,
  ) {
    this.#text = text;
  }

  get [ROW_TEXT](): RowText {
    return this.#text;
  }
}

/** A new row without a conflict, carrying `text` (see {@link RowWithText}). */
export function rowWithText(
  collection: string,
  id: string,
  deleted: boolean,
  updated: string,
  fields: JsonObject,
  state: JsonObject,
  text: RowText,
): RecordRow {
  return new RowWithText(collection, id, deleted, updated, fields, state, false, text);
}

/** The text attached to `row`, if any. */
export function rowText(row: RecordRow): RowText | undefined {
  return (row as { [ROW_TEXT]?: RowText })[ROW_TEXT];
}

/**
 * The row of a record one put created: live, no conflict, its state the one-write state of its fields and
 * `updated`, built only if a store reads it (the SQLite store binds the text and never does; about 5 objects
 * per row a bulk batch no longer makes). A getter on the prototype, as the text's: rows go to stores only.
 */
class OneWriteRow implements RecordRow {
  readonly deleted = false;
  readonly conflicted = false;
  readonly #text: RowText;
  #state: JsonObject | undefined;

  constructor(
    readonly collection: string,
    readonly id: string,
    readonly updated: string,
    readonly fields: JsonObject,
    text: string,
  ) {
    this.#text = { fields: text, oneWrite: true };
  }

  get state(): JsonObject {
    return (this.#state ??= oneWriteState(this.fields, this.updated));
  }

  get [ROW_TEXT](): RowText {
    return this.#text;
  }

  /** A plain row, state included (JSON.stringify reads own properties only, and the state is a getter). */
  toJSON(): RecordRow {
    const { collection, id, fields, deleted, state, conflicted, updated } = this;
    return { collection, id, fields, deleted, state, conflicted, updated };
  }
}

/** See {@link OneWriteRow}: `text` is the JSON text of `fields`. */
export function oneWriteRow(collection: string, id: string, updated: string, fields: JsonObject, text: string): RecordRow {
  return new OneWriteRow(collection, id, updated, fields, text);
}
