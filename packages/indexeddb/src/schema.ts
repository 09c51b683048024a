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
 *   outbox's "seqs are never reused".
 * - `segments`: this device's own segment bytes under their seq.
 *
 * A migration to version N+1 goes in {@link upgrade} under `oldVersion <= N`;
 * never change what an older step does.
 */
import { ErrorCode, KithError } from '@kith/core';
import { toStoreError } from './idb-errors.js';

export const SCHEMA_VERSION = 1;

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
    req.onupgradeneeded = (ev) => upgrade(req.result, ev.oldVersion);
    req.onerror = () => reject(toStoreError(req.error, label));
    req.onsuccess = () => {
      const db = req.result;
      const names = new Set(Array.from(db.objectStoreNames));
      if (STORES.some((s) => !names.has(s))) {
        db.close();
        reject(
          new KithError(ErrorCode.StoreFailed, `the IndexedDB database ${dbName} is not a kith store`, {
            hint: 'give the store a name no other part of the app uses',
          }),
        );
        return;
      }
      resolve(db);
    };
    // `blocked`: another tab holds an older version open. Kith's own connections close on
    // `versionchange`, so the open goes on once that tab lets go; nothing to do but wait.
  });
}
