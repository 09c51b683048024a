/**
 * @module blobs/seal-thread
 * An upload's chunk ids (HMAC) and encryption (AES-GCM) on a second
 * thread where the platform has Node's worker_threads. On two cores the
 * main thread, which reads and chunks the file and drives the writes, was
 * the bottleneck of an attach while the other core mostly waited; this
 * moves about half of its work there. Browsers keep doing it in-thread.
 *
 * A chunk reaches the thread through a reused shared buffer (one copy, no
 * allocation per chunk, so no extra garbage on the main thread); its
 * object comes back moved, not copied. The thread runs the functions of
 * format/blob-format.ts (seal-worker.ts), so its bytes are the main
 * thread's; the nonce is drawn here, from the vault's random source.
 * Until the thread has started, or once it has died, chunks are sealed
 * in-thread: nothing waits for it and nothing depends on it.
 */
import { concatBytes } from '../crypto/index.js';
import { blobId, encodeBlobObject } from '../format/blob-format.js';
import { MAX_CHUNK } from './chunker.js';

/** What the main thread asks of the sealing thread (structured-cloned; `plain` is shared, not copied). */
export type SealRequest =
  | { seq: number; op: 'id'; plain: SharedArrayBuffer; length: number; epochKey: Uint8Array; vaultId: string }
  | {
      seq: number;
      op: 'encode';
      plain: SharedArrayBuffer;
      length: number;
      epochKey: Uint8Array;
      vaultId: string;
      epoch: number;
      id: string;
      nonce: Uint8Array;
    };

/** The answer to request `seq` (seq -1: the thread is listening). */
export interface SealReply {
  seq: number;
  id?: string;
  /** The object as header, ciphertext (moved here, see seal-worker.ts) and tag. */
  parts?: Uint8Array[];
  error?: string;
}

/** What this module needs of a node:worker_threads Worker. */
export interface NodeWorker {
  on(event: 'message', listener: (m: SealReply) => void): unknown;
  on(event: 'error', listener: (e: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  postMessage(m: SealRequest): void;
  ref(): void;
  unref(): void;
  terminate(): Promise<number>;
}

/** What this module passes to a node:worker_threads Worker. */
interface WorkerOptions {
  resourceLimits: { maxYoungGenerationSizeMb: number };
}

/** node:worker_threads where the platform has it (Node), else undefined. */
const workerThreads = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:worker_threads') as
  { Worker: new (url: URL) => NodeWorker } | undefined;

/**
 * The thread's entry, beside this file. Named through a constant so that
 * bundlers (Vite turns `new URL('literal', import.meta.url)` into an asset)
 * leave it alone: browsers never start the thread.
 */
const SEAL_WORKER = './seal-worker.js';

/** Idle shared buffers kept for the next chunks (an upload keeps a few in flight). */
const KEEP_FREE = 4;

/** The sealing thread ended: the chunks it held are sealed in-thread instead. */
class ThreadGone extends Error {}

/** One process-wide sealing thread, started on first use. */
export class SealThread {
  readonly #worker: NodeWorker;
  readonly #pending = new Map<number, { resolve: (r: SealReply) => void; reject: (e: unknown) => void }>();
  readonly #free: SharedArrayBuffer[] = [];
  #seq = 0;
  #state: 'starting' | 'ready' | 'gone' = 'starting';
  readonly #started: Promise<boolean>;

  /** @internal {@link SealThread.shared} (tests: a thread of their own, `entry` another file). */
  constructor(Worker: new (url: URL, o: WorkerOptions) => NodeWorker, entry = SEAL_WORKER) {
    // A small young generation: the thread makes little but message garbage, which then never piles up.
    this.#worker = new Worker(new URL(entry, import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 2 } });
    // Idle, the thread must not keep the process alive; a request in flight refs it (see #ask).
    this.#worker.unref();
    let started!: (ok: boolean) => void;
    this.#started = new Promise((r) => (started = r));
    this.#worker.on('message', (m) => {
      if (m.seq === -1) {
        if (this.#state === 'starting') this.#state = 'ready';
        // Again: an unref() while the thread starts up does not always hold (Node 20).
        if (this.#pending.size === 0) this.#worker.unref();
        return started(true);
      }
      const p = this.#pending.get(m.seq);
      if (!p) return;
      this.#pending.delete(m.seq);
      if (this.#pending.size === 0) this.#worker.unref();
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m);
    });
    const gone = (): void => {
      this.#state = 'gone';
      started(false);
      for (const p of this.#pending.values()) p.reject(new ThreadGone());
      this.#pending.clear();
    };
    this.#worker.on('error', gone);
    this.#worker.on('exit', gone);
  }

  static #shared: SealThread | undefined;

  /** The process's sealing thread (started now if not yet), or undefined where there are no worker threads. */
  static shared(): SealThread | undefined {
    if (!workerThreads) return undefined;
    try {
      return (SealThread.#shared ??= new SealThread(workerThreads.Worker));
    } catch {
      return undefined; // a platform that has the module but cannot start threads seals in-thread
    }
  }

  /** @internal Ends the thread (tests): chunks it held are sealed in-thread from then on. */
  async close(): Promise<void> {
    await this.#worker.terminate();
  }

  /** Resolves true once the thread takes requests (false if it failed to start). */
  started(): Promise<boolean> {
    return this.#started;
  }

  /**
   * `plain` copied where the thread reads it, or undefined when the thread
   * is not ready (or `plain` is larger than a chunk): then seal in-thread.
   * The caller may reuse `plain` at once; it must {@link HeldChunk.release} the copy.
   */
  hold(plain: Uint8Array): HeldChunk | undefined {
    if (this.#state !== 'ready' || plain.length > MAX_CHUNK) return undefined;
    const shared = this.#free.pop() ?? new SharedArrayBuffer(MAX_CHUNK);
    new Uint8Array(shared, 0, plain.length).set(plain);
    return new HeldChunk(this, shared, plain.length);
  }

  /** Lets the idle shared buffers go (an upload calls this when it ends: the next may be far off). */
  shed(): void {
    this.#free.length = 0;
  }

  /** @internal Sends a request; rejects with ThreadGone if the thread ends first. */
  ask(request: Omit<SealRequest, 'seq'>): Promise<SealReply> {
    if (this.#state === 'gone') return Promise.reject(new ThreadGone());
    const seq = this.#seq++;
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(seq, { resolve, reject });
      this.#worker.postMessage({ ...request, seq } as SealRequest);
    });
  }

  /** @internal Takes back a shared buffer. */
  recycle(shared: SharedArrayBuffer): void {
    if (this.#free.length < KEEP_FREE) this.#free.push(shared);
  }
}

/** A chunk's plaintext in shared memory, sealed on the thread (or in-thread once it is gone). */
export class HeldChunk {
  readonly #thread: SealThread;
  #shared: SharedArrayBuffer | undefined;
  readonly #length: number;

  /** @internal Made by {@link SealThread.hold}. */
  constructor(thread: SealThread, shared: SharedArrayBuffer, length: number) {
    this.#thread = thread;
    this.#shared = shared;
    this.#length = length;
  }

  #plain(): { plain: SharedArrayBuffer; length: number } {
    if (!this.#shared) throw new Error('blob chunk used after release');
    return { plain: this.#shared, length: this.#length };
  }

  /** Its keyed id (see blobId). */
  async id(epochKey: Uint8Array, vaultId: string): Promise<string> {
    const at = this.#plain();
    try {
      return (await this.#thread.ask({ op: 'id', ...at, epochKey, vaultId })).id!;
    } catch (e) {
      if (!(e instanceof ThreadGone)) throw e;
      return blobId(epochKey, vaultId, new Uint8Array(at.plain, 0, at.length));
    }
  }

  /** Its chunk object (see encodeBlobObject), with `nonce`. */
  async encode(a: { vaultId: string; epoch: number; epochKey: Uint8Array; id: string; nonce: Uint8Array }): Promise<Uint8Array> {
    const at = this.#plain();
    try {
      // One copy here, into memory of this thread's own (see seal-worker.ts).
      return concatBytes(...(await this.#thread.ask({ op: 'encode', ...at, ...a })).parts!);
    } catch (e) {
      if (!(e instanceof ThreadGone)) throw e;
      return encodeBlobObject('chunk', { ...a, plaintext: new Uint8Array(at.plain, 0, at.length), random: () => a.nonce });
    }
  }

  /** Gives the shared buffer back; the chunk is not usable afterwards. */
  release(): void {
    if (this.#shared) this.#thread.recycle(this.#shared);
    this.#shared = undefined;
  }
}
