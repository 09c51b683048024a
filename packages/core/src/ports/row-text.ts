/**
 * @module ports/row-text
 * Column text a reader already holds for a row it parsed (a snapshot's
 * rows carry their fields' JSON text as read), attached under a symbol so
 * the row stays a plain {@link RecordRow} for every other store and caller.
 * A store that keeps fields as JSON text may bind it as is instead of
 * serializing the fields again; the text is valid JSON whose value equals
 * `fields`.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { isJsonObject, type JsonObject } from '../model/json.js';
import type { RecordRow } from '../model/merge.js';
import { oneWriteState } from '../model/one-write.js';

const ROW_TEXT = Symbol('kith.rowText');

export interface RowText {
  /** The fields' JSON text, when the row was read from text (a batch's new rows have only their fields object). */
  readonly fields: string | undefined;
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
 * The row of a record last written whole by one write (a put, or a snapshot's one-write row): no conflict,
 * its state the one-write state of its fields and `updated`, built only if a store reads it (the SQLite store
 * binds the text and never does; about 5 objects per row a bulk batch no longer makes). A snapshot's row read
 * for a bulk load comes without its fields object (the reader checked the text is a JSON object and let the
 * object go, so a batch keeps one string per row alive rather than a tree of objects, which the garbage
 * collector would copy): they are parsed again only if something reads them (the history of a deleted row, a
 * store that takes objects). Getters on the prototype, as the text's: rows go to stores only.
 */
class OneWriteRow implements RecordRow {
  readonly conflicted = false;
  readonly #text: string | undefined;
  #fields: JsonObject | undefined;
  #state: JsonObject | undefined;

  constructor(
    readonly collection: string,
    readonly id: string,
    readonly updated: string,
    fields: JsonObject | undefined,
    text: string | undefined,
    readonly deleted: boolean,
  ) {
    this.#fields = fields;
    this.#text = text;
  }

  get fields(): JsonObject {
    // One of fields and text is always given (the two functions below).
    return (this.#fields ??= parseFields(this.#text!, this.collection, this.id));
  }

  get state(): JsonObject {
    // One register object under every name (registers are values: merges replace them, never change one in place).
    return (this.#state ??= oneWriteState(this.fields, this.updated, true));
  }

  get [ROW_TEXT](): RowText {
    // Made anew at each ask, not cached in a field: the first write to a cache field mid-bootstrap made V8 throw
    // away the optimized code of the reader that builds these rows (field constness), ~10 ms of compiling again.
    return { fields: this.#text, oneWrite: true };
  }

  /** The fields' text this row carries, if any (for {@link oneWriteText}: no RowText object made). */
  static textOf(row: OneWriteRow): string | undefined {
    return row.#text;
  }

  /** A plain row (JSON.stringify reads own properties only, and fields and state are getters). */
  toJSON(): RecordRow {
    const { collection, id, fields, deleted, state, conflicted, updated } = this;
    return { collection, id, fields, deleted, state, conflicted, updated };
  }
}

/** See {@link OneWriteRow}: `text`, if given, is the JSON text of `fields`; live unless `deleted`. */
export function oneWriteRow(collection: string, id: string, updated: string, fields: JsonObject, text?: string, deleted = false): RecordRow {
  return new OneWriteRow(collection, id, updated, fields, text, deleted);
}

/**
 * The fields' JSON text of `row` when it is a one-write row that carries it (a snapshot's row, a put's),
 * else undefined: what `rowText(row)` gives when its `oneWrite` is true, without making that object (a
 * bulk load asks it of every row).
 */
export function oneWriteText(row: RecordRow): string | undefined {
  if (row instanceof OneWriteRow) return OneWriteRow.textOf(row);
  const given = rowText(row);
  return given?.oneWrite ? given.fields : undefined;
}

/** The object a fields text holds, or undefined when it is not the JSON text of an object. */
export function objectOfText(text: string): JsonObject | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return isJsonObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The fields of a text row, parsed when something reads them: a text that is not an object's JSON (a store
 * that checks texts itself was handed it unparsed, see `Store.checksRowText`) is refused here too.
 */
function parseFields(text: string, collection: string, id: string): JsonObject {
  const fields = objectOfText(text);
  if (fields === undefined) throw rowTextNotObject(collection, id);
  return fields;
}

/** The refusal of a row whose fields text is not the JSON text of an object (stores that check texts throw it too). */
export function rowTextNotObject(collection: string, id: string): KithError {
  return new KithError(ErrorCode.IntegrityCorrupt, `record ${collection}/${id} has fields that are not a JSON object`, {
    hint: 'the remote object it came from was altered or damaged; nothing of it was kept',
  });
}

/**
 * See {@link OneWriteRow}, without the fields object: `text` is the JSON text of an object, checked by the
 * caller (it parsed it) or by the store it goes to (`Store.checksRowText`), and by the getter if read.
 */
export function textRow(collection: string, id: string, updated: string, deleted: boolean, text: string): RecordRow {
  return new OneWriteRow(collection, id, updated, undefined, text, deleted);
}
