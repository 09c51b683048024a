/**
 * @module checkpoint
 * WAL checkpoints after large writes. SQLite checkpoints on its own when a
 * commit leaves the WAL over `wal_autocheckpoint` pages (10,000 here, for
 * bulk writes), and that commit pays for copying every frame not yet in the
 * database file. A large transaction (an import, a big batch, a pull's
 * group of segments, a snapshot's bulk load) could leave the WAL just
 * under that mark, so the next single put paid for the large write's pages
 * (about 60 ms after a batch of 100,000 puts). So after a large
 * transaction, when the frames not yet copied reach a quarter of the mark,
 * a passive checkpoint copies them at once: the cost stays with the writes
 * that made the pages. Under a quarter it is left to SQLite, as for small
 * writes: a checkpoint costs two fsyncs, and a WAL that far from the mark
 * makes no put pay more than small writes make one pay anyway. The copy
 * runs on a thread of its own when one is given (checkpoint-thread.ts), so
 * the writes that made the pages return before it ends.
 */
import type Database from 'better-sqlite3';
import type { CheckpointThread } from './checkpoint-thread.js';

/** Rows a committed transaction changes at least for the WAL to be looked at (about 200 pages of records). */
export const LARGE_WRITE_ROWS = 2_000;
/** `wal_autocheckpoint` of every connection (sqlite-store.ts): pages of WAL at which SQLite checkpoints as a commit ends. */
export const AUTOCHECKPOINT_PAGES = 10_000;
/** Frames not yet copied to the database at which a large transaction is followed by a checkpoint: a quarter of the mark. */
export const CHECKPOINT_AFTER_FRAMES = AUTOCHECKPOINT_PAGES / 4;

type CheckpointRow = { busy: number; log: number; checkpointed: number };

/** Frames of `db`'s WAL not yet copied into the database file (NOOP: looks, copies nothing; SQLite 3.51+). */
export function pendingFrames(db: Database.Database): number {
  const [r] = db.pragma('wal_checkpoint(NOOP)') as CheckpointRow[];
  return r === undefined || r.log < 0 ? 0 : r.log - r.checkpointed;
}

/** Counts a connection's changed rows, and checkpoints after a large transaction that left much of the WAL to copy. */
export class WalCheckpoints {
  readonly #db: Database.Database;
  readonly #changes: Database.Statement;
  readonly #thread: CheckpointThread | undefined;

  /** `thread`: where checkpoints run; without one, on `db` as the commit ends. */
  constructor(db: Database.Database, thread?: CheckpointThread) {
    this.#db = db;
    this.#changes = db.prepare('SELECT total_changes()').pluck();
    this.#thread = thread;
  }

  /** Rows inserted, updated or deleted on this connection so far: taken before a write transaction. */
  mark(): number {
    return this.#changes.get() as number;
  }

  /**
   * After a commit: if the transaction begun at `mark` changed {@link LARGE_WRITE_ROWS} rows or more and the WAL
   * holds {@link CHECKPOINT_AFTER_FRAMES} frames not yet copied, a passive checkpoint, which copies what no reader
   * still needs and never waits for another connection (SQLite's own checkpoint copies the rest later).
   */
  afterCommit(mark: number): void {
    if (this.mark() - mark < LARGE_WRITE_ROWS) return;
    try {
      if (pendingFrames(this.#db) < CHECKPOINT_AFTER_FRAMES) return;
      if (this.#thread !== undefined) this.#thread.request();
      else this.#db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // The transaction is committed; a checkpoint that fails now (an I/O error) is SQLite's again at a later
      // commit, and a broken connection fails the next transaction, which reports it.
    }
  }
}
