/**
 * @module fs-blob-cache
 * The Node blob cache: encrypted chunk and manifest objects as files under
 * the home (`<home>/blobs/c/ab/abcd…`), written atomically (temp file,
 * rename), with the file's mtime as its last use for LRU trimming.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobCache, CachedObject } from '@kith/core';

export class FsBlobCache implements BlobCache {
  constructor(readonly dir: string) {}

  #path(key: string): string {
    const [kind, id] = key.split('/') as [string, string];
    if (!/^[cm]$/.test(kind) || !/^[0-9a-f]{64}$/.test(id)) throw new Error(`bad blob cache key ${key}`);
    return join(this.dir, kind, id.slice(0, 2), id);
  }

  async get(key: string): Promise<Uint8Array | null> {
    const path = this.#path(key);
    try {
      const b = await readFile(path);
      const now = new Date();
      await utimes(path, now, now).catch(() => undefined);
      return new Uint8Array(b.buffer, b.byteOffset, b.length);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const path = this.#path(key);
    const dir = path.slice(0, path.lastIndexOf('/'));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, bytes, { mode: 0o600 });
    await rename(tmp, path);
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

/** Opens (creating on first write) the blob cache in `dir`. */
export function openFsBlobCache(dir: string): FsBlobCache {
  return new FsBlobCache(dir);
}
