/**
 * @module sqlite-store
 * The Node store: one SQLite file per device home, on better-sqlite3 in WAL
 * mode. Store transactions are async functions but SQLite runs
 * synchronously on one connection, so every transaction (reads included)
 * runs under an in-process mutex; other processes on the same home are
 * serialized by SQLite's own lock and `busy_timeout`.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ErrorCode, KithError, type Store, type StoreTx } from '@kith/core/adapter';
import { Mutex } from './mutex.js';
import { migrate } from './schema.js';
import { ensureIncrementalVacuum, preferIncrementalVacuum, type SpaceMode } from './prune.js';
import { toStoreError } from './sqlite-errors.js';
import { SqliteTx, Statements } from './sqlite-tx.js';
import { AUTOCHECKPOINT_PAGES, WalCheckpoints } from './checkpoint.js';
import { CheckpointThread } from './checkpoint-thread.js';

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * `normal` (default): durable against a crash of the process (kill -9),
   * which is what WAL with synchronous=NORMAL guarantees. `full`: also
   * against power loss, at the cost of an fsync per transaction.
   */
  readonly durability?: 'normal' | 'full';
  /** How long to wait for another process's lock (default 10 s). */
  readonly busyTimeoutMs?: number;
  /** For tests: cap the file at this many pages to simulate a full disk. */
  readonly maxPageCount?: number;
}

/** The `synchronous` setting of a connection once the store is open. */
const synchronous = (options: SqliteStoreOptions): string => (options.durability === 'full' ? 'FULL' : 'NORMAL');

/**
 * Connection settings; the pragmas are per connection, so every open sets them. `creating`: the file was
 * just created quickly (see `createQuickly`), and its schema goes in without an fsync (set back after).
 */
function configure(db: Database.Database, options: SqliteStoreOptions, creating: boolean): void {
  // Bulk writes (imports, first pulls) are the common heavy case: a bigger page cache and
  // fewer, larger checkpoints keep them close to raw insert speed. One exec: one call into SQLite.
  db.exec(
    [
      'journal_mode = WAL',
      `synchronous = ${creating ? 'OFF' : synchronous(options)}`,
      'foreign_keys = OFF',
      'cache_size = -65536',
      `wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`,
      'temp_store = MEMORY',
      ...(options.maxPageCount !== undefined ? [`max_page_count = ${Math.floor(options.maxPageCount)}`] : []),
    ]
      .map((p) => `PRAGMA ${p};`)
      .join(' '),
  );
}

/** Creates the file with mode 0600 (it holds device private keys) before SQLite opens it; true if it was created. */
function prepareFile(file: string): boolean {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // 'wx': of several processes creating the store at once, exactly one is told it created the file.
  let created = true;
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    created = false;
  }
  chmodSync(file, 0o600);
  return created;
}

/**
 * On a file just created, empty: its first writes (page 1, then the switch to WAL) would each be a
 * rollback-journal transaction of four fsyncs, most of the cost of a new store. Without a journal file
 * and fsyncs they are one page each, whole after a crash of the process; after a crash of the machine
 * the new file may be empty or unreadable, but it held nothing yet (the first WAL checkpoint makes it
 * durable, as it does the transactions after it). `configure` sets the real settings next, but for
 * `synchronous`, OFF until the schema is in: the schema's commit is the WAL's first, whose header SQLite
 * would otherwise fsync, with the directory (two fsyncs, most of a new store's time). A crash of the
 * process loses nothing either way (a WAL commit is whole or absent); a crash of the machine before the
 * first checkpoint may lose the schema, leaving an empty file that the next open migrates again.
 */
function createQuickly(db: Database.Database): boolean {
  try {
    db.exec('PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF');
    return true;
  } catch (e) {
    // Another process opened the new file meanwhile (and may have switched it to WAL, which only a lone
    // connection can leave): the usual path creates it, with its fsyncs.
    if ((e as { code?: unknown }).code !== 'SQLITE_BUSY') throw e;
    return false;
  }
}

/**
 * Runs `fn` again while SQLite answers SQLITE_BUSY, until `timeoutMs`: a connection switching a file's
 * journal mode needs a lock SQLite does not wait for with the busy handler when another process holds
 * one it might deadlock with (several processes opening a store just created), so it answers at once.
 * Synchronous like the rest of opening: the pauses block this thread (1 ms, doubling up to 50 ms).
 */
function retryBusy<T>(fn: () => T, timeoutMs: number): T {
  const end = Date.now() + timeoutMs;
  for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
    try {
      return fn();
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() >= end) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause);
    }
  }
}

/**
 * A {@link Store} in one SQLite file. Open it with {@link openSqliteStore};
 * one instance per process and file (other processes may open the same file).
 */
export class SqliteStore implements Store {
  /** The database file. */
  readonly file: string;
  /** Whether pruned history gives its space back to the file system (see prune.ts). */
  readonly space: SpaceMode;
  /** See {@link Store.checksRowText}: the insert checks a row's text as it converts it (records-insert.ts). */
  readonly checksRowText = true;
  readonly #db: Database.Database;
  readonly #mutex = new Mutex();
  readonly #stmts: Statements;
  /** Checkpoints after large writes, on the connection that writes (see checkpoint.ts). */
  readonly #checkpoints: WalCheckpoints;
  /** Where those checkpoints run (checkpoint-thread.ts). */
  readonly #checkpointThread: CheckpointThread;
  /** Given to every transaction: one writing many records starts the thread for the copy its commit will likely ask for. */
  readonly #warmCheckpointThread = (): void => this.#checkpointThread.warm();
  readonly #options: SqliteStoreOptions;
  /** The connection of {@link bulkRead}, opened on its first use, and its own mutex. */
  #reader: { db: Database.Database; stmts: Statements } | undefined;
  readonly #readerMutex = new Mutex();
  #closed = false;

  /** Opens (creating and migrating) the store at `file`; prefer {@link openSqliteStore}. */
  constructor(file: string, options: SqliteStoreOptions = {}) {
    this.file = file;
    this.#options = options;
    let db: Database.Database | undefined;
    try {
      const created = prepareFile(file);
      db = new Database(file, { timeout: options.busyTimeoutMs ?? 10_000 });
      const creating = created && options.durability !== 'full' && createQuickly(db);
      const timeoutMs = options.busyTimeoutMs ?? 10_000;
      retryBusy(() => preferIncrementalVacuum(db!), timeoutMs);
      retryBusy(() => configure(db!, options, creating), timeoutMs);
      migrate(db, file);
      if (creating) db.exec(`PRAGMA synchronous = ${synchronous(options)}`);
      this.space = ensureIncrementalVacuum(db);
      // SQLite gives these the main file's mode when it creates them; an older or copied home may differ.
      for (const side of ['-wal', '-shm']) if (existsSync(file + side)) chmodSync(file + side, 0o600);
      this.#stmts = new Statements(db);
      this.#checkpointThread = new CheckpointThread(file, synchronous(options));
      this.#checkpoints = new WalCheckpoints(db, this.#checkpointThread);
      this.#db = db;
    } catch (e) {
      db?.close();
      throw toStoreError(e, file);
    }
  }

  /** Runs `fn` in a read transaction (a consistent snapshot). */
  read<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.#transaction(fn, false);
  }

  /** Runs `fn` in one `BEGIN IMMEDIATE` transaction: committed when it resolves, rolled back when it rejects. */
  write<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.#transaction(fn, true);
  }

  /**
   * See {@link Store.bulkLoad}: a write transaction already holds the file's lock across awaits (the mutex
   * keeps this process's other transactions out), so `fn` may fetch from the network between its writes.
   */
  bulkLoad<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.#transaction(fn, true);
  }

  /**
   * See {@link Store.bulkRead}: on a second connection of its own, so `fn` may upload between reads while
   * this process's writes go on through the first (WAL gives the reader the snapshot of its first read;
   * on the one connection, the mutex would hold every write back for the whole upload).
   */
  bulkRead<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.#readerMutex.run(async () => {
      this.#checkOpen();
      const reader = this.#reader ?? this.#openReader();
      return this.#run(reader.db, reader.stmts, fn, false);
    });
  }

  /**
   * See {@link Store.pruneLog}: one write transaction, then the freed pages go back to the file system.
   * History the outbox stands for (own writes not pushed yet) moves into the log first when any of it is
   * old enough, so pruning sees every entry.
   */
  async pruneLog(before: string, limit: number): Promise<number> {
    const s = this.#stmts;
    if (!(await this.#transaction(() => Promise.resolve(s.outbox.hasHistoryBefore(before) || s.pruner.any(before)), false))) return 0;
    return this.#transaction(() => {
      if (s.outbox.hasHistoryBefore(before)) s.appendLog.run(s.outbox.settleHistory());
      return Promise.resolve(s.pruner.prune(before, limit));
    }, true);
  }

  /** Closes the file once running transactions finish; later transactions reject. */
  async close(): Promise<void> {
    await this.#readerMutex.run(() =>
      this.#mutex.run(async () => {
        if (this.#closed) return;
        this.#closed = true;
        // The copy running finishes first: its connection closes before this process's last one, which checkpoints what is left.
        await this.#checkpointThread.close();
        this.#reader?.db.close();
        this.#db.close();
      }),
    );
  }

  /** Resolves once no WAL checkpoint is running or asked for on the background thread (checkpoint-thread.ts). */
  checkpointed(): Promise<void> {
    return this.#checkpointThread.idle();
  }

  #checkOpen(): void {
    if (this.#closed) throw new KithError(ErrorCode.StoreFailed, `the store ${this.file} is closed`, { hint: 'open the store again' });
  }

  #openReader(): { db: Database.Database; stmts: Statements } {
    let db: Database.Database | undefined;
    try {
      db = new Database(this.file, { timeout: this.#options.busyTimeoutMs ?? 10_000 });
      configure(db, this.#options, false);
      this.#reader = { db, stmts: new Statements(db) };
      return this.#reader;
    } catch (e) {
      db?.close();
      throw toStoreError(e, this.file);
    }
  }

  #transaction<T>(fn: (tx: StoreTx) => Promise<T>, writable: boolean): Promise<T> {
    return this.#mutex.run(async () => {
      this.#checkOpen();
      if (!writable) return this.#run(this.#db, this.#stmts, fn, false);
      const mark = this.#checkpoints.mark();
      const out = await this.#run(this.#db, this.#stmts, fn, true);
      this.#checkpoints.afterCommit(mark);
      return out;
    });
  }

  /** One transaction on `db`: committed when `fn` resolves, rolled back when it rejects. */
  async #run<T>(db: Database.Database, stmts: Statements, fn: (tx: StoreTx) => Promise<T>, writable: boolean): Promise<T> {
    try {
      // IMMEDIATE takes the write lock up front (waiting up to busy_timeout for other processes), so a
      // write never fails half-way with SQLITE_BUSY when it upgrades from reading to writing.
      db.exec(writable ? 'BEGIN IMMEDIATE' : 'BEGIN');
    } catch (e) {
      throw toStoreError(e, this.file);
    }
    const tx = new SqliteTx(stmts, writable, this.file, this.#warmCheckpointThread);
    try {
      const out = await fn(tx);
      if (writable && tx.failure === undefined) await tx.finish();
      if (tx.failure !== undefined) throw tx.failure;
      db.exec('COMMIT');
      return out;
    } catch (e) {
      this.#rollback(db);
      throw toStoreError(e, this.file);
    } finally {
      tx.end();
    }
  }

  /** Never leaves a transaction open, even when ROLLBACK itself fails. */
  #rollback(db: Database.Database): void {
    if (!db.inTransaction) return; // SQLite already rolled back (e.g. after SQLITE_FULL on some statements)
    try {
      db.exec('ROLLBACK');
    } catch {
      // The connection is broken (I/O error): nothing more can be undone here, and the next
      // BEGIN reports the failure; the error that matters is the one being rethrown.
    }
  }
}

/** Opens (creating if needed) the store at `file`. */
export async function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
  return new SqliteStore(file, options);
}
