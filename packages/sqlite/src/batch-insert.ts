/**
 * @module batch-insert
 * Multi-row INSERT statements of the SQLite store (moved out of sqlite-tx.ts).
 */
import type Database from 'better-sqlite3';

/**
 * Rows per multi-row INSERT. Each statement run costs a fixed overhead in
 * the driver; 50 rows per run measured about a third faster on bulk writes
 * than one row per run, and stays far below SQLite's parameter limit.
 */
export const INSERT_BATCH = 50;

/**
 * An INSERT of many rows in few statement runs: `INSERT_BATCH` rows at a
 * time, then one at a time for the rest. Rows go in in the order given, so a
 * later row replaces an earlier one with the same key and AUTOINCREMENT
 * keys follow the order.
 */
export class BatchInsert<T> {
  readonly #db: Database.Database;
  readonly #sql: (rows: number) => string;
  /** Prepared on first use, not at open: a 50-row statement is the slowest a store prepares, and a store may never run one. */
  #one: Database.Statement | undefined;
  #many: Database.Statement | undefined;
  readonly #width: number;
  readonly #bind: (row: T, params: unknown[], at: number) => void;

  /**
   * `head` is the statement up to VALUES, `tuple` one row's values (e.g. `(?, jsonb(?))`) with
   * `width` parameters, `tail` what follows the values (an upsert clause); `bind` writes a row's
   * parameters at `params[at]`. `select`, if given, reads the values as a table (`column1`, …):
   * `head select FROM (VALUES …) WHERE true tail`, for values an expression checks or converts.
   */
  constructor(
    db: Database.Database,
    head: string,
    tuple: string,
    width: number,
    bind: (row: T, params: unknown[], at: number) => void,
    tail = '',
    select?: string,
  ) {
    const values = (n: number): string => `VALUES ${Array(n).fill(tuple).join(', ')}`;
    const body = (n: number): string => (select === undefined ? values(n) : `${select} FROM (${values(n)}) WHERE true`);
    this.#db = db;
    this.#sql = (n) => `${head} ${body(n)} ${tail}`;
    this.#width = width;
    this.#bind = bind;
  }

  run(rows: readonly T[]): void {
    const width = this.#width;
    let i = 0;
    if (rows.length >= INSERT_BATCH) {
      const params: unknown[] = new Array(INSERT_BATCH * width);
      const many = (this.#many ??= this.#db.prepare(this.#sql(INSERT_BATCH)));
      for (; i + INSERT_BATCH <= rows.length; i += INSERT_BATCH) {
        for (let j = 0; j < INSERT_BATCH; j++) this.#bind(rows[i + j]!, params, j * width);
        many.run(params);
      }
    }
    if (i === rows.length) return;
    const params: unknown[] = new Array(width);
    const one = (this.#one ??= this.#db.prepare(this.#sql(1)));
    for (; i < rows.length; i++) {
      this.#bind(rows[i]!, params, 0);
      one.run(params);
    }
  }
}
