/**
 * @module snapshot/prefetch
 * What a restoring device reads ahead of its first pull, while it writes
 * itself into the registry and seals its key: the snapshot listing, the
 * newest manifest's bytes and its first chunks' bytes, exactly as stored.
 * Nothing read here is trusted: the bootstrap takes the bytes in place of
 * its own reads and checks them all as it would (manifest against the
 * registry and the signed heads, each chunk against its id and size).
 * Best effort: whatever fails or is missing is read again then.
 */
import { blobKeys } from '../format/blob-format.js';
import { decodeSnapshot, peekSnapshot, snapshotKeys } from '../format/index.js';
import type { Remote, RemoteObjectInfo } from '../ports/remote.js';
import type { DeviceRegistry } from '../identity/registry.js';
import { READ_AHEAD } from './chunks.js';

/** Bytes read ahead, by remote key; each taken at most once. */
export class SnapshotPrefetch {
  readonly #listing: Promise<RemoteObjectInfo[] | undefined>;
  readonly #newest: Promise<{ key: string; bytes: Promise<Uint8Array | null | undefined> } | undefined>;
  readonly #chunks: Promise<Map<string, Promise<Uint8Array | null | undefined>>>;

  /**
   * `withChunks`: the first chunks too (only a store with `bulkLoad` reads them straight from the remote; others go through the blob layer).
   * `epochKey` may settle later than the manifest arrives (the device may still be opening its sealed key): only naming the chunks waits for it.
   */
  constructor(
    remote: Remote,
    vaultId: string,
    registry: DeviceRegistry,
    epochKey: (epoch: number) => Promise<Uint8Array | undefined> | Uint8Array | undefined,
    withChunks: boolean,
  ) {
    const quiet = <T>(p: Promise<T>): Promise<T | undefined> => p.catch(() => undefined);
    this.#listing = quiet(remote.list(snapshotKeys.prefix));
    this.#newest = this.#listing.then((found) => {
      const key = snapshotKeys.newestFirst(found ?? [])[0];
      return key === undefined ? undefined : { key, bytes: quiet(remote.get(key)) };
    });
    // The chunk ids are inside the manifest: decoded here only to name what to fetch.
    this.#chunks = this.#newest.then(async (newest) => {
      const chunks = new Map<string, Promise<Uint8Array | null | undefined>>();
      const bytes = await newest?.bytes;
      if (!withChunks || !newest || !bytes) return chunks;
      try {
        const header = peekSnapshot(bytes, newest.key);
        const signPub = registry.deviceSignPub(header.deviceId);
        const key = signPub && (await epochKey(header.epoch));
        if (!signPub || !key) return chunks;
        const m = await decodeSnapshot(bytes, { vaultId, key: newest.key, signPub, epochKey: (e) => (e === header.epoch ? key : undefined) });
        for (const c of m.chunks.slice(0, READ_AHEAD)) chunks.set(c.id, quiet(remote.get(blobKeys.chunk(c.id))));
      } catch {
        // Refused here, refused by the bootstrap's own checks too: nothing to fetch ahead.
      }
      return chunks;
    });
  }

  /** The snapshot listing as read ahead, or undefined if that failed. */
  listing(): Promise<RemoteObjectInfo[] | undefined> {
    return this.#listing;
  }

  /** The bytes of snapshot `key` as read ahead (null: absent then), or undefined if they were not read. */
  async manifest(key: string): Promise<Uint8Array | null | undefined> {
    const newest = await this.#newest;
    return newest?.key === key ? newest.bytes : undefined;
  }

  /** The stored bytes of chunk `id` as read ahead, at most once; undefined if they were not read. */
  async chunk(id: string): Promise<Uint8Array | null | undefined> {
    const chunks = await this.#chunks;
    const p = chunks.get(id);
    chunks.delete(id);
    return p;
  }
}
