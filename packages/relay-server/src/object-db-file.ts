/**
 * @module server/object-db-file
 * The embedded relay's SQLite file as both of its connections open it (the
 * reader on the event loop, the writer in its worker thread), and the
 * messages between {@link ObjectDb} and its writer.
 */
import path from 'node:path';
import fs from 'node:fs';
import Database from 'better-sqlite3';

/** How hard a write is pushed to disk before it is acknowledged. */
export type Durability = 'full' | 'normal';

/** `<dataDir>/relay.sqlite`, the directory made if missing. */
export function objectsFileIn(dataDir: string): string {
  fs.mkdirSync(dataDir, { recursive: true });
  return path.join(dataDir, 'relay.sqlite');
}

/** Opens the file (WAL, `durability`), creating the objects table if missing. */
export function openObjectsFile(file: string, durability: Durability): Database.Database {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('busy_timeout = 5000');
    // BINARY collation compares bytes: listing order is byte order, as the Remote contract asks.
    db.exec(`CREATE TABLE IF NOT EXISTS objects (
      vault TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL, bytes BLOB NOT NULL,
      PRIMARY KEY (vault, key)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS claims (vault TEXT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL, PRIMARY KEY (vault, name)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS commit_mark (id INTEGER PRIMARY KEY CHECK (id = 0), writer TEXT NOT NULL, n INTEGER NOT NULL)`);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * One write of a batch: a put resolves to the size it replaced (null:
 * put-if-absent found one), a delete to whether it removed one, a claim to
 * the name's holder.
 */
export type WriteOp =
  | { readonly op: 'put'; readonly vault: string; readonly key: string; readonly bytes: Uint8Array; readonly ifAbsent: boolean }
  | { readonly op: 'delete'; readonly vault: string; readonly key: string }
  | { readonly op: 'claim'; readonly vault: string; readonly name: string; readonly owner: string };

/** What one {@link WriteOp} resolved to. */
export type WriteResult = number | null | boolean | string;

/** What the writer thread is started with. */
export interface WriterData {
  readonly file: string;
  readonly durability: Durability;
  /** This writer's name in the commit mark. */
  readonly writer: string;
}

/**
 * The last commit to the file: which writer made it, and a count every
 * writer's commit moves on by one. Readers that cache (see ObjectDb) tell
 * their own writer's commits from anyone else's by it.
 */
export interface CommitMark {
  readonly writer: string;
  readonly n: number;
}

/** Reads the file's commit mark (`{ writer: '', n: 0 }` before any writer kept one). */
export function commitMarkOf(db: Database.Database): () => CommitMark {
  const read = db.prepare('SELECT writer, n FROM commit_mark WHERE id = 0');
  return () => (read.get() as CommitMark | undefined) ?? { writer: '', n: 0 };
}

/** To the writer: commit a batch (one transaction, in order), or close the file. */
export type WriterRequest = { readonly type: 'batch'; readonly batch: readonly WriteOp[] } | { readonly type: 'close' };

/** From the writer, one per batch: every result once committed, with the commit mark before and after it; or why none was written. */
export type WriterReply =
  | { readonly type: 'done'; readonly results: WriteResult[]; readonly before: CommitMark; readonly after: CommitMark }
  | { readonly type: 'failed'; readonly error: { message: string; code?: string } };
