/**
 * @module server/object-db
 * The embedded relay's storage: every vault's objects in one SQLite file
 * (WAL). A put is atomic; with `synchronous=FULL` it is on disk before the
 * HTTP answer goes out, which is what lets the relay promise "acknowledged
 * means durable" through a kill -9 or a power cut. Writes go to a writer
 * thread (object-db-writer.ts) with its own connection: the writes that
 * arrive while it commits one batch make up the next (group commit: one
 * transaction and one fsync for all of them, each answered only after it),
 * and the fsync never stalls the event loop. Reads use this thread's own
 * connection and see every acknowledged write, most of them answered from
 * an {@link ObjectCache} of small objects and absent keys that every
 * committed write of this ObjectDb updates. Another ObjectDb may share the
 * file (relays on shared storage): every writer moves the file's commit
 * mark with its writes, and a read that finds the file changed (SQLite's
 * data_version, far cheaper than a lookup) and the mark moved by someone
 * else empties the cache first. Implements {@link RelayStorage} for the
 * embedded relay.
 */
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { ErrorCode, KithError, type RemoteObjectInfo } from '@kith/core/adapter';
import {
  commitMarkOf,
  objectsFileIn,
  openObjectsFile,
  type CommitMark,
  type Durability,
  type WriteOp,
  type WriterData,
  type WriterReply,
  type WriterRequest,
  type WriteResult,
} from './object-db-file.js';
import { ObjectCache, CACHED_OBJECT_MAX } from './object-cache.js';
import { pageOf, PREFIX_END, type ByteRange, type ObjectPage, type RelayStorage } from './relay-storage.js';

export type { Durability } from './object-db-file.js';

interface PendingWrite {
  readonly op: WriteOp;
  readonly resolve: (result: WriteResult) => void;
  readonly reject: (e: unknown) => void;
}

const sameMark = (a: CommitMark, b: CommitMark): boolean => a.writer === b.writer && a.n === b.n;

/** `bytes` as a Buffer of its own: a small request body may be a slice of a shared pool, which a cached view would keep alive. */
function owned(bytes: Uint8Array): Buffer {
  if (bytes.length > CACHED_OBJECT_MAX || bytes.byteLength === bytes.buffer.byteLength) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  copy.set(bytes);
  return copy;
}

/** The objects of all vaults a relay serves, in `<dataDir>/relay.sqlite`. */
export class ObjectDb implements RelayStorage {
  readonly #db: Database.Database;
  readonly #writer: Worker;
  /** Writes waiting for the next batch, and the batch the writer is committing. */
  #pending: PendingWrite[] = [];
  #inFlight: PendingWrite[] | undefined;
  #scheduled = false;
  /** Set once the writer is gone (closed, or died): every later write fails with it. */
  #gone: Error | undefined;
  readonly #exited: Promise<void>;
  #drained: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  readonly #get: Database.Statement;
  readonly #getRange: Database.Statement;
  readonly #head: Database.Statement;
  readonly #list: Database.Statement;
  readonly #cache = new ObjectCache();
  /** This ObjectDb's name in the file's commit mark. */
  readonly #name = randomBytes(9).toString('base64url');
  readonly #markNow: () => CommitMark;
  readonly #version: Database.Statement;
  /** The commit the cache agrees with (with this ObjectDb's batch in flight, maybe the one before it). */
  #mark: CommitMark;
  /** The reader's data_version when the mark was last found current. */
  #seenVersion: unknown;
  /** Set while a check of the mark holds (see `#freshen`). */
  #fresh = false;

  constructor(dataDir: string, durability: Durability = 'full') {
    const file = objectsFileIn(dataDir);
    // Opened here first, so the table exists before the writer's connection looks.
    this.#db = openObjectsFile(file, durability);
    this.#get = this.#db.prepare('SELECT bytes FROM objects WHERE vault = ? AND key = ?').pluck();
    this.#getRange = this.#db.prepare('SELECT substr(bytes, ?, ?) FROM objects WHERE vault = ? AND key = ?').pluck();
    this.#head = this.#db.prepare('SELECT key, size, etag FROM objects WHERE vault = ? AND key = ?');
    // Bodies only up to the bound given; a NULL bound (a plain listing) matches no size, so no bytes are read.
    this.#list = this.#db.prepare(
      'SELECT key, size, etag, CASE WHEN size <= ? THEN bytes END AS body FROM objects WHERE vault = ? AND key >= ? AND key < ? AND key > ? ORDER BY key LIMIT ?',
    );
    this.#markNow = commitMarkOf(this.#db);
    this.#version = this.#db.prepare('PRAGMA data_version').pluck();
    this.#mark = this.#markNow();
    this.#seenVersion = this.#version.get();
    // By file beside this module: the package exports it (`./object-db-writer`) so a bundler can keep it there.
    this.#writer = new Worker(new URL('./object-db-writer.js', import.meta.url), { workerData: { file, durability, writer: this.#name } satisfies WriterData });
    // Idle, the writer keeps nobody's process alive; a batch in flight does.
    this.#writer.unref();
    this.#writer.on('message', (m: WriterReply) => this.#settle(m));
    this.#writer.on('error', (e) => this.#fail(e));
    this.#exited = new Promise((resolve) => this.#writer.once('exit', () => resolve()));
    this.#writer.once('exit', () => this.#fail(new KithError(ErrorCode.StoreFailed, 'the relay object store is closed')));
  }

  /**
   * Stores `bytes`; with `ifAbsent`, only when no object exists. Resolves,
   * once committed, to the size it replaced, or null when it wrote nothing.
   */
  put(vault: string, key: string, bytes: Uint8Array, ifAbsent = false): Promise<number | null> {
    return this.#write({ op: 'put', vault, key, bytes, ifAbsent }) as Promise<number | null>;
  }

  /** Removes the object if present; resolves, once committed, to whether one was removed. */
  delete(vault: string, key: string): Promise<boolean> {
    return this.#write({ op: 'delete', vault, key }) as Promise<boolean>;
  }

  /** Makes `owner` the holder of `name` unless someone is; resolves, once committed, to the holder (see RelayStorage). */
  claim(vault: string, name: string, owner: string): Promise<string> {
    return this.#write({ op: 'claim', vault, name, owner }) as Promise<string>;
  }

  #write(op: WriteOp): Promise<WriteResult> {
    return new Promise((resolve, reject) => {
      if (this.#gone) return reject(this.#gone);
      this.#pending.push({ op, resolve, reject });
      // Writes of the same turn go together; while a batch commits, the next one gathers.
      if (!this.#inFlight && !this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#send());
      }
    });
  }

  /** Hands every waiting write to the writer as one batch, in the order they came. */
  #send(): void {
    this.#scheduled = false;
    if (this.#inFlight || this.#pending.length === 0 || this.#gone) return;
    const batch = (this.#inFlight = this.#pending);
    this.#pending = [];
    this.#writer.ref();
    this.#writer.postMessage({ type: 'batch', batch: batch.map((w) => w.op) } satisfies WriterRequest);
  }

  /** The writer's answer to the batch in flight: a failure fails the whole batch (none of it was written). */
  #settle(m: WriterReply): void {
    const batch = this.#inFlight ?? [];
    this.#inFlight = undefined;
    this.#writer.unref();
    if (m.type === 'done') {
      // Someone else committed between this batch and the one before: what the cache holds may be stale.
      if (!sameMark(m.before, this.#mark)) this.#cache.clear();
      this.#mark = m.after;
      // The cache learns each write before its caller does: a read after the answer sees it.
      batch.forEach((w, i) => this.#learn(w.op, m.results[i]!));
      batch.forEach((w, i) => w.resolve(m.results[i]!));
    } else {
      const e = Object.assign(new Error(m.error.message), m.error.code !== undefined ? { code: m.error.code } : {});
      for (const w of batch) w.reject(e);
    }
    if (this.#pending.length > 0) this.#send();
    else this.#drained?.();
  }

  /** What a committed write left under its key. */
  #learn(op: WriteOp, result: WriteResult): void {
    if (op.op === 'claim') return; // not an object
    if (op.op === 'delete') this.#cache.set(op.vault, op.key, null);
    else if (result !== null) this.#cache.set(op.vault, op.key, owned(op.bytes));
    // Put-if-absent found an object: whatever the cache said of the key, storage knows better.
    else this.#cache.forget(op.vault, op.key);
  }

  /** The writer is gone: nothing waiting or in flight can be committed any more. */
  #fail(e: unknown): void {
    this.#gone ??= e instanceof Error ? e : new Error(String(e));
    const lost = [...(this.#inFlight ?? []), ...this.#pending];
    this.#inFlight = undefined;
    this.#pending = [];
    for (const w of lost) w.reject(this.#gone);
    this.#drained?.();
  }

  /** The whole object, or `length` bytes from `offset`; null when missing. */
  get(vault: string, key: string, range?: ByteRange): Promise<Buffer | null> {
    return Promise.resolve(this.#read(vault, key, range));
  }

  /** Several whole objects, null for each missing one. */
  getMany(vault: string, keys: readonly string[]): Promise<(Buffer | null)[]> {
    return Promise.resolve(keys.map((k) => this.#read(vault, k)));
  }

  /**
   * What the cache knows of a key, once it is sure no other ObjectDb
   * committed since it last agreed with the file (a miss needs no such
   * check: storage answers it).
   */
  #cached(vault: string, key: string): ReturnType<ObjectCache['get']> {
    if (this.#cache.get(vault, key) === undefined) return undefined;
    this.#freshen();
    return this.#cache.get(vault, key);
  }

  /**
   * Empties the cache if another ObjectDb committed to the file since the
   * cache last agreed with it. Checked once per run of synchronous code and
   * its microtasks: everything they answer arrived before the check.
   */
  #freshen(): void {
    if (this.#fresh) return;
    this.#fresh = true;
    queueMicrotask(() => (this.#fresh = false));
    const version = this.#version.get();
    if (version === this.#seenVersion) return;
    this.#seenVersion = version;
    const mark = this.#markNow();
    if (sameMark(mark, this.#mark)) return;
    // This ObjectDb's own batch just committed: its answer, and what the cache learns from it, are on their way.
    if (this.#inFlight && mark.writer === this.#name && mark.n === this.#mark.n + 1) return;
    this.#cache.clear();
    this.#mark = mark;
  }

  #read(vault: string, key: string, range?: ByteRange): Buffer | null {
    const cached = this.#cached(vault, key);
    if (cached !== undefined) return cached && (range ? cached.bytes.subarray(range.offset, range.offset + range.length) : cached.bytes);
    const row = range ? this.#getRange.get(range.offset + 1, range.length, vault, key) : this.#get.get(vault, key);
    if (row === undefined) {
      this.#cache.set(vault, key, null);
      return null;
    }
    // substr() of an empty BLOB gives '' (text) in SQLite; normalise to bytes.
    const bytes = Buffer.isBuffer(row) ? row : Buffer.alloc(0);
    if (!range) this.#cache.set(vault, key, bytes);
    return bytes;
  }

  /** Size and etag, or null when missing. */
  head(vault: string, key: string): Promise<RemoteObjectInfo | null> {
    const cached = this.#cached(vault, key);
    if (cached !== undefined) return Promise.resolve(cached && ObjectCache.info(key, cached));
    const info = (this.#head.get(vault, key) as RemoteObjectInfo | undefined) ?? null;
    if (!info) this.#cache.set(vault, key, null);
    return Promise.resolve(info);
  }

  /** Up to `limit` objects whose key starts with `prefix`, strictly after `after`, in byte order (with the bytes of those up to `bodiesUpTo`). */
  list(vault: string, prefix: string, after: string, limit: number, bodiesUpTo?: number): Promise<ObjectPage> {
    const rows = this.#list.all(bodiesUpTo ?? null, vault, prefix, prefix + PREFIX_END, after, limit + 1) as (RemoteObjectInfo & {
      body: Buffer | string | null;
    })[];
    // An empty BLOB may come back as '' (text), as in #read.
    return Promise.resolve(
      pageOf(
        rows.map(({ body, ...info }) => (body === null ? info : { ...info, body: Buffer.isBuffer(body) ? body : Buffer.alloc(0) })),
        limit,
      ),
    );
  }

  /** Commits the writes still waiting, stops the writer, then closes the database (checkpointing the WAL). */
  close(): Promise<void> {
    return (this.#closing ??= this.#shutdown());
  }

  async #shutdown(): Promise<void> {
    if (!this.#gone && (this.#inFlight || this.#pending.length > 0)) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        if (!this.#inFlight) this.#send();
      });
    }
    this.#gone ??= new KithError(ErrorCode.StoreFailed, 'the relay object store is closed');
    this.#writer.ref(); // until it has closed its connection
    this.#writer.postMessage({ type: 'close' } satisfies WriterRequest);
    await this.#exited;
    if (this.#db.open) this.#db.close();
  }
}
