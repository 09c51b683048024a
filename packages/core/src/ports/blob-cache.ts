/**
 * @module blobs/blob-cache
 * Where a device keeps blob objects locally: the encrypted chunk and
 * manifest objects exactly as the remote holds them, so bytes at rest stay
 * encrypted and every read is verified. Node: files under the home
 * (`@kith/node`'s `openFsBlobCache`); tests: {@link MemoryBlobCache}.
 */

export interface CachedObject {
  /** `c/<id>` for a chunk, `m/<id>` for a manifest. */
  readonly key: string;
  readonly size: number;
  /** Last read or write, ms. */
  readonly usedAt: number;
}

export interface BlobCache {
  get(key: string): Promise<Uint8Array | null>;
  /** Whether the object is cached; marks it used now, as a read does, without reading it. */
  touch(key: string): Promise<boolean>;
  /** Atomic: a reader never sees a partial object. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  list(): Promise<CachedObject[]>;
}

/** An in-memory cache (tests, and browsers until IndexedDB storage lands). */
export class MemoryBlobCache implements BlobCache {
  readonly #objects = new Map<string, { bytes: Uint8Array; usedAt: number }>();
  async get(key: string): Promise<Uint8Array | null> {
    const o = this.#objects.get(key);
    if (!o) return null;
    o.usedAt = Date.now();
    return o.bytes;
  }
  async touch(key: string): Promise<boolean> {
    const o = this.#objects.get(key);
    if (o) o.usedAt = Date.now();
    return o !== undefined;
  }
  async put(key: string, bytes: Uint8Array): Promise<void> {
    this.#objects.set(key, { bytes: bytes.slice(), usedAt: Date.now() });
  }
  async delete(key: string): Promise<void> {
    this.#objects.delete(key);
  }
  async list(): Promise<CachedObject[]> {
    return [...this.#objects].map(([key, o]) => ({ key, size: o.bytes.length, usedAt: o.usedAt }));
  }
}
