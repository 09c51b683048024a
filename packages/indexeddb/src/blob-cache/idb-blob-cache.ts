/**
 * @module blob-cache/idb-blob-cache
 * The blob cache on IndexedDB alone, for browsers without OPFS: each object
 * is one value of the `objects` store, written in the same transaction as
 * its `used` entry, so a reader sees a whole object or none.
 */
import type { BlobCache, CachedObject } from '@kith/core/adapter';
import { request } from '../idb-request.js';
import { cacheError, checkKey, checkPut, committed, OBJECTS, ownBytes, readUsed, USED, type Used } from './cache-db.js';

export class IdbBlobCache implements BlobCache {
  readonly backend = 'indexeddb';

  constructor(
    readonly name: string,
    readonly db: IDBDatabase,
  ) {}

  async #run<T>(stores: string[], mode: IDBTransactionMode, fn: (tx: IDBTransaction) => Promise<T>): Promise<T> {
    try {
      const tx = this.db.transaction(stores, mode);
      let out: T | undefined;
      const done = committed(tx, () => out as T);
      try {
        out = await fn(tx);
      } catch (e) {
        // Already aborted by the failed request, or still open: either way none of it commits.
        if (tx.error === null) tx.abort();
        await done.catch(() => undefined);
        throw e;
      }
      return await done;
    } catch (e) {
      throw cacheError(e, this.name);
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    checkKey(key);
    return this.#run([OBJECTS, USED], 'readwrite', async (tx) => {
      const bytes = (await request(tx.objectStore(OBJECTS).get(key))) as Uint8Array | undefined;
      if (bytes === undefined) return null;
      tx.objectStore(USED).put({ size: bytes.length, usedAt: Date.now() } satisfies Used, key);
      return bytes;
    });
  }

  async touch(key: string): Promise<boolean> {
    checkKey(key);
    return this.#run([USED], 'readwrite', async (tx) => {
      const used = (await request(tx.objectStore(USED).get(key))) as Used | undefined;
      if (used === undefined) return false;
      tx.objectStore(USED).put({ size: used.size, usedAt: Date.now() } satisfies Used, key);
      return true;
    });
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    checkPut(key, bytes);
    const own = ownBytes(bytes);
    await this.#run([OBJECTS, USED], 'readwrite', async (tx) => {
      tx.objectStore(OBJECTS).put(own, key);
      tx.objectStore(USED).put({ size: own.length, usedAt: Date.now() } satisfies Used, key);
    });
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await this.#run([OBJECTS, USED], 'readwrite', async (tx) => {
      tx.objectStore(OBJECTS).delete(key);
      tx.objectStore(USED).delete(key);
    });
  }

  async list(): Promise<CachedObject[]> {
    return this.#run([USED], 'readonly', async (tx) => [...(await readUsed(tx, USED))].map(([key, u]) => ({ key, size: u.size, usedAt: u.usedAt })));
  }

  close(): void {
    this.db.close();
  }
}
