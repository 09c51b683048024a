/**
 * @module one-write-insert
 * The records INSERT for the rows a snapshot is mostly made of: live, one-write, not conflicted, with
 * their fields' text, 50 of one collection at a time. Such a row's `deleted`, `state` and `conflicted`
 * are constants and its collection is the run's, so it binds 3 values instead of 7: a 10,000-record
 * bootstrap's insert measured about 15% faster (20.6 against 24.0 ms here). The text is checked as on
 * the bound way (records-insert.ts).
 */
import type Database from 'better-sqlite3';
import { oneWriteText, type RecordRow, type RowText } from '@kith/core/adapter';
import { INSERT_BATCH } from './batch-insert.js';
import { RECORD_COLUMNS } from './query-sql.js';

/** Inserts runs of {@link INSERT_BATCH} such rows; refuses (without writing) a run with any other row in it. */
export class OneWriteInsert {
  readonly #db: Database.Database;
  readonly #sql: string;
  #stmt: Database.Statement | undefined;
  readonly #params: unknown[] = new Array(1 + 3 * INSERT_BATCH);
  /** A row's `state` column (records-insert.ts): such a row's is '' unless a reference claims the row. */
  readonly #stateOf: (row: RecordRow, given: RowText | undefined) => string;
  /** Whether a reference may claim a row now (a batch's transaction): when not, no row's state needs asking. */
  readonly #claiming: () => boolean;

  /** `objectText`: the SQL that is true when `column2` is an object's strict JSON; `upsert`: the ON CONFLICT clause. */
  constructor(
    db: Database.Database,
    objectText: string,
    upsert: string,
    stateOf: (row: RecordRow, given: RowText | undefined) => string,
    claiming: () => boolean,
  ) {
    this.#db = db;
    this.#stateOf = stateOf;
    this.#claiming = claiming;
    const values = Array<string>(INSERT_BATCH).fill('(?, ?, ?)').join(', ');
    // The first parameter (the collection) comes first in the text, so it is the first bound; WHERE true: see records-insert.ts.
    this.#sql = `INSERT INTO records (${RECORD_COLUMNS}) SELECT ?, column1, jsonb(iif(${objectText}, column2, NULL)), 0, '', 0, column3 FROM (VALUES ${values}) WHERE true ${upsert}`;
  }

  /** Inserts rows[from, from + INSERT_BATCH) and returns true, or returns false having written nothing when one of them is not such a row. */
  tryRun(rows: readonly RecordRow[], from: number): boolean {
    const p = this.#params;
    const collection = rows[from]!.collection;
    const claiming = this.#claiming();
    p[0] = collection;
    for (let j = 0; j < INSERT_BATCH; j++) {
      const r = rows[from + j]!;
      // The text without a RowText object, and the state asked only while a reference may claim the row: per row, in cold code.
      const text = oneWriteText(r);
      if (text === undefined || r.deleted || r.conflicted || r.collection !== collection) return false;
      if (claiming && this.#stateOf(r, { fields: text, oneWrite: true }) !== '') return false;
      p[1 + 3 * j] = r.id;
      p[2 + 3 * j] = text;
      p[3 + 3 * j] = r.updated;
    }
    (this.#stmt ??= this.#db.prepare(this.#sql)).run(p);
    return true;
  }
}
