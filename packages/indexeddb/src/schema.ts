/**
 * @module schema
 * The IndexedDB database behind one store: its object stores, created by
 * `upgradeneeded` at {@link SCHEMA_VERSION} (IndexedDB's own version number).
 *
 * - `meta`: JSON text under the meta key.
 * - `records`: keyed by [collection, key] where `key` is the id in a form
 *   whose IndexedDB order is code point order (`idKey`); `fields` and `state` are JSON text
 *   (exactly what JSON can say, as in the SQLite store); `conflict` is the
 *   key again on conflicted rows only, so the sparse index `conflicted`
 *   lists them without a scan.
 * - `log`, `outbox`: keyed by an auto-increment `seq`. IndexedDB's key
 *   generator never goes back, even after deletes and reopens, which is the
 *   outbox's "seqs are never reused". From version 2 a `log` row holds the
 *   entries of one `appendLog` call in one collection (`entries`, JSON text); rows of
 *   version 1, one entry each, are read as they are (see idb-log.ts).
 * - `segments`: this device's own segment bytes under their seq.
 *
 * A migration to version N+1 goes in {@link upgrade} under `oldVersion <= N`;
 * never change what an older step does.
 */
import { ErrorCode, KithError } from '@kith/core';
import { toStoreError } from './idb-errors.js';

export const SCHEMA_VERSION = 2;

/** Every object store; each transaction covers all of them, so transactions are serializable. */
export const STORES = ['meta', 'records', 'log', 'outbox', 'segments'] as const;

function upgrade(db: IDBDatabase, oldVersion: number): void {
  if (oldVersion < 1) {
    db.createObjectStore('meta');
    const records = db.createObjectStore('records', { keyPath: ['collection', 'key'] });
    records.createIndex('conflicted', 'conflict');
    const log = db.createObjectStore('log', { keyPath: 'seq', autoIncrement: true });
    log.createIndex('collection', 'collection');
    db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
    db.createObjectStore('segments');
  }
  // Version 2: `log` rows written from now on group entries (one row per call and collection). Nothing
  // to convert, the old rows stay readable; the version is raised so that a build knowing only version 1,
  // which would misread the new rows, refuses the database (KITH_STORE_TOO_NEW) instead.
}

/** The object stores of version 1: every kith database, of any version, has them. */
const VERSION_1_STORES = ['meta', 'records', 'log', 'outbox', 'segments'];

function isKithStore(db: IDBDatabase, stores: readonly string[] = STORES): boolean {
  const names = new Set(Array.from(db.objectStoreNames));
  return stores.every((s) => names.has(s));
}

/** Opens (creating or upgrading) the database `dbName`; `label` names it in errors. */
export function openDatabase(dbName: string, label: string): Promise<IDBDatabase> {
  const factory = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (factory === undefined) {
    return Promise.reject(new KithError(ErrorCode.StoreFailed, 'IndexedDB is not available here', { hint: 'open the store in a browser page or worker' }));
  }
  return new Promise((resolve, reject) => {
    let req: IDBOpenDBRequest;
    try {
      req = factory.open(dbName, SCHEMA_VERSION);
    } catch (e) {
      reject(toStoreError(e, label));
      return;
    }
    const foreign = (): KithError =>
      new KithError(ErrorCode.StoreFailed, `the IndexedDB database ${dbName} is not a kith store`, {
        hint: 'give the store a name no other part of the app uses',
      });
    let refused = false;
    req.onupgradeneeded = (ev) => {
      // Someone else's database under our name is left exactly as it was: not even its version moves.
      if (ev.oldVersion > 0 && !isKithStore(req.result, VERSION_1_STORES)) {
        refused = true;
        req.transaction?.abort();
        return;
      }
      upgrade(req.result, ev.oldVersion);
    };
    req.onerror = () => reject(refused ? foreign() : toStoreError(req.error, label));
    req.onsuccess = () => {
      const db = req.result;
      if (!isKithStore(db)) {
        db.close();
        reject(foreign());
        return;
      }
      resolve(db);
    };
    // `blocked`: another tab holds an older version open. Kith's own connections close on
    // `versionchange`, so the open goes on once that tab lets go; nothing to do but wait.
  });
}
