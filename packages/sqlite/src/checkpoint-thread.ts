/**
 * @module checkpoint-thread
 * Passive WAL checkpoints on a thread of their own, with a connection of
 * their own, as SQLite suggests for WAL files: copying a large write's pages
 * into the database file and syncing both files (about 100 ms after a batch
 * of 100,000 records here, half of it waiting for the disk) then no longer
 * holds the event loop, nor the next transaction, which goes on in the WAL
 * while the copy runs. The thread starts as the first large write begins,
 * not at open (starting one costs tens of ms of CPU, on the other core while
 * that write goes on), and never keeps the process alive.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The thread's code, evaluated as CommonJS: the driver comes by the path this module resolved, so it loads
 * the same better-sqlite3 wherever the code was bundled. Each 'checkpoint' message runs one passive
 * checkpoint (it copies what no reader still needs and never waits for another connection) and answers.
 */
const THREAD_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
// The lowest CPU priority for this thread alone (Linux: a thread's id is a process id to setpriority): on a
// machine with few cores, the copy then takes the CPU only when the event loop's thread does not want it.
try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  if (tid > 0 && tid !== process.pid) require('node:os').setPriority(tid, 19);
} catch {}
let db;
const open = () => {
  if (db !== undefined) return;
  db = new Database(workerData.file, { fileMustExist: true });
  db.pragma('synchronous = ' + workerData.synchronous);
};
// Opened as the thread starts (while the write that started it goes on); a failure is reported by the first checkpoint.
try { open(); } catch {}
parentPort.on('message', (m) => {
  if (m === 'close') {
    try { db?.close(); } finally { parentPort.close(); }
    return;
  }
  try {
    open();
    db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage('');
  } catch (e) {
    parentPort.postMessage(String(e && e.message ? e.message : e));
  }
});
`;

/** Checkpoints of one database file on a background thread; {@link request} starts one, {@link idle} waits for them. */
export class CheckpointThread {
  readonly #file: string;
  readonly #synchronous: string;
  #worker: Worker | undefined;
  /** The checkpoint running, if any; a request while it runs is run once after it. */
  #running: Promise<void> | undefined;
  #again = false;
  /** The last checkpoint's failure, for tests and diagnostics (the next look at the WAL asks again). */
  lastError: string | undefined;

  /** `synchronous`: the store's setting (NORMAL or FULL), which decides how a checkpoint syncs. */
  constructor(file: string, synchronous: string) {
    this.#file = file;
    this.#synchronous = synchronous;
  }

  /** Starts the thread if it is not running, so it is ready when a large write that is under way commits. */
  warm(): void {
    try {
      this.#worker ??= this.#start();
    } catch (e) {
      this.lastError = e instanceof Error ? e.message : String(e);
    }
  }

  /** Asks for a checkpoint; returns at once: false when the thread cannot start (the caller checkpoints itself). */
  request(): boolean {
    if (this.#running !== undefined) {
      this.#again = true;
      return true;
    }
    this.warm();
    const worker = this.#worker;
    if (worker === undefined) return false;
    this.#running = this.#checkpoint(worker).finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.request();
      }
    });
    return true;
  }

  /** Resolves once no checkpoint is running or asked for. */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /** Waits for the running checkpoint, then closes the thread's connection and ends it. */
  async close(): Promise<void> {
    this.#again = false;
    await this.idle();
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker === undefined) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // Referenced until it ends: the caller awaits it, and nothing else may keep the process alive meanwhile.
    worker.ref();
    worker.postMessage('close');
    await exited;
  }

  #checkpoint(worker: Worker): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (error: string | undefined): void => {
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        this.lastError = error;
        // Unreferenced again: an idle thread never keeps the process alive.
        worker.unref();
        resolve();
      };
      const onMessage = (m: string): void => done(m === '' ? undefined : m);
      const onExit = (code: number): void => {
        if (this.#worker === worker) this.#worker = undefined;
        done(`the checkpoint thread ended (code ${code})`);
      };
      worker.on('message', onMessage);
      worker.on('exit', onExit);
      // Referenced while it copies: a process ending right after a large write lets its pages reach the file first.
      worker.ref();
      worker.postMessage('checkpoint');
    });
  }

  #start(): Worker {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(THREAD_CODE, { eval: true, workerData: { driver, file: this.#file, synchronous: this.#synchronous } });
    worker.on('error', () => {
      // An uncaught error ends the thread: its 'exit' settles the checkpoint running, and the next request starts another.
    });
    worker.unref();
    return worker;
  }
}
