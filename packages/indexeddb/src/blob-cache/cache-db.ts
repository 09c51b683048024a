/**
 * @module blob-cache/cache-db
 * What both browser blob caches share: the key rule, error mapping, and the
 * IndexedDB database `kith-blobs/<name>`. Without OPFS its `objects` store
 * holds the bytes and `used` each object's size and last use (so listing for
 * eviction never loads a byte of an object); with OPFS, `opfsUsed` holds
 * the last reads and touches of its files.
 */
import { ErrorCode, KithError } from '@kith/core';
import { isQuotaError, toStoreError } from '../idb-errors.js';
import { request } from '../idb-request.js';

/** `c/<id>` or `m/<id>`, the id 64 lowercase hex digits: anything else could name a path outside the cache. */
const KEY = /^[cm]\/[0-9a-f]{64}$/;

export function checkKey(key: string): void {
  if (typeof key !== 'string' || !KEY.test(key)) throw new KithError(ErrorCode.BadInput, `bad blob cache key ${String(key).slice(0, 80)}`);
}

/** Checks a put's arguments; encrypted objects are never empty, and an empty file is how OPFS shows a write not yet committed. */
export function checkPut(key: string, bytes: Uint8Array): void {
  checkKey(key);
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw new KithError(ErrorCode.BadInput, `blob cache object ${key} must be non-empty bytes`);
}

/** A failure of the cache `name` as a KithError: a full quota is KITH_STORAGE_FULL, with nothing of the write kept. */
export function cacheError(e: unknown, name: string): Error {
  if (isQuotaError(e)) {
    return new KithError(ErrorCode.StorageFull, `the blob cache ${name} is full: the browser's storage quota for this site is used up`, {
      hint: 'trim the cache (a smaller cacheBytes) or free space on the device',
      cause: e,
    });
  }
  return toStoreError(e, `blob cache ${name}`);
}

export interface Used {
  readonly size: number;
  readonly usedAt: number;
}

export const OBJECTS = 'objects';
/** Size and last use of each object of the IndexedDB backend (written with the object). */
export const USED = 'used';
/** Last reads and touches of the OPFS backend's files: apart, so a switch of backend never lists the other's objects. */
export const OPFS_USED = 'opfsUsed';

/** The IndexedDB database of the cache `name`: apart from the stores' `kith/<name>`. */
export function cacheDatabaseName(name: string): string {
  return `kith-blobs/${name}`;
}

export function openCacheDatabase(name: string): Promise<IDBDatabase> {
  const factory = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (factory === undefined) return Promise.reject(new KithError(ErrorCode.StoreFailed, 'IndexedDB is not available here'));
  return new Promise((resolve, reject) => {
    let req: IDBOpenDBRequest;
    try {
      req = factory.open(cacheDatabaseName(name), 1);
    } catch (e) {
      reject(cacheError(e, name));
      return;
    }
    req.onupgradeneeded = () => {
      req.result.createObjectStore(OBJECTS);
      req.result.createObjectStore(USED);
      req.result.createObjectStore(OPFS_USED);
    };
    req.onerror = () => reject(cacheError(req.error, name));
    req.onsuccess = () => {
      const db = req.result;
      // Another tab deleting or upgrading the database: let it, this connection's later calls fail visibly.
      db.onversionchange = () => db.close();
      resolve(db);
    };
  });
}

/** Settles once `tx` has committed (with `value`), or with its error once it aborted. */
export function committed<T>(tx: IDBTransaction, value: () => T): Promise<T> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve(value());
    tx.onabort = tx.onerror = () => reject(tx.error ?? new DOMException('the transaction was aborted', 'AbortError'));
  });
}

/** The bytes as their own buffer: IndexedDB and OPFS would otherwise keep the whole buffer a view sits in. */
export function ownBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
    ? (bytes as Uint8Array<ArrayBuffer>)
    : bytes.slice();
}

/** Every entry of the store `name` (USED or OPFS_USED), read in `tx` (keys are always the strings put). */
export async function readUsed(tx: IDBTransaction, name: string): Promise<Map<string, Used>> {
  const store = tx.objectStore(name);
  const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
  return new Map(keys.map((key, i) => [key as string, values[i] as Used]));
}
