/**
 * @module blobs/blobs
 * Attachments: `vault.blobs`. A blob is cut into content-defined chunks,
 * each stored once per vault under a keyed hash of its bytes; its manifest
 * (chunk list, size, name, type) is stored the same way, and the
 * manifest's id is the blob's ref, which records hold as a string. Both
 * directions stream with memory bounded by a few chunks, whatever the size.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { concatBytes } from '../crypto/index.js';
import type { EngineContext } from '../sync/context.js';
import { catchUpRegistry } from '../sync/catch-up.js';
import { loadEpochKey } from '../identity/epochs.js';
import { META, readMeta, writeMeta } from '../ports/store-meta.js';
import type { JsonValue } from '../model/json.js';
import type { BlobCache } from '../ports/blob-cache.js';
import {
  blobId,
  blobKeys,
  decodeManifestPlaintext,
  encodeBlobObject,
  encodeManifestPlaintext,
  formatBlobRef,
  parseBlobRef,
  type BlobManifest,
} from '../format/blob-format.js';
import { BufferPool } from './buffer-pool.js';
import { AVG_CHUNK, Chunker, gearTable } from './chunker.js';
import { Probe, TaskWindow } from './task-window.js';
import { referencedBlobs } from './refs.js';
import { bytesOf, type BlobSource } from './source.js';
import type { BlobInfo, BlobPutResult } from './results.js';
import { releaseHolds, writeHold } from './holds.js';
import { trimKeepingUnpushed } from './trim.js';
import { BlobReader } from './read.js';
import { indexBlob, listBlobs, readIndex } from './blob-index.js';
import { collectGarbage, type GcOptions, type GcResult } from './gc.js';
import { DEFAULT_BLOB_POLICY, withChange, type BlobPolicy, type BlobPolicyChange, type PrefetchPolicy, type PrefetchResult } from './policy.js';

// Re-exported so that importers of this module keep finding them here.
export { refsIn } from './refs.js';
export type { BlobSource } from './source.js';
export { DEFAULT_GC_GRACE_MS, type GcOptions, type GcResult } from './gc.js';
export type { BlobInfo, BlobPutResult } from './results.js';
export { DEFAULT_BLOB_POLICY, policyActs, type BlobPolicy, type BlobPolicyChange, type PrefetchPolicy, type PrefetchResult } from './policy.js';

/**
 * Chunks in flight during an upload: hashing and encryption overlap the
 * writes and their fsyncs, and memory stays within a few chunks. With 4 the
 * main thread still sat idle ~15 % of an attach waiting on fsyncs. On two
 * cores (1 GiB attach, interleaved pairs) 6 beat 4 in 5 of 5 (+2 % to +10 %)
 * and 8 beat 6 in 4 of 4 (+5 % to +16 %, main thread busy 94 %); peak RSS
 * of the bench's attach and fetch ~150 MiB with 4, ~153 with 6, ~165 with 8.
 */
const UPLOAD_WINDOW = 8;
/** Existence checks: after this many new chunks in a row, only one chunk in HEAD_EVERY is checked. */
const HEAD_PATIENCE = 8;
const HEAD_EVERY = 16;

export class Blobs {
  readonly #ctx: EngineContext;
  readonly #cache: BlobCache | undefined;
  /** The read path (read.ts). */
  readonly #reader: BlobReader;
  /** Manifest ids known to be in this device's list (spares a store write per read). */
  readonly #listed = new Set<string>();

  /** Opens the vault's remote if it is not yet: reads from the cache never need it. */
  readonly #ready: () => Promise<unknown>;

  /** Chunks that snapshots need, which GC keeps (set by the vault: snapshots sit above this layer). */
  readonly #alsoLive: ((signal?: AbortSignal) => Promise<ReadonlySet<string>>) | undefined;

  /** Whether an attach without a cache copy writes a hold (holds.ts): only where {@link gc} runs, which honours them. */
  readonly #holds: boolean;

  constructor(
    ctx: EngineContext,
    cache: BlobCache | undefined,
    ready: () => Promise<unknown> = async () => undefined,
    alsoLive?: (signal?: AbortSignal) => Promise<ReadonlySet<string>>,
    o: { holds?: boolean } = {},
  ) {
    this.#ctx = ctx;
    this.#cache = cache;
    this.#ready = ready;
    this.#reader = new BlobReader(ctx, cache, ready);
    this.#alsoLive = alsoLive;
    this.#holds = o.holds ?? true;
  }

  /**
   * Stores a blob (bytes or a stream); returns its ref to put in a record.
   * Resolves once every chunk and the manifest are durable on the remote.
   * A stream's chunks must not be modified once produced. Reading starts
   * after the registry check (one listing): a Node stream must not be
   * flowing (no 'data' listener) or its first pieces go by unread.
   */
  async put(source: BlobSource, meta: { name?: string; type?: string } = {}, o: { signal?: AbortSignal } = {}): Promise<BlobPutResult> {
    const ctx = this.#ctx;
    await this.#ready();
    // As a push does: a revocation or a new epoch is learnt before anything new is encrypted, so the
    // removed device cannot read this blob, and content stored under the new epoch is not stored again.
    await catchUpRegistry(ctx, o.signal);
    const epoch = ctx.registry.epoch;
    const epochKey = await loadEpochKey(ctx, epoch);
    // Chunks assembled from several reads go back to the pool once encrypted.
    const pool = new BufferPool(UPLOAD_WINDOW + 2, AVG_CHUNK);
    const chunker = new Chunker(gearTable(epochKey), pool.take);
    const chunks: [string, number][] = [];
    let size = 0;
    let uploaded = 0;
    const window = new TaskWindow(UPLOAD_WINDOW);
    const exists = new Probe(HEAD_PATIENCE, HEAD_EVERY);
    const seen = new Set<string>();
    const store = (plain: Uint8Array): Promise<void> => {
      const at = chunks.push(['', plain.length]) - 1;
      size += plain.length;
      return window.add(async () => {
        try {
          const id = await blobId(epochKey, ctx.vaultId, plain);
          chunks[at] = [id, plain.length];
          // Repeated content (zero-filled stretches) is stored once, never raced against itself.
          if (seen.has(id)) return;
          seen.add(id);
          const encode = () => encodeBlobObject('chunk', { vaultId: ctx.vaultId, epoch, epochKey, id, plaintext: plain, random: ctx.deps.random });
          const sent = await this.#storeObject('chunk', id, encode, o.signal, exists);
          uploaded += sent;
        } finally {
          pool.give(plain); // every use of it has settled: the hash, the deflate trial, the encryption
        }
      });
    };
    try {
      for await (const piece of bytesOf(source)) {
        o.signal?.throwIfAborted();
        for (const c of chunker.push(piece)) await store(c);
      }
      for (const c of chunker.end()) await store(c);
    } catch (e) {
      await window.drain().catch(() => undefined); // no write outlives the call
      throw e;
    }
    // The manifest is written only after every chunk is durable: a ref never names missing chunks.
    await window.drain();
    const manifest: BlobManifest = { v: 1, size, ...(meta.name ? { name: meta.name } : {}), ...(meta.type ? { type: meta.type } : {}), chunks };
    const plain = encodeManifestPlaintext(manifest);
    const id = await blobId(epochKey, ctx.vaultId, plain);
    // Before the manifest: with no cache copy to restore it from (see ensureUploaded), GC must keep the
    // blob until this device's writes that reference it are pushed.
    if (this.#holds && !this.#reader.cacheFor()) await writeHold(ctx, id, o.signal);
    uploaded += await this.#storeObject(
      'manifest',
      id,
      () => encodeBlobObject('manifest', { vaultId: ctx.vaultId, epoch, epochKey, id, plaintext: plain, random: ctx.deps.random }),
      o.signal,
    );
    // Survives a power cut from here: the trim pins this copy for the push that may need to restore it (trim.ts).
    await this.#reader.cacheFor()?.flush?.();
    await indexBlob(ctx.store, ctx.deps.now, id, manifest, { stored: true });
    this.#listed.add(id);
    return { ref: formatBlobRef(id), size, chunks: chunks.length, uploaded };
  }

  /**
   * Uploads an object unless the remote already has it, and caches it;
   * returns bytes sent. Without an existence check (`exists` says skip) a
   * chunk already there is written again. Objects are addressed by their
   * content, so a rewrite replaces one valid encryption of the bytes with
   * another: a plain put is safe, and spares remotes without an atomic
   * put-if-absent the HEAD they would add.
   */
  async #storeObject(kind: 'chunk' | 'manifest', id: string, encode: () => Promise<Uint8Array>, signal?: AbortSignal, exists?: Probe): Promise<number> {
    const key = kind === 'chunk' ? blobKeys.chunk(id) : blobKeys.manifest(id);
    const cacheKey = `${kind[0]}/${id}`;
    const call = signal ? { signal } : {};
    const check = exists?.next() ?? true;
    const found = check ? await this.#ctx.remote.head(key, call) : null;
    if (check) exists?.report(found !== null);
    const cache = this.#reader.cacheFor();
    if (found) {
      if (cache && !(await cache.touch(cacheKey))) await cache.put(cacheKey, await encode());
      return 0;
    }
    // Encrypting again costs about what reading a cached copy would, so the cache is not consulted.
    const bytes = await encode();
    await Promise.all([cache?.put(cacheKey, bytes), this.#ctx.remote.put(key, bytes, call)]);
    return bytes.length;
  }

  /**
   * Stores one chunk on its own, without a manifest (snapshots list their
   * chunks themselves), under the registry's current epoch; returns its id
   * and the bytes sent (0 when the remote already held it). The caller
   * catches up with the registry first.
   */
  async putChunk(plain: Uint8Array, signal?: AbortSignal): Promise<{ id: string; sent: number }> {
    await this.#ready();
    const ctx = this.#ctx;
    const epoch = ctx.registry.epoch;
    const epochKey = await loadEpochKey(ctx, epoch);
    const id = await blobId(epochKey, ctx.vaultId, plain);
    const encode = () => encodeBlobObject('chunk', { vaultId: ctx.vaultId, epoch, epochKey, id, plaintext: plain, random: ctx.deps.random });
    return { id, sent: await this.#storeObject('chunk', id, encode, signal) };
  }

  /** One chunk's plaintext, verified against its id. */
  getChunk(id: string, signal?: AbortSignal): Promise<Uint8Array> {
    return this.#reader.object('chunk', id, signal);
  }

  /** A blob's manifest; the blob then shows in {@link list} as opened on this device. */
  async manifest(ref: string, signal?: AbortSignal): Promise<BlobManifest> {
    const id = parseBlobRef(ref);
    const m = await this.#manifest(id, signal);
    if (!this.#listed.has(id)) {
      await indexBlob(this.#ctx.store, this.#ctx.deps.now, id, m, { keep: true });
      this.#listed.add(id);
    }
    return m;
  }

  async #manifest(id: string, signal?: AbortSignal): Promise<BlobManifest> {
    return decodeManifestPlaintext(await this.#reader.object('manifest', id, signal), id);
  }

  /**
   * The blob's bytes as a stream, fetched lazily (a few chunks ahead) and
   * verified chunk by chunk: a tampered chunk errors the stream before any
   * of its bytes are delivered.
   */
  get(ref: string, o: { signal?: AbortSignal } = {}): ReadableStream<Uint8Array> {
    return this.#reader.stream(() => this.manifest(ref, o.signal), o);
  }

  /** The whole blob in memory (for small ones). */
  async bytes(ref: string): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    const reader = this.get(ref).getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(r.value);
    return concatBytes(...parts);
  }

  /** Blobs this device has stored or opened, with how much of each is cached. */
  list(): Promise<BlobInfo[]> {
    return listBlobs(this.#ctx.store, this.#cache);
  }

  /** Refs held by live records (every collection), optionally only records updated since `since` (ms). */
  referenced(since?: number): Promise<Set<string>> {
    return referencedBlobs(this.#ctx.store, since);
  }

  /** This device's blob policy (the default until {@link setPolicy} is called). */
  async policy(): Promise<BlobPolicy> {
    const stored = await this.#ctx.store.read((tx) => readMeta<BlobPolicy>(tx, META.blobPolicy));
    return { ...DEFAULT_BLOB_POLICY, ...stored };
  }

  /** Changes this device's blob policy; returns the whole new policy. A bad value is KITH_BAD_INPUT and changes nothing. */
  async setPolicy(change: BlobPolicyChange): Promise<BlobPolicy> {
    const next = withChange(await this.policy(), change);
    await this.#ctx.store.write((tx) => writeMeta(tx, META.blobPolicy, next as unknown as JsonValue));
    return next;
  }

  /**
   * Fetches into the cache the blobs records reference: `all`, or `recent`
   * (records updated in the last `recentDays`), then trims the cache to
   * `cacheBytes` (least recently used first). Follows this device's
   * {@link policy}; `o` overrides it for this call. Apps call it after a
   * sync (the CLI does, when the policy acts).
   */
  async prefetch(o: { policy?: PrefetchPolicy; recentDays?: number; cacheBytes?: number; signal?: AbortSignal } = {}): Promise<PrefetchResult> {
    const p = withChange(await this.policy(), { prefetch: o.policy, recentDays: o.recentDays, cacheBytes: o.cacheBytes });
    let fetched = 0;
    let unavailable = 0;
    if (p.prefetch !== 'none') {
      const since = p.prefetch === 'recent' ? this.#ctx.deps.now() - p.recentDays * 86400_000 : undefined;
      for (const id of await this.referenced(since)) {
        try {
          const m = await this.manifest(formatBlobRef(id), o.signal);
          for (const [chunk] of m.chunks) {
            if (await this.#cache?.touch(`c/${chunk}`)) continue;
            // Kept even from a remote on this disk: the policy asks for these blobs on this device.
            await this.#reader.object('chunk', chunk, o.signal, true);
            fetched++;
          }
        } catch (e) {
          // One missing or damaged blob does not hold up the others; reading it reports why.
          if (!KithError.is(e, ErrorCode.NotFound) && !KithError.is(e, ErrorCode.IntegrityCorrupt)) throw e;
          unavailable++;
        }
      }
    }
    const evicted = p.cacheBytes !== undefined && this.#cache ? await this.#trim(this.#cache, p.cacheBytes, o.signal) : 0;
    return { fetched, evicted, unavailable };
  }

  /** Trims the cache without losing an unpushed attach (see trim.ts); where no GC runs (holds off), recent attaches are evicted as any chunk. */
  async #trim(cache: BlobCache, cacheBytes: number, signal?: AbortSignal): Promise<number> {
    const hold = async (id: string) => {
      if (!this.#holds) return;
      await this.#ready();
      await writeHold(this.#ctx, id, signal);
    };
    return trimKeepingUnpushed(this.#ctx, cache, cacheBytes, await readIndex(this.#ctx.store), hold, signal);
  }

  /** After a push: drops this device's holds its unpushed writes no longer need (see holds.ts). */
  async releaseHolds(signal?: AbortSignal): Promise<number> {
    await this.#ready();
    return releaseHolds(this.#ctx, signal);
  }

  /** Removes from the remote the blobs no record references: see {@link collectGarbage}. */
  async gc(o: GcOptions = {}): Promise<GcResult> {
    await this.#ready();
    return collectGarbage(
      this.#ctx,
      () => this.referenced(),
      (id, signal) => this.#manifest(id, signal),
      o,
      this.#alsoLive,
    );
  }

  /**
   * Before local writes that reference blobs are pushed: re-uploads any
   * referenced blob the remote lacks (collected while this device was
   * offline), from the local cache.
   */
  async ensureUploaded(refs: Iterable<string>, signal?: AbortSignal): Promise<void> {
    await this.#ready();
    for (const id of refs) {
      if (await this.#ctx.remote.head(blobKeys.manifest(id), signal ? { signal } : {})) continue;
      const manifestBytes = await this.#cache?.get(`m/${id}`);
      if (!manifestBytes) continue; // not ours to restore; readers get a clear NOT_FOUND
      const manifest = await this.#manifest(id, signal);
      for (const [c] of manifest.chunks) {
        const bytes = await this.#cache!.get(`c/${c}`);
        if (bytes && !(await this.#ctx.remote.head(blobKeys.chunk(c)))) await this.#ctx.remote.put(blobKeys.chunk(c), bytes, { ifAbsent: true });
      }
      await this.#ctx.remote.put(blobKeys.manifest(id), manifestBytes, { ifAbsent: true });
    }
  }
}
