/**
 * @module ports/blob-cache
 * Where a device keeps blob objects locally: the encrypted chunk and
 * manifest objects exactly as the remote holds them, so bytes at rest stay
 * encrypted and every read is verified. Node: files under the home
 * (`@kith/node`'s `openFsBlobCache`); tests: `MemoryBlobCache` from `@kith/core/testing`.
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
  /**
   * Makes every put so far survive a power cut; optional (without it, puts
   * are as durable as they are). Called once an attach's copy is written:
   * it may become the only copy to restore the blob from (`Blobs.ensureUploaded`).
   */
  flush?(): Promise<void>;
  /** Flushes and releases files; `Vault.close` calls it, as it closes the store it was given. */
  close?(): void | Promise<void>;
}
