/**
 * @module checkpoint
 * WAL checkpoints after large writes. SQLite checkpoints on its own when a
 * commit leaves the WAL over `wal_autocheckpoint` pages (10,000 here, for
 * bulk writes), and that commit pays for copying the whole WAL into the
 * database file. A large transaction (an import, a big batch, a pull's
 * group of segments, a snapshot's bulk load) could leave the WAL just
 * under that mark, so the next single put paid for the large write's
 * pages (about 60 ms after a batch of 100,000 puts). A passive checkpoint
 * right after each large transaction charges that copy to the write that
 * made the pages; small writes keep leaving it to SQLite.
 */
import type Database from 'better-sqlite3';

/** Rows a committed transaction changes at least for a checkpoint to follow it (about 200 pages of records). */
export const LARGE_WRITE_ROWS = 2_000;

/** Counts a connection's changed rows, and checkpoints after a transaction that changed many. */
export class WalCheckpoints {
  readonly #db: Database.Database;
  readonly #changes: Database.Statement;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#changes = db.prepare('SELECT total_changes()').pluck();
  }

  /** Rows inserted, updated or deleted on this connection so far: taken before a write transaction. */
  mark(): number {
    return this.#changes.get() as number;
  }

  /**
   * After a commit: a passive checkpoint if the transaction begun at `mark` changed
   * {@link LARGE_WRITE_ROWS} rows or more. Passive: it copies what no reader still needs and
   * never waits for another connection (a reader of an older snapshot keeps its frames, and
   * SQLite's own checkpoint copies them later).
   */
  afterCommit(mark: number): void {
    if (this.mark() - mark < LARGE_WRITE_ROWS) return;
    try {
      this.#db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // The transaction is committed; a checkpoint that fails now (an I/O error) is SQLite's again at a later
      // commit, and a broken connection fails the next transaction, which reports it.
    }
  }
}
