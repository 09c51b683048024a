/**
 * @module testing/memory-blob-cache
 * A BlobCache in memory, for tests.
 */
import type { BlobCache, CachedObject } from '../ports/blob-cache.js';

/** An in-memory cache (tests). */
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
