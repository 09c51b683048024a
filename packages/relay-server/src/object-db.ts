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
 * connection and see every acknowledged write. Implements
 * {@link RelayStorage} for the embedded relay.
 */
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { ErrorCode, KithError, type RemoteObjectInfo } from '@kith/core/adapter';
import { objectsFileIn, openObjectsFile, type Durability, type WriteOp, type WriterData, type WriterReply, type WriterRequest } from './object-db-file.js';
import { pageOf, PREFIX_END, type ByteRange, type ObjectPage, type RelayStorage } from './relay-storage.js';

export type { Durability } from './object-db-file.js';

interface PendingWrite {
  readonly op: WriteOp;
  readonly resolve: (result: number | null | boolean) => void;
  readonly reject: (e: unknown) => void;
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
    // By file beside this module: the package exports it (`./object-db-writer`) so a bundler can keep it there.
    this.#writer = new Worker(new URL('./object-db-writer.js', import.meta.url), { workerData: { file, durability } satisfies WriterData });
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

  #write(op: WriteOp): Promise<number | null | boolean> {
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
    if (m.type === 'done') batch.forEach((w, i) => w.resolve(m.results[i]!));
    else {
      const e = Object.assign(new Error(m.error.message), m.error.code !== undefined ? { code: m.error.code } : {});
      for (const w of batch) w.reject(e);
    }
    if (this.#pending.length > 0) this.#send();
    else this.#drained?.();
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

  #read(vault: string, key: string, range?: ByteRange): Buffer | null {
    const row = range ? this.#getRange.get(range.offset + 1, range.length, vault, key) : this.#get.get(vault, key);
    if (row === undefined) return null;
    // substr() of an empty BLOB gives '' (text) in SQLite; normalise to bytes.
    return Buffer.isBuffer(row) ? row : Buffer.alloc(0);
  }

  /** Size and etag, or null when missing. */
  head(vault: string, key: string): Promise<RemoteObjectInfo | null> {
    return Promise.resolve((this.#head.get(vault, key) as RemoteObjectInfo | undefined) ?? null);
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
