/**
 * @module pack-blob-cache-readers
 * Reading objects out of the pack cache's files: read descriptors kept open
 * across gets (a few, by pack name); the promisified file calls the cache
 * shares, and the shape of the pack it appends to.
 */
import { close, fdatasync, open, read, write } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** Read descriptors kept open across gets. */
const READERS = 16;

export const writeAt = promisify(write);
const readAt = promisify(read);
export const openFd = promisify(open);
export const closeFd = promisify(close);
export const syncFd = promisify(fdatasync);

export const isMissing = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ENOENT';

/** The pack this instance appends to: `end` is where the next reservation starts. */
export interface Writer {
  readonly id: number;
  readonly name: string;
  readonly fd: number;
  end: number;
  readonly inflight: Set<Promise<unknown>>;
  /** Once another pack took its place: its release (fsynced, then reclaimed). */
  released?: Promise<void>;
}

/** Read descriptors of the packs in one directory. */
export class PackReaders {
  readonly #dir: string;
  /** Read descriptors by pack name (names are never reused; ids may be). */
  readonly #open = new Map<string, { fd: Promise<number>; users: number }>();

  constructor(packsDir: string) {
    this.#dir = packsDir;
  }

  /** An object's bytes; 'gone' when its pack was removed (compacted meanwhile), 'short' when the file holds fewer bytes than asked. */
  async read(name: string, offset: number, length: number): Promise<Uint8Array | 'gone' | 'short'> {
    let r = this.#open.get(name);
    if (!r) {
      r = { fd: openFd(join(this.#dir, `${name}.pack`), 'r'), users: 0 };
      r.fd.catch(() => undefined);
      this.#open.set(name, r);
      this.#trim();
    }
    r.users++;
    try {
      const fd = await r.fd;
      const out = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await readAt(fd, out, got, length - got, offset + got);
        if (bytesRead === 0) return 'short';
        got += bytesRead;
      }
      return out;
    } catch (e) {
      if (!isMissing(e)) throw e;
      this.#open.delete(name);
      return 'gone';
    } finally {
      r.users--;
      this.#trim();
    }
  }

  #trim(): void {
    for (const [name, r] of this.#open) {
      if (this.#open.size <= READERS) return;
      if (r.users > 0) continue;
      this.#open.delete(name);
      void r.fd.then((fd) => closeFd(fd)).catch(() => undefined);
    }
  }

  /** Closes the descriptor of a pack that is gone. */
  forget(name: string): void {
    const r = this.#open.get(name);
    this.#open.delete(name);
    void r?.fd.then((fd) => closeFd(fd)).catch(() => undefined);
  }

  async closeAll(): Promise<void> {
    for (const r of this.#open.values()) await r.fd.then((fd) => closeFd(fd)).catch(() => undefined);
    this.#open.clear();
  }
}
