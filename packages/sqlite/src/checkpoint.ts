/**
 * @module checkpoint
 * When the WAL is copied into the database file. SQLite does it on its own
 * as a commit ends with the WAL over `wal_autocheckpoint` pages, and that
 * commit pays for copying every frame not yet in the file: a large write
 * could leave the WAL just under the mark, and the next single put paid for
 * its pages (about 60 ms after a batch of 100,000 puts). So the store looks
 * at the WAL itself after a large transaction, and after every
 * {@link LOOK_EVERY_ROWS} changed rows of small ones, and once
 * {@link CHECKPOINT_AFTER_FRAMES} frames wait, asks for a passive
 * checkpoint on a thread of its own (checkpoint-thread.ts): no write, large
 * or small, then waits for a copy or its fsyncs. SQLite's own mark stays,
 * far above, for a single transaction larger than it (about 400,000 records
 * of the bench's size). Without a thread the checkpoint runs as the commit
 * ends, on the connection that wrote.
 */
import type Database from 'better-sqlite3';
import type { CheckpointThread } from './checkpoint-thread.js';

/** Rows a committed transaction changes at least for the WAL to be looked at at once (about 200 pages of records). */
export const LARGE_WRITE_ROWS = 2_000;
/** Rows small transactions change between two looks at the WAL (a look is one NOOP checkpoint: a few µs, not per put). */
export const LOOK_EVERY_ROWS = 250;
/**
 * `wal_autocheckpoint` of every connection (sqlite-store.ts): pages of WAL at which SQLite checkpoints as a commit
 * ends. Only a transaction larger than that reaches it: the store's own checkpoints copy the WAL long before.
 */
export const AUTOCHECKPOINT_PAGES = 40_000;
/**
 * Frames not yet copied to the database at which a look asks for a checkpoint (about 10 MB): above what a
 * 10,000-record bootstrap leaves (about 900 frames), which then never pays for starting the thread.
 */
export const CHECKPOINT_AFTER_FRAMES = 2_500;
/** Record rows a transaction writes at which the checkpoint thread is started, for the copy its commit will likely ask for. */
export const START_THREAD_ROWS = 20_000;

type CheckpointRow = { busy: number; log: number; checkpointed: number };

/** Frames of `db`'s WAL not yet copied into the database file (NOOP: looks, copies nothing; SQLite 3.51+). */
export function pendingFrames(db: Database.Database): number {
  const [r] = db.pragma('wal_checkpoint(NOOP)') as CheckpointRow[];
  return r === undefined || r.log < 0 ? 0 : r.log - r.checkpointed;
}

/** Counts a connection's changed rows, and asks for a checkpoint when a look finds much of the WAL to copy. */
export class WalCheckpoints {
  readonly #db: Database.Database;
  readonly #changes: Database.Statement;
  readonly #thread: CheckpointThread | undefined;
  /** total_changes() at the last look. */
  #looked = 0;

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
   * After a commit: if the transaction begun at `mark` changed {@link LARGE_WRITE_ROWS} rows or more, or
   * {@link LOOK_EVERY_ROWS} rows changed since the last look, looks at the WAL; with {@link CHECKPOINT_AFTER_FRAMES}
   * frames not yet copied, a passive checkpoint, which copies what no reader still needs and never waits for
   * another connection (a later one copies the rest).
   */
  afterCommit(mark: number): void {
    const now = this.mark();
    if (now - mark < LARGE_WRITE_ROWS && now - this.#looked < LOOK_EVERY_ROWS) return;
    this.#looked = now;
    try {
      if (pendingFrames(this.#db) < CHECKPOINT_AFTER_FRAMES) return;
      if (this.#thread?.request() !== true) this.#db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // The transaction is committed; a checkpoint that fails now (an I/O error) is asked for again at a later
      // look, and a broken connection fails the next transaction, which reports it.
    }
  }
}
