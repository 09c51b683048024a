/**
 * @module records-insert
 * Writing rows of the records table. A row whose fields' JSON text a reader
 * already holds (a snapshot's) binds that text, in multi-row INSERTs. Every
 * other row goes in a round of one JSON array text, which SQLite unpacks
 * (jsonb_each): one JSON.stringify per round instead of one per row, and one
 * statement run instead of one per 50 rows. A batch of 100,000 new records
 * measured about 80 ms (a fifth of the store's part) faster that way here.
 */
import type Database from 'better-sqlite3';
import { rowText, type RecordRow, type RowText } from '@kith/core/adapter';
import { BatchInsert } from './batch-insert.js';
import { RECORD_COLUMNS } from './query-sql.js';

/** Rows per JSON round: large enough that a statement run's fixed cost vanishes, small enough to keep its text small (about 0.5 MB). */
const JSON_ROUND = 2_000;
/** Fewer rows than this go in as bound values: a round's JSON costs more than it saves on a single put. */
const JSON_MIN_ROWS = 50;

/** A row's `state` column: `given` is the text a reader attached to it, if any. */
export type StateOf = (row: RecordRow, given: RowText | undefined) => string;

/** Inserts (or, on an existing key, updates) record rows in the order given, so a later row with the same key wins. */
export class RecordsInsert {
  readonly #bound: BatchInsert<RecordRow>;
  readonly #json: Database.Statement;
  readonly #stateOf: StateOf;

  /** `upsert`: the ON CONFLICT clause of every insert. */
  constructor(db: Database.Database, upsert: string, stateOf: StateOf) {
    this.#stateOf = stateOf;
    this.#bound = new BatchInsert<RecordRow>(
      db,
      `INSERT INTO records (${RECORD_COLUMNS})`,
      '(?, ?, jsonb(?), ?, ?, ?, ?)',
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
    );
    // WHERE true: without it SQLite would read ON CONFLICT as part of the join (its documented parsing ambiguity).
    this.#json = db.prepare(
      `INSERT INTO records (${RECORD_COLUMNS}) SELECT value ->> 0, value ->> 1, jsonb_extract(value, '$[2]'), value ->> 3, value ->> 4, value ->> 5, value ->> 6 FROM jsonb_each(?) WHERE true ${upsert}`,
    );
  }

  run(rows: readonly RecordRow[]): void {
    // Runs of rows with their text go in bound; runs without, as JSON rounds when long enough.
    let from = 0;
    while (from < rows.length) {
      const text = hasText(rows[from]!);
      let to = from + 1;
      while (to < rows.length && hasText(rows[to]!) === text) to++;
      const run = from === 0 && to === rows.length ? rows : rows.slice(from, to);
      if (text || run.length < JSON_MIN_ROWS) this.#bound.run(run);
      else for (let i = 0; i < run.length; i += JSON_ROUND) this.#runJson(run, i, Math.min(run.length, i + JSON_ROUND));
      from = to;
    }
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

/** True when a reader attached the row's fields' text (ports/row-text.ts). */
function hasText(row: RecordRow): boolean {
  return rowText(row)?.fields !== undefined;
}
