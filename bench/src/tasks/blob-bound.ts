/**
 * The blob bound: the work the issue's design requires of any store that
 * attaches and fetches a file the way Kith lays it out, and nothing else.
 * Attach: read each average-size chunk, HMAC-SHA256 it, AES-256-GCM it,
 * write it durably as its own remote object (temp file, fsync, rename, as
 * the folder remote does). Fetch: read each object, decrypt it, check its
 * HMAC and write the plaintext to the output file. No blob cache copy: a
 * folder remote on a local disk declares `capabilities.local`, and devices
 * keep no second copy of what it holds. No content-defined chunking, no manifest, no
 * existence checks, no JavaScript between the steps: fixed blocks on
 * worker threads, several in flight, with node:crypto.
 *
 * Measured in the same run as the floor and Kith, it says how much of the
 * gap between Kith and the floor the design itself costs on this machine.
 * This file is both the task's driver and its threads' entry point.
 * @module
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, fstatSync, mkdirSync, openSync, readSync, renameSync, statSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread, Worker, workerData } from 'node:worker_threads';

/** Threads in flight: more than the two cores, so one thread's fsync overlaps another's hashing (4 measured best here; 8 no better). */
export const BOUND_THREADS = 4;

interface Job {
  readonly phase: 'put' | 'get';
  readonly thread: number;
  readonly threads: number;
  /** Object size: the chunker's average. */
  readonly block: number;
  readonly file: string;
  /** The file's size. */
  readonly size: number;
  readonly out: string;
  readonly dir: string;
  readonly key: Uint8Array;
}

const TAG = 16;
const NONCE = 12;

function writeAll(fd: number, bytes: Uint8Array, position: number | null = null): void {
  for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at, position === null ? null : position + at);
}

/** Writes `bytes` at `path` through a temp file; `durable` fsyncs it before the rename. */
function putFile(path: string, bytes: Uint8Array, durable: boolean): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeAll(fd, bytes);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** The object name of block `i`: the bound keeps no index, so names are the block numbers. */
const objectName = (i: number): string => String(i).padStart(8, '0');

function runThread(j: Job): void {
  const remote = join(j.dir, 'remote');
  const input = j.phase === 'put' ? openSync(j.file, 'r') : -1;
  const output = j.phase === 'get' ? openSync(j.out, 'r+') : -1;
  try {
    const blocks = Math.ceil(j.size / j.block);
    const plain = Buffer.allocUnsafe(j.block);
    for (let i = j.thread; i < blocks; i += j.threads) {
      const name = objectName(i);
      if (j.phase === 'put') {
        const n = readSync(input, plain, 0, j.block, i * j.block);
        const bytes = plain.subarray(0, n);
        createHmac('sha256', j.key).update(bytes).digest();
        const nonce = randomBytes(NONCE);
        const c = createCipheriv('aes-256-gcm', j.key, nonce);
        const object = Buffer.concat([nonce, c.update(bytes), c.final(), c.getAuthTag()]);
        putFile(join(remote, name), object, true);
      } else {
        const fd = openSync(join(remote, name), 'r');
        let object: Buffer;
        try {
          object = Buffer.allocUnsafe(fstatSync(fd).size);
          for (let at = 0; at < object.length;) at += readSync(fd, object, at, object.length - at, at);
        } finally {
          closeSync(fd);
        }
        const d = createDecipheriv('aes-256-gcm', j.key, object.subarray(0, NONCE));
        d.setAuthTag(object.subarray(object.length - TAG));
        const bytes = Buffer.concat([d.update(object.subarray(NONCE, object.length - TAG)), d.final()]);
        createHmac('sha256', j.key).update(bytes).digest();
        writeAll(output, bytes, i * j.block);
      }
    }
  } finally {
    if (input >= 0) closeSync(input);
    if (output >= 0) closeSync(output);
  }
}

if (!isMainThread && (workerData as { blobBound?: Job } | undefined)?.blobBound) runThread((workerData as { blobBound: Job }).blobBound);

async function phase(job: Omit<Job, 'thread' | 'threads'>): Promise<void> {
  const threads = Array.from(
    { length: BOUND_THREADS },
    (_, thread) => new Worker(new URL(import.meta.url), { workerData: { blobBound: { ...job, thread, threads: BOUND_THREADS } } }),
  );
  await Promise.all(
    threads.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          w.once('error', reject);
          w.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`blob bound thread exited with ${code}`))));
        }),
    ),
  );
}

/**
 * Runs the bound's attach of `file` into `dir`, then its fetch back into
 * `out` (which the fetch creates at the file's size); `timed` wraps each.
 */
export async function blobBound<C>(
  file: string,
  dir: string,
  out: string,
  block: number,
  timed: (fn: () => Promise<void>) => Promise<C>,
): Promise<{ put: C; get: C }> {
  for (const d of ['remote']) mkdirSync(join(dir, d), { recursive: true });
  const key = new Uint8Array(randomBytes(32));
  const size = statSync(file).size;
  const put = await timed(() => phase({ phase: 'put', block, file, size, out, dir, key }));
  // The output exists at its full size before the threads write their blocks into it.
  closeSync(openSync(out, 'w'));
  truncateSync(out, size);
  const get = await timed(() => phase({ phase: 'get', block, file, size, out, dir, key }));
  return { put, get };
}
