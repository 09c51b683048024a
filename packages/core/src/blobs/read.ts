/**
 * @module blobs/read
 * The read path of attachments: a verified object from the cache, else
 * from the remote (cached on the way unless the remote is on this disk),
 * and a blob's bytes as a stream fetched a few chunks ahead.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import type { EngineContext } from '../sync/context.js';
import { epochKeyNamedBy } from '../sync/catch-up.js';
import type { BlobCache } from '../ports/blob-cache.js';
import { blobKeys, decodeBlobObject, MAX_MANIFEST_BYTES, peekBlobEpoch, type BlobManifest } from '../format/blob-format.js';
import { BufferPool } from './buffer-pool.js';
import { AVG_CHUNK, MAX_CHUNK } from './chunker.js';

/** Chunks fetched ahead of the reader: memory stays within a few chunks. */
const READ_AHEAD = 6;
/** Bytes an encrypted blob object adds to its plaintext: the 56-byte header and the 16-byte GCM tag. */
const OBJECT_OVERHEAD = 56 + 16;

export class BlobReader {
  readonly #ctx: EngineContext;
  readonly #cache: BlobCache | undefined;
  /** Opens the vault's remote if it is not yet: reads from the cache never need it. */
  readonly #ready: () => Promise<unknown>;
  /**
   * Buffers chunks are read into from the remote when no cache keeps their
   * bytes: a fetch then allocates one buffer per chunk (the plaintext), not
   * two, and V8's external-memory collections come half as often.
   */
  readonly #reads = new BufferPool(READ_AHEAD + 2, AVG_CHUNK);

  constructor(ctx: EngineContext, cache: BlobCache | undefined, ready: () => Promise<unknown>) {
    this.#ctx = ctx;
    this.#cache = cache;
    this.#ready = ready;
  }

  /**
   * The cache to write what goes to or comes from the open remote into:
   * none when the remote is on this machine's own disk (`capabilities.local`),
   * whose objects are as readable offline as a cached copy; the copy would
   * only double every byte written.
   */
  cacheFor(): BlobCache | undefined {
    return this.#ctx.remote.capabilities.local === true ? undefined : this.#cache;
  }

  /**
   * A verified object: from the cache, else the remote (then cached, unless the remote is local and `keep` is not asked).
   * `size`, a chunk's plaintext size when known, lets an uncached read go into a reused buffer.
   */
  async object(kind: 'chunk' | 'manifest', id: string, signal?: AbortSignal, keep = false, size?: number): Promise<Uint8Array> {
    const cacheKey = `${kind[0]}/${id}`;
    const cached = await this.#cache?.get(cacheKey);
    const decode = async (bytes: Uint8Array) => {
      const epoch = peekBlobEpoch(bytes);
      if (epoch !== undefined && !this.#ctx.epochKeys.has(epoch)) await this.#ready(); // the key comes from the remote
      if (epoch !== undefined) await epochKeyNamedBy(this.#ctx, epoch, `blob ${kind} ${id.slice(0, 12)}…`, signal);
      return decodeBlobObject(kind, bytes, {
        vaultId: this.#ctx.vaultId,
        expectId: id,
        epochKey: (e) => this.#ctx.epochKeys.get(e),
        maxBytes: kind === 'chunk' ? MAX_CHUNK : MAX_MANIFEST_BYTES,
      });
    };
    if (cached) {
      try {
        return await decode(cached);
      } catch (e) {
        if (KithError.is(e, ErrorCode.Revoked)) throw e; // about this device, not the entry
        await this.#cache!.delete(cacheKey); // a damaged cache entry: fetch it again
      }
    }
    await this.#ready();
    const cache = keep ? this.#cache : this.cacheFor();
    // The object's size is at most the plaintext's plus its header and tag (deflate is used only where it shrinks).
    const into = !cache && size !== undefined && size <= MAX_CHUNK ? this.#reads.take(size + OBJECT_OVERHEAD) : undefined;
    try {
      return await this.#fetched(kind, id, decode, cache, signal, into);
    } finally {
      if (into) this.#reads.give(into);
    }
  }

  /** The object read from the remote (into `into` if given and it fits), decoded, and cached in `cache`. */
  async #fetched(
    kind: 'chunk' | 'manifest',
    id: string,
    decode: (bytes: Uint8Array) => Promise<Uint8Array>,
    cache: BlobCache | undefined,
    signal: AbortSignal | undefined,
    into: Uint8Array | undefined,
  ): Promise<Uint8Array> {
    const bytes = await this.#ctx.remote.get(kind === 'chunk' ? blobKeys.chunk(id) : blobKeys.manifest(id), {
      ...(signal ? { signal } : {}),
      ...(into ? { into } : {}),
    });
    if (!bytes) {
      throw new KithError(ErrorCode.NotFound, `blob ${kind} ${id.slice(0, 12)}… is missing from the remote`, {
        hint: kind === 'manifest' ? 'the blob was never uploaded, or was garbage-collected' : 'the remote lost part of this blob',
      });
    }
    const plain = await decode(bytes);
    // Never a view of the bytes read (decryption writes a new buffer), so `into` can be reused; checked all the same.
    if (into && plain.buffer === into.buffer) return plain.slice();
    await cache?.put(`${kind[0]}/${id}`, bytes);
    return plain;
  }

  /**
   * A blob's bytes (its manifest from `manifest`) as a stream, fetched lazily (a few chunks ahead) and
   * verified chunk by chunk: a tampered chunk errors the stream before any
   * of its bytes are delivered.
   */
  stream(manifest: () => Promise<BlobManifest>, o: { signal?: AbortSignal } = {}): ReadableStream<Uint8Array> {
    let chunks: (readonly [string, number])[] | undefined;
    let next = 0;
    const ahead: Promise<Uint8Array>[] = [];
    const fill = (): void => {
      while (ahead.length < READ_AHEAD) {
        const p = fetchNext();
        if (!p) return;
        ahead.push(p);
      }
    };
    const fetchNext = (): Promise<Uint8Array> | undefined => {
      const c = chunks![next++];
      if (!c) return undefined;
      const p = this.object('chunk', c[0], o.signal, false, c[1]).then((plain) => {
        if (plain.length !== c[1]) throw new KithError(ErrorCode.IntegrityCorrupt, `blob chunk ${c[0].slice(0, 12)}… has the wrong size`);
        return plain;
      });
      p.catch(() => undefined);
      return p;
    };
    return new ReadableStream<Uint8Array>(
      {
        start: async () => {
          chunks = [...(await manifest()).chunks];
          fill();
        },
        pull: async (controller) => {
          const current = ahead.shift();
          if (!current) return controller.close();
          fill();
          controller.enqueue(await current);
          if (ahead.length === 0) controller.close();
        },
      },
      { highWaterMark: 1 },
    );
  }
}
