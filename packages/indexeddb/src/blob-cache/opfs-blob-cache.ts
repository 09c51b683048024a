/**
 * @module blob-cache/opfs-blob-cache
 * The blob cache in the origin private file system: one file per object,
 * `<dir>/c/<id>` and `<dir>/m/<id>`. A file is written through
 * `createWritable()`, which writes a swap file and replaces the object in
 * one step on `close()`, so a reader sees the old object or the new one;
 * a new file is empty until then, and an empty file counts as absent.
 * OPFS has no way to set a file's time, so a read's or touch's "used now"
 * is kept in the cache's IndexedDB `opfsUsed` store; a file's last use is the
 * later of that and its last write.
 */
import type { BlobCache, CachedObject } from '@kith/core/adapter';
import { cacheError, checkKey, checkPut, committed, ownBytes, readUsed, OPFS_USED, type Used } from './cache-db.js';

/** Directory iteration: in every browser with OPFS, missing from TypeScript's DOM lib without DOM.AsyncIterable. */
type Listable = FileSystemDirectoryHandle & { keys(): AsyncIterable<string> };

const isMissing = (e: unknown): boolean => (e as { name?: unknown } | null)?.name === 'NotFoundError';
/** Another writer of the same object holds it (browsers whose writables take an exclusive lock). */
const isBusy = (e: unknown): boolean => (e as { name?: unknown } | null)?.name === 'NoModificationAllowedError';

export class OpfsBlobCache implements BlobCache {
  readonly backend = 'opfs';
  /** Puts of one key from this page, chained: the same object is never written twice at once from here. */
  readonly #writing = new Map<string, Promise<unknown>>();

  constructor(
    readonly name: string,
    readonly dir: FileSystemDirectoryHandle,
    readonly db: IDBDatabase,
  ) {}

  async #kindDir(kind: string, create: boolean): Promise<FileSystemDirectoryHandle | undefined> {
    try {
      return await this.dir.getDirectoryHandle(kind, { create });
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  /** The object's file, or undefined when it is not cached (missing, or not yet committed). */
  async #file(key: string): Promise<File | undefined> {
    const [kind, id] = key.split('/') as [string, string];
    try {
      const dir = await this.#kindDir(kind, false);
      const file = await (await dir?.getFileHandle(id))?.getFile();
      return file !== undefined && file.size > 0 ? file : undefined;
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw cacheError(e, this.name);
    }
  }

  /** Marks `key` used now; a cache whose stamp fails (say a full quota) still serves the object, as the Node cache does. */
  async #stamp(key: string, size: number): Promise<void> {
    await this.#used((s) => s.put({ size, usedAt: Date.now() } satisfies Used, key)).catch(() => undefined);
  }

  async #used(update: (store: IDBObjectStore) => void): Promise<void> {
    try {
      const tx = this.db.transaction([OPFS_USED], 'readwrite');
      update(tx.objectStore(OPFS_USED));
      await committed(tx, () => undefined);
    } catch (e) {
      throw cacheError(e, this.name);
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    checkKey(key);
    return this.#read(key, true);
  }

  async #read(key: string, again: boolean): Promise<Uint8Array | null> {
    const file = await this.#file(key);
    if (file === undefined) return null;
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await file.arrayBuffer()); // one object: at most a chunk
    } catch (e) {
      // Replaced or deleted since the handle was taken: read the current one, or none.
      if (again && (isMissing(e) || (e as { name?: unknown }).name === 'NotReadableError')) return this.#read(key, false);
      throw cacheError(e, this.name);
    }
    await this.#stamp(key, bytes.length);
    return bytes;
  }

  async touch(key: string): Promise<boolean> {
    checkKey(key);
    const file = await this.#file(key);
    if (file === undefined) return false;
    await this.#stamp(key, file.size);
    return true;
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    checkPut(key, bytes);
    const own = ownBytes(bytes);
    const prior = this.#writing.get(key) ?? Promise.resolve();
    const next = prior.catch(() => undefined).then(() => this.#write(key, own));
    this.#writing.set(key, next);
    void next
      .finally(() => {
        if (this.#writing.get(key) === next) this.#writing.delete(key);
      })
      .catch(() => undefined);
    return next;
  }

  async #write(key: string, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
    const [kind, id] = key.split('/') as [string, string];
    try {
      const handle = await (await this.#kindDir(kind, true))!.getFileHandle(id, { create: true });
      for (let attempt = 0; ; attempt++) {
        let writable: FileSystemWritableFileStream;
        try {
          writable = await handle.createWritable();
        } catch (e) {
          // Another tab writing the same object: it writes an equally valid encryption; wait for it a little.
          if (!isBusy(e) || attempt >= 20) throw e;
          await new Promise((resolve) => setTimeout(resolve, 25 * (attempt + 1)));
          continue;
        }
        try {
          await writable.write(bytes);
          await writable.close(); // the commit: the swap file replaces the object
        } catch (e) {
          await writable.abort().catch(() => undefined);
          throw e;
        }
        break;
      }
    } catch (e) {
      // A file this write created stays empty (absent to readers): remove it rather than leave it behind.
      const dir = await this.#kindDir(kind, false).catch(() => undefined);
      const left = await dir
        ?.getFileHandle(id)
        .then((h) => h.getFile())
        .catch(() => undefined);
      if (left?.size === 0) await dir?.removeEntry(id).catch(() => undefined);
      throw cacheError(e, this.name);
    }
    // No stamp: a file's last use is the later of its last write and its stamp, so the write itself counts.
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    const [kind, id] = key.split('/') as [string, string];
    try {
      await (await this.#kindDir(kind, false))?.removeEntry(id);
    } catch (e) {
      if (!isMissing(e)) throw cacheError(e, this.name);
    }
    await this.#used((s) => s.delete(key));
  }

  async list(): Promise<CachedObject[]> {
    let used: Map<string, Used>;
    try {
      used = await readUsed(this.db.transaction([OPFS_USED], 'readonly'), OPFS_USED);
    } catch (e) {
      throw cacheError(e, this.name);
    }
    const out: CachedObject[] = [];
    for (const kind of ['c', 'm']) {
      const dir = (await this.#kindDir(kind, false).catch((e: unknown) => Promise.reject(cacheError(e, this.name)))) as Listable | undefined;
      if (dir === undefined) continue;
      for await (const id of dir.keys()) {
        if (!/^[0-9a-f]{64}$/.test(id)) continue; // a browser's swap file, or anything not ours
        const key = `${kind}/${id}`;
        const file = await this.#file(key);
        if (file !== undefined) out.push({ key, size: file.size, usedAt: Math.max(file.lastModified, used.get(key)?.usedAt ?? 0) });
      }
    }
    return out;
  }

  close(): void {
    this.db.close();
  }
}
