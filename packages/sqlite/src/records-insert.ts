/**
 * @module records-insert
 * Writing rows of the records table. A call whose first row comes with its
 * fields' JSON text as a reader held it (a snapshot's rows) binds the text,
 * in multi-row INSERTs; other calls of 50 rows or more go in rounds of one
 * JSON array text, which SQLite unpacks (jsonb_each): one JSON.stringify per round instead of one per row, and one
 * statement run instead of one per 50 rows. A batch of 100,000 new records
 * measured about 80 ms (a fifth of the store's part) faster that way here.
 *
 * A bound text is checked as it goes in (Store.checksRowText): strict RFC 8259
 * JSON (SQLite's own parser takes JSON5 too) whose first token opens an object,
 * else the column gets NULL, which its NOT NULL refuses; the refusal is then
 * told as the row's KITH_INTEGRITY_CORRUPT. The check costs about a tenth of
 * parsing the text in JavaScript (0.7 against 5.5 ms per 10,000 rows here).
 */
import type Database from 'better-sqlite3';
import { objectOfText, rowText, rowTextNotObject, type RecordRow, type RowText } from '@kith/core/adapter';
import { BatchInsert, INSERT_BATCH } from './batch-insert.js';
import { OneWriteInsert } from './one-write-insert.js';
import { RECORD_COLUMNS } from './query-sql.js';

/** Rows per JSON round: large enough that a statement run's fixed cost vanishes, small enough to keep its text small (about 0.5 MB). */
const JSON_ROUND = 2_000;
/** Fewer rows than this go in as bound values: a round's JSON costs more than it saves on a single put. */
const JSON_MIN_ROWS = 50;

/** SQL true when column `c` is strict JSON of an object: a valid text whose first token (after JSON's whitespace) is `{`. */
const objectText = (c: string): string => `json_valid(${c}, 1) AND substr(ltrim(${c}, char(32, 9, 10, 13)), 1, 1) = '{'`;

/** A row's `state` column: `given` is the text a reader attached to it, if any. */
export type StateOf = (row: RecordRow, given: RowText | undefined) => string;

/** Inserts (or, on an existing key, updates) record rows in the order given, so a later row with the same key wins. */
export class RecordsInsert {
  readonly #bound: BatchInsert<RecordRow>;
  readonly #oneWrite: OneWriteInsert;
  readonly #json: Database.Statement;
  readonly #stateOf: StateOf;

  /** `upsert`: the ON CONFLICT clause of every insert; `claiming`: whether `stateOf` may give a new row's state other than '' now. */
  constructor(db: Database.Database, upsert: string, stateOf: StateOf, claiming: () => boolean) {
    this.#stateOf = stateOf;
    this.#bound = new BatchInsert<RecordRow>(
      db,
      `INSERT INTO records (${RECORD_COLUMNS})`,
      '(?, ?, ?, ?, ?, ?, ?)',
      7,
      (r, p, at) => {
        const given = rowText(r);
        p[at] = r.collection;
        p[at + 1] = r.id;
        p[at + 2] = given?.fields ?? JSON.stringify(r.fields);
        p[at + 3] = r.deleted ? 1 : 0;
        p[at + 4] = stateOf(r, given);
        p[at + 5] = r.conflicted ? 1 : 0;
        p[at + 6] = r.updated;
      },
      upsert,
      `SELECT column1, column2, jsonb(iif(${objectText('column3')}, column3, NULL)), column4, column5, column6, column7`,
    );
    this.#oneWrite = new OneWriteInsert(db, objectText('column2'), upsert, stateOf, claiming);
    // WHERE true: without it SQLite would read ON CONFLICT as part of the join (its documented parsing ambiguity).
    this.#json = db.prepare(
      `INSERT INTO records (${RECORD_COLUMNS}) SELECT value ->> 0, value ->> 1, jsonb_extract(value, '$[2]'), value ->> 3, value ->> 4, value ->> 5, value ->> 6 FROM jsonb_each(?) WHERE true ${upsert}`,
    );
  }

  run(rows: readonly RecordRow[]): void {
    // One look per call, not per row (a scan of every row measured ~5 ms slower on a 10,000-record bootstrap):
    // a reader's rows come with their text together (a snapshot's chunk), a batch's without. Either way is
    // correct for any row: the JSON round reads a row's fields through the row, the bound way binds its text.
    if (rows.length < JSON_MIN_ROWS || hasText(rows[0]!)) {
      try {
        this.#runBound(rows);
      } catch (e) {
        throw refusedText(e, rows);
      }
      return;
    }
    for (let i = 0; i < rows.length; i += JSON_ROUND) this.#runJson(rows, i, Math.min(rows.length, i + JSON_ROUND));
  }

  /** Bound values: each run of 50 a snapshot's plain rows as such (one-write-insert.ts), any other run and the rest as they are. */
  #runBound(rows: readonly RecordRow[]): void {
    let i = 0;
    for (; i + INSERT_BATCH <= rows.length; i += INSERT_BATCH)
      if (!this.#oneWrite.tryRun(rows, i)) this.#bound.run(rows.length === INSERT_BATCH ? rows : rows.slice(i, i + INSERT_BATCH));
    if (i < rows.length) this.#bound.run(i === 0 ? rows : rows.slice(i));
  }

  #runJson(rows: readonly RecordRow[], from: number, to: number): void {
    const tuples: unknown[] = new Array(to - from);
    for (let i = from; i < to; i++) {
      const r = rows[i]!;
      tuples[i - from] = [r.collection, r.id, r.fields, r.deleted ? 1 : 0, this.#stateOf(r, rowText(r)), r.conflicted ? 1 : 0, r.updated];
    }
    this.#json.run(JSON.stringify(tuples));
  }
}

/**
 * The error to throw for `e`, met binding `rows`: a text the check refused (the NOT NULL of `fields`) is
 * the first such row's KITH_INTEGRITY_CORRUPT; anything else is `e` as it was.
 */
function refusedText(e: unknown, rows: readonly RecordRow[]): unknown {
  if ((e as { code?: unknown } | null)?.code !== 'SQLITE_CONSTRAINT_NOTNULL' || !/records\.fields/.test(String(e))) return e;
  // The JavaScript side of objectText (a row without text binds its own fields, always an object).
  const bad = rows.find((r) => {
    const text = rowText(r)?.fields;
    return text !== undefined && objectOfText(text) === undefined;
  });
  return bad ? rowTextNotObject(bad.collection, bad.id) : e;
}

/** True when a reader attached the row's fields' text (ports/row-text.ts). */
function hasText(row: RecordRow): boolean {
  return rowText(row)?.fields !== undefined;
}
