/**
 * @module server/object-db
 * The embedded relay's storage: every vault's objects in one SQLite file
 * (WAL). A put is atomic; with `synchronous=FULL` it is on disk before the
 * HTTP answer goes out, which is what lets the relay promise "acknowledged
 * means durable" through a kill -9 or a power cut. Puts that arrive in the
 * same turn of the event loop commit together (group commit: one fsync for
 * all of them, each answered only after it), so a busy relay does not pay
 * an fsync per write on its event loop. Implements {@link RelayStorage}
 * for the embedded relay.
 */
import path from 'node:path';
import fs from 'node:fs';
import Database from 'better-sqlite3';
import type { RemoteObjectInfo } from '@kith/core';
import { etagOf, pageOf, PREFIX_END, type ByteRange, type ObjectPage, type RelayStorage } from './relay-storage.js';

/** How hard a write is pushed to disk before it is acknowledged. */
export type Durability = 'full' | 'normal';

interface PendingPut {
  readonly vault: string;
  readonly key: string;
  readonly bytes: Uint8Array;
  readonly ifAbsent: boolean;
  readonly resolve: (replaced: number | null) => void;
  readonly reject: (e: unknown) => void;
}

/** The objects of all vaults a relay serves, in `<dataDir>/relay.sqlite`. */
export class ObjectDb implements RelayStorage {
  readonly #db: Database.Database;
  readonly #put: Database.Statement;
  readonly #size: Database.Statement;
  readonly #storeAll: (batch: readonly PendingPut[]) => (number | null)[];
  /** Puts waiting for the next group commit. */
  #pending: PendingPut[] = [];
  readonly #get: Database.Statement;
  readonly #getRange: Database.Statement;
  readonly #head: Database.Statement;
  readonly #list: Database.Statement;
  readonly #delete: Database.Statement;

  constructor(dataDir: string, durability: Durability = 'full') {
    fs.mkdirSync(dataDir, { recursive: true });
    this.#db = new Database(path.join(dataDir, 'relay.sqlite'));
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
    this.#db.pragma('busy_timeout = 5000');
    // BINARY collation compares bytes: listing order is byte order, as the Remote contract asks.
    this.#db.exec(`CREATE TABLE IF NOT EXISTS objects (
      vault TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL, bytes BLOB NOT NULL,
      PRIMARY KEY (vault, key)) WITHOUT ROWID`);
    this.#put = this.#db.prepare('INSERT OR REPLACE INTO objects (vault, key, size, etag, bytes) VALUES (?, ?, ?, ?, ?)');
    this.#size = this.#db.prepare('SELECT size FROM objects WHERE vault = ? AND key = ?').pluck();
    const store = (p: PendingPut): number | null => {
      const old = this.#size.get(p.vault, p.key) as number | undefined;
      if (p.ifAbsent && old !== undefined) return null;
      this.#put.run(p.vault, p.key, p.bytes.length, etagOf(p.bytes), p.bytes);
      return old ?? 0;
    };
    // IMMEDIATE: each size read and its write are one step even when another process shares the file.
    const storeAll = this.#db.transaction((batch: readonly PendingPut[]) => batch.map(store));
    this.#storeAll = (batch) => storeAll.immediate(batch);
    this.#get = this.#db.prepare('SELECT bytes FROM objects WHERE vault = ? AND key = ?').pluck();
    this.#getRange = this.#db.prepare('SELECT substr(bytes, ?, ?) FROM objects WHERE vault = ? AND key = ?').pluck();
    this.#head = this.#db.prepare('SELECT key, size, etag FROM objects WHERE vault = ? AND key = ?');
    // Bodies only up to the bound given; a NULL bound (a plain listing) matches no size, so no bytes are read.
    this.#list = this.#db.prepare('SELECT key, size, etag, CASE WHEN size <= ? THEN bytes END AS body FROM objects WHERE vault = ? AND key >= ? AND key < ? AND key > ? ORDER BY key LIMIT ?');
    this.#delete = this.#db.prepare('DELETE FROM objects WHERE vault = ? AND key = ?');
  }

  /**
   * Stores `bytes`; with `ifAbsent`, only when no object exists. Resolves,
   * once committed, to the size it replaced, or null when it wrote nothing.
   */
  put(vault: string, key: string, bytes: Uint8Array, ifAbsent = false): Promise<number | null> {
    return new Promise((resolve, reject) => {
      if (this.#pending.push({ vault, key, bytes, ifAbsent, resolve, reject }) === 1) setImmediate(() => this.#commit());
    });
  }

  /** Commits every waiting put in one transaction, in the order they came; a failure fails them all (none was written). */
  #commit(): void {
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    let results: (number | null)[];
    try {
      results = this.#storeAll(batch);
    } catch (e) {
      for (const p of batch) p.reject(e);
      return;
    }
    batch.forEach((p, i) => p.resolve(results[i]!));
  }

  /** The whole object, or `length` bytes from `offset`; null when missing. */
  get(vault: string, key: string, range?: ByteRange): Promise<Buffer | null> {
    return Promise.resolve(this.#read(vault, key, range));
  }

  /** Several whole objects, null for each missing one. */
  getMany(vault: string, keys: readonly string[]): Promise<(Buffer | null)[]> {
    return Promise.resolve(keys.map((k) => this.#read(vault, k)));
  }

  #read(vault: string, key: string, range?: ByteRange): Buffer | null {
    const row = range ? this.#getRange.get(range.offset + 1, range.length, vault, key) : this.#get.get(vault, key);
    if (row === undefined) return null;
    // substr() of an empty BLOB gives '' (text) in SQLite; normalise to bytes.
    return Buffer.isBuffer(row) ? row : Buffer.alloc(0);
  }

  /** Size and etag, or null when missing. */
  head(vault: string, key: string): Promise<RemoteObjectInfo | null> {
    return Promise.resolve((this.#head.get(vault, key) as RemoteObjectInfo | undefined) ?? null);
  }

  /** Up to `limit` objects whose key starts with `prefix`, strictly after `after`, in byte order (with the bytes of those up to `bodiesUpTo`). */
  list(vault: string, prefix: string, after: string, limit: number, bodiesUpTo?: number): Promise<ObjectPage> {
    const rows = this.#list.all(bodiesUpTo ?? null, vault, prefix, prefix + PREFIX_END, after, limit + 1) as (RemoteObjectInfo & { body: Buffer | string | null })[];
    // An empty BLOB may come back as '' (text), as in #read.
    return Promise.resolve(pageOf(rows.map(({ body, ...info }) => (body === null ? info : { ...info, body: Buffer.isBuffer(body) ? body : Buffer.alloc(0) })), limit));
  }

  /** Removes the object if present; returns whether one was removed. */
  delete(vault: string, key: string): Promise<boolean> {
    return Promise.resolve(this.#delete.run(vault, key).changes > 0);
  }

  /** Closes the database (checkpointing the WAL). */
  close(): Promise<void> {
    if (this.#db.open) {
      this.#commit(); // puts still waiting for their turn
      this.#db.close();
    }
    return Promise.resolve();
  }
}
