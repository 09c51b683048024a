/**
 * @module blob-cache
 * The browser's blob cache: where a page keeps the encrypted chunk and
 * manifest objects of attachments (as the remote holds them: bytes at rest
 * stay encrypted and every read is verified), so a blob read once opens
 * again offline. In the origin private file system where the browser has
 * one, else in IndexedDB; either way one object (at most a chunk) is in
 * memory per call, and `list`/`delete` are what eviction (`cacheBytes`) uses.
 */
import { ErrorCode, KithError } from '@kith/core';
import type { BlobCache } from '@kith/core/adapter';
import { cacheError, cacheDatabaseName, openCacheDatabase } from './cache-db.js';
import { IdbBlobCache } from './idb-blob-cache.js';
import { OpfsBlobCache } from './opfs-blob-cache.js';

export { IdbBlobCache } from './idb-blob-cache.js';
export { OpfsBlobCache } from './opfs-blob-cache.js';

/** A browser blob cache; `close()` releases its IndexedDB connection. */
export interface BrowserBlobCache extends BlobCache {
  /** Where the objects are: `opfs` (the origin private file system) or `indexeddb`. */
  readonly backend: 'opfs' | 'indexeddb';
  readonly name: string;
  close(): void;
}

/** The OPFS folder of all caches: apart from whatever else the app keeps there. */
const ROOT = 'kith-blobs';

async function opfsDir(name: string): Promise<FileSystemDirectoryHandle | undefined> {
  const storage = (globalThis as { navigator?: { storage?: Partial<StorageManager> } }).navigator?.storage;
  if (typeof storage?.getDirectory !== 'function') return undefined;
  let root: FileSystemDirectoryHandle;
  try {
    root = await storage.getDirectory();
  } catch {
    return undefined; // OPFS refused here (some private modes): IndexedDB still works
  }
  // A name may hold characters a file name may not ('/'): encoded, each name is one folder.
  return (await root.getDirectoryHandle(ROOT, { create: true })).getDirectoryHandle(encodeURIComponent(name), { create: true });
}

/**
 * Opens the blob cache `name` of this origin (the same name after a reload
 * is the same cache; give each vault its own).
 *
 * @example
 * ```ts
 * const vault = await Vault.open({ store: await openIndexedDbStore('journal'), remote, blobCache: await openBrowserBlobCache('journal') });
 * ```
 */
export async function openBrowserBlobCache(name: string): Promise<BrowserBlobCache> {
  if (typeof name !== 'string' || name.length === 0) throw new KithError(ErrorCode.BadInput, 'a blob cache name must be a non-empty string');
  const db = await openCacheDatabase(name);
  try {
    const dir = await opfsDir(name);
    return dir === undefined ? new IdbBlobCache(name, db) : new OpfsBlobCache(name, dir, db);
  } catch (e) {
    db.close();
    throw cacheError(e, name);
  }
}

/** The IndexedDB database a cache named `name` uses (its OPFS folder is `kith-blobs/<encoded name>`). */
export { cacheDatabaseName };
