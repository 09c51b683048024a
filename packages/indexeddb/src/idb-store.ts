/**
 * @module idb-store
 * The browser store: one IndexedDB database per device. Every transaction
 * spans all object stores, so IndexedDB itself serializes writes (across
 * tabs too) and gives reads a consistent snapshot; no lock of our own.
 */
import { ErrorCode, KithError, type Store } from '@kith/core';
import { type StoreTx } from '@kith/core/adapter';
import { toStoreError } from './idb-errors.js';
import { IdbTx } from './idb-tx.js';
import { openDatabase, STORES } from './schema.js';

/** Options of {@link openIndexedDbStore}. */
export interface IndexedDbStoreOptions {
  /** Ask the browser to keep this site's data under storage pressure (default true; asked once per page). */
  readonly persist?: boolean;
}

/** The IndexedDB database name of the store `name`: prefixed, so it cannot collide with an app's own databases. */
export function databaseName(name: string): string {
  return `kith/${name}`;
}

let persistence: Promise<boolean> | undefined;

/**
 * Asks once per page for persistent storage. Not awaited by open: a browser
 * may show a prompt, and the store works either way (only eviction under
 * storage pressure differs).
 */
function askPersistence(): Promise<boolean> {
  persistence ??= (async () => {
    const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
    if (storage?.persist === undefined) return false;
    try {
      return (await storage.persisted()) || (await storage.persist());
    } catch {
      return false;
    }
  })();
  return persistence;
}

/** Settles when the transaction commits, or rejects with why it aborted. */
function settled(tx: IDBTransaction): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new DOMException('the transaction was aborted', 'AbortError'));
  });
  done.catch(() => undefined); // observed later, or on purpose not at all (our own abort)
  return done;
}

function abortQuietly(tx: IDBTransaction): void {
  try {
    tx.abort();
  } catch {
    // Already finished or aborted (a failed request aborts it): nothing left to undo.
  }
}

/** A {@link Store} in one IndexedDB database. Open it with {@link openIndexedDbStore}. */
export class IndexedDbStore implements Store {
  /** The name the store was opened with. */
  readonly name: string;
  /**
   * Whether the browser granted persistent storage (false where it is not
   * supported or was refused). Reported, not required.
   */
  readonly persisted: Promise<boolean>;
  readonly #db: IDBDatabase;
  readonly #running = new Set<Promise<unknown>>();
  #closed: string | undefined;

  constructor(name: string, db: IDBDatabase, persisted: Promise<boolean>) {
    this.name = name;
    this.#db = db;
    this.persisted = persisted;
    // Another tab upgrading or deleting the database waits for every connection to close: let go,
    // and fail later transactions clearly instead of blocking that tab.
    db.onversionchange = () => {
      this.#closed = 'another tab upgraded or deleted it';
      db.close();
    };
  }

  /** Runs `fn` in a read transaction (a consistent snapshot). */
  read<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.#transaction(fn, 'readonly');
  }

  /** Runs `fn` in one readwrite transaction: committed (durably) when it resolves, aborted when it rejects. */
  write<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.#transaction(fn, 'readwrite');
  }

  /** Closes the database once running transactions finish; later transactions reject. */
  async close(): Promise<void> {
    if (this.#closed !== undefined) return;
    this.#closed = 'it was closed';
    await Promise.allSettled(this.#running);
    this.#db.close();
  }

  #transaction<T>(fn: (tx: StoreTx) => Promise<T>, mode: IDBTransactionMode): Promise<T> {
    if (this.#closed !== undefined) {
      return Promise.reject(new KithError(ErrorCode.StoreFailed, `the store ${this.name} is closed: ${this.#closed}`, { hint: 'open the store again' }));
    }
    let idb: IDBTransaction;
    try {
      // strict: the write resolves only once the browser has flushed it to disk (the Store contract).
      idb = this.#db.transaction(STORES, mode, { durability: mode === 'readwrite' ? 'strict' : 'default' });
    } catch (e) {
      return Promise.reject(toStoreError(e, this.name));
    }
    const run = this.#run(fn, idb, mode === 'readwrite');
    this.#running.add(run);
    const forget = (): void => void this.#running.delete(run);
    run.then(forget, forget);
    return run;
  }

  async #run<T>(fn: (tx: StoreTx) => Promise<T>, idb: IDBTransaction, writable: boolean): Promise<T> {
    const done = settled(idb);
    const tx = new IdbTx(idb, writable, this.name);
    let out: T;
    try {
      out = await fn(tx);
    } catch (e) {
      // The caller's rejection passes through unchanged, once the abort has undone its writes.
      tx.end();
      abortQuietly(idb);
      await done.catch(() => undefined);
      throw e;
    }
    tx.end();
    if (tx.failure !== undefined) {
      abortQuietly(idb);
      await done.catch(() => undefined);
      throw tx.failure;
    }
    try {
      idb.commit();
    } catch {
      // Already committing: a transaction with no pending request commits on its own.
    }
    try {
      await done;
    } catch (e) {
      // Aborted at commit: a full quota shows up here, with nothing of the transaction kept.
      throw toStoreError(e, this.name);
    }
    return out;
  }
}

/**
 * Opens (creating if needed) the store `name`. The same name opens the same
 * device's data after a reload, in any tab of the same origin.
 *
 * @example
 * ```ts
 * const store = await openIndexedDbStore('journal');
 * await store.write((tx) => tx.setMeta('hello', 'world'));
 * ```
 */
export async function openIndexedDbStore(name: string, options: IndexedDbStoreOptions = {}): Promise<IndexedDbStore> {
  if (typeof name !== 'string' || name.length === 0) throw new KithError(ErrorCode.BadInput, 'a store name must be a non-empty string');
  const db = await openDatabase(databaseName(name), name);
  return new IndexedDbStore(name, db, options.persist === false ? Promise.resolve(false) : askPersistence());
}
