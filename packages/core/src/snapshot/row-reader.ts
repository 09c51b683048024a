/**
 * @module snapshot/row-reader
 * Reading a snapshot's state back: the lines of chunk plaintexts fed in
 * order, each checked (names, ids, registers, order) before it becomes a
 * row; see snapshot/state.ts for how they are written.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { concatBytes, fromUtf8 } from '../crypto/index.js';
import { corrupt } from '../format/framing.js';
import { isJsonObject } from '../model/json.js';
import { rowOf, viewOf, type RecordRow } from '../model/merge.js';
import { checkCollection, checkRecordId, isReservedCollection, MAX_NAME_LENGTH } from '../model/names.js';
import { objectOfText, oneWriteRow, rowWithText, textRow, type RowText } from '../ports/row-text.js';
import type { Store } from '../ports/store.js';
import { oneWriteState } from '../model/one-write.js';
import type { RowFormat } from './state.js';

/**
 * What a reader's rows hold. `objects`: the fields parsed (for any store). `text`: each row's fields text too,
 * checked here by parsing it, for a store that binds the text (the SQLite store). `store-checked-text`: a
 * one-write row's text that opens an object goes on without being parsed here: the store checks it as it
 * stores it ({@link Store.checksRowText}; the SQLite store's insert does, for a tenth of JSON.parse's cost).
 */
export type RowOutput = 'objects' | 'text' | 'store-checked-text';

/** The rows a bulk load into `store` takes (a store without `bulkLoad` gets objects, once every chunk is read). */
export function bulkRowOutput(store: Store): RowOutput {
  return store.checksRowText === true ? 'store-checked-text' : 'text';
}

const NEWLINE = 0x0a;
const OPEN_BRACE = 0x7b;
/**
 * A rows v2 head as writers write it for a one-write row: `["collection","id",0|1,"updated"]`, each
 * string without a quote, backslash or control character, so its JSON value is its text as it stands.
 * Read with this instead of JSON.parse (a tenth of a cold bootstrap's parsing at 10,000 rows); any
 * other head, escapes or spaces included, goes to JSON.parse, so both read every head alike.
 */
const PLAIN_HEAD = /^\["([^"\\\x00-\x1f]*)","([^"\\\x00-\x1f]*)",([01]),"([^"\\\x00-\x1f]*)"\]$/;
/**
 * {@link PLAIN_HEAD} where a line starts (sticky: matched at `lastIndex`), with the tab that ends it; no match
 * crosses a newline. Its id holds none of the characters a record id may not (DEL and `/` too), so only the
 * id's length and the names `.` and `..` are left to check (isRecordId's pattern, once a row, in cold code).
 */
const PLAIN_HEAD_TAB = /\["([^"\\\x00-\x1f]*)","([^"\\\x00-\x1f\x7f/]+)",([01]),"([^"\\\x00-\x1f]*)"\]\t/y;

/** Reads rows back from chunk plaintexts fed in order; refuses anything that is not a well-formed row. */
export class RowReader {
  readonly #what: string;
  readonly #format: RowFormat;
  #carry: Uint8Array = new Uint8Array(0);
  /** The collection name of the last row read, which passed its check. */
  #collection: unknown;
  /** Rows for a store that binds their text: a one-write row's fields are checked, then left to be parsed again if read. */
  readonly #textRows: boolean;
  /** A one-write row's text that opens an object is left for the store to check (see {@link RowOutput}). */
  readonly #storeChecks: boolean;

  constructor(what: string, format: RowFormat = 1, o: { output?: RowOutput } = {}) {
    this.#what = what;
    this.#format = format;
    this.#textRows = o.output === 'text' || o.output === 'store-checked-text';
    this.#storeChecks = o.output === 'store-checked-text';
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
      text = fromUtf8(bytes.subarray(0, end));
    } catch {
      throw corrupt(this.#what, 'a row is not JSON');
    }
    this.#carry = bytes.slice(end + 1);
    // JSON text escapes newlines inside strings: every '\n' in the text ends a row.
    return this.#format === 1 ? text.split('\n').map((line) => this.#rowV1(line)) : this.#linesV2(text);
  }

  /**
   * Rows v2 lines. The usual one (a plain head, one-write registers, the collection of the row before, an
   * object for fields, a valid id) is read here in one loop with the same outcome as {@link RowReader.#rowV2}:
   * a bootstrap's first 10,000 rows run mostly in the interpreter, where each call per row costs. Any other
   * line, and any line that fails a check, goes through #rowV2, which reads it again and refuses it there.
   * For a store that checks the text itself, the fields of such a line are not parsed here: a text that is
   * not an object's JSON after all is refused by that store, with the same code (KITH_INTEGRITY_CORRUPT).
   */
  #linesV2(text: string): RecordRow[] {
    const out: RecordRow[] = [];
    // The lines of `text` as split('\n') gives them, read in place: no string per line unless it takes #rowV2.
    for (let at = 0; at <= text.length;) {
      const newline = text.indexOf('\n', at);
      const end = newline < 0 ? text.length : newline;
      const line = at;
      at = end + 1;
      PLAIN_HEAD_TAB.lastIndex = line;
      const plain = PLAIN_HEAD_TAB.exec(text);
      const id = plain === null ? '' : plain[2]!;
      if (plain === null || plain[1] !== this.#collection || id.length > MAX_NAME_LENGTH || id === '.' || id === '..') {
        out.push(this.#rowV2(text.slice(line, end)));
        continue;
      }
      const collection = this.#collection as string; // equal to plain[1]: one string for every row of the collection
      const fieldsText = text.slice(PLAIN_HEAD_TAB.lastIndex, end);
      if (this.#storeChecks && fieldsText.charCodeAt(0) === OPEN_BRACE) {
        out.push(textRow(collection, id, plain[4]!, plain[3] === '1', fieldsText));
        continue;
      }
      const fields = objectOfText(fieldsText);
      if (fields === undefined) {
        out.push(this.#rowV2(text.slice(line, end)));
        continue;
      }
      // The registers are built only if a store reads them (the SQLite store binds the text instead).
      out.push(
        this.#textRows
          ? textRow(collection, id, plain[4]!, plain[3] === '1', fieldsText)
          : oneWriteRow(collection, id, plain[4]!, fields, fieldsText, plain[3] === '1'),
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
    const state = oneWrite && typeof updated === 'string' && isJsonObject(fields) ? oneWriteState(fields, updated) : given;
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
    if ((deleted !== 0 && deleted !== 1) || typeof updated !== 'string' || !isJsonObject(fields) || !isJsonObject(state)) {
      throw corrupt(this.#what, `row ${String(collection)}/${String(id)} is malformed`);
    }
    let losers = false;
    if (!built)
      for (const reg of Object.values(state)) {
        if (
          !isJsonObject(reg) ||
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
