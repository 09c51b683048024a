/**
 * @module fs-blob-cache
 * The Node blob cache as it was before packs: encrypted chunk and manifest objects as files under
 * the home (`<home>/blobs/c/ab/abcd…`), written atomically (temp file,
 * rename), with the file's mtime as its last use for LRU trimming.
 *
 * A 1 GiB blob is about a thousand objects, each a few file-system calls,
 * and every call is a round trip through libuv's thread pool, which
 * WebCrypto shares: so an object is written in one write and read in one
 * read, and a shard directory is made only when a write finds it missing.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobCache, CachedObject } from '@kith/core/adapter';

const isMissing = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ENOENT';

/** A cache key is `c/<id>` or `m/<id>`, the id 64 lowercase hex digits; anything else (a path) is refused. */
export function checkBlobCacheKey(key: string): void {
  if (!/^[cm]\/[0-9a-f]{64}$/.test(key)) throw new Error(`bad blob cache key ${key}`);
}

/**
 * The file-per-object layout (before packs): one file per object under
 * `<dir>/c/ab/abcd…`. `openFsBlobCache` opens a {@link PackBlobCache},
 * which still reads, lists and evicts a cache left in this layout.
 */
export class FsBlobCache implements BlobCache {
  constructor(readonly dir: string) {}

  #path(key: string): string {
    checkBlobCacheKey(key);
    return join(this.dir, key.slice(0, 1), key.slice(2, 4), key.slice(2));
  }

  async get(key: string): Promise<Uint8Array | null> {
    const path = this.#path(key);
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
    try {
      const size = (await fh.stat()).size;
      const out = new Uint8Array(size);
      let got = 0;
      while (got < size) {
        const { bytesRead } = await fh.read(out, got, size - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      const now = new Date();
      await fh.utimes(now, now).catch(() => undefined);
      return got === size ? out : out.subarray(0, got);
    } finally {
      await fh.close();
    }
  }

  async touch(key: string): Promise<boolean> {
    const path = this.#path(key);
    const now = new Date();
    try {
      await utimes(path, now, now);
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      // Cached but not stampable (say a read-only home): present all the same, as a read would find it.
      return (await stat(path).catch(() => undefined)) !== undefined;
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const path = this.#path(key);
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    const fh = await open(tmp, 'wx', 0o600).catch(async (e: unknown) => {
      if (!isMissing(e)) throw e;
      await mkdir(path.slice(0, path.lastIndexOf('/')), { recursive: true, mode: 0o700 });
      return open(tmp, 'wx', 0o600);
    });
    try {
      try {
        for (let at = 0; at < bytes.length;) at += (await fh.write(bytes, at, bytes.length - at, at)).bytesWritten;
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
  }

  async list(): Promise<CachedObject[]> {
    const out: CachedObject[] = [];
    for (const kind of ['c', 'm']) {
      for (const shard of await readdir(join(this.dir, kind)).catch(() => [] as string[])) {
        for (const name of await readdir(join(this.dir, kind, shard)).catch(() => [] as string[])) {
          if (name.endsWith('.tmp')) continue;
          const st = await stat(join(this.dir, kind, shard, name)).catch(() => undefined);
          if (st) out.push({ key: `${kind}/${name}`, size: st.size, usedAt: st.mtimeMs });
        }
      }
    }
    return out;
  }
}
