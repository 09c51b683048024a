/**
 * Blobs: attach an N-MiB file on device A and stream it back on device B,
 * against the floor of copying the file and AES-GCM-encrypting it once.
 * @module
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, createReadStream, createWriteStream, fsyncSync, openSync, readFileSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Vault, type Remote } from '@kith/core';
import { openFolderRemote } from '@kith/folder';
import { openFsBlobCache } from '@kith/node';
import { openSqliteStore } from '@kith/sqlite';
import { check, peakRssMiB, time, type Task } from '../measure.js';
import { cpuStallUs } from '../proc-stats.js';
import { blobBound } from './blob-bound.js';
import { resticRoundTrip } from './blob-restic.js';

const MiB = 1 << 20;

async function write(out: WriteStream, chunk: Uint8Array): Promise<void> {
  if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
}
const end = (out: WriteStream): Promise<void> => new Promise<void>((r) => out.end(() => r()));

/** Flushes a file's pending writes, so the next measurement does not pay for them. */
function flush(file: string): void {
  const fd = openSync(file, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function sha256Of(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: MiB })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** What a timed step cost: its wall time, this process's CPU (all threads) and the machine's CPU stall over it. */
interface Cost {
  ms: number;
  cpuMs: number;
  /** The kernel's share of cpuMs (page-cache writes, fsync writeback done in this process's threads). */
  sysMs: number;
  /** Share of the step in which some task of this machine waited for a CPU (Linux PSI); other work's load shows here. */
  stallPct: number;
}

/** CPU time of this process's waited-for children (user + system), in milliseconds: restic's, spawned synchronously. */
function childCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // cutime and cstime are fields 16 and 17 of the line, 14 and 15 after the name; USER_HZ is 100.
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

async function costOf<T>(fn: () => Promise<T>): Promise<[T, Cost]> {
  const cpu = process.cpuUsage();
  const stall = cpuStallUs();
  const [r, ms] = await time(fn);
  const used = process.cpuUsage(cpu);
  return [r, { ms, cpuMs: (used.user + used.system) / 1000, sysMs: used.system / 1000, stallPct: ((cpuStallUs() - stall) / 1000 / ms) * 100 }];
}

/** A step's throughput over an `n`-MiB file, in MiB/s. */
const mibPerS = (c: Cost, n: number): number => n / (c.ms / 1000);
/** A step's CPU seconds (every thread of the process) per GiB of an `n`-MiB file: on a busy machine throughput follows these. */
const cpuSPerGiB = (c: Cost, n: number): number => c.cpuMs / n / (1000 / 1024);
/** The same for the kernel's share alone. */
const sysSPerGiB = (c: Cost, n: number): number => c.sysMs / n / (1000 / 1024);

/** A stall figure, left out where the kernel reports no stall (a quiet machine, or no PSI), as results hold only positive figures. */
const stall = (name: string, c: Cost): Record<string, number> => (c.stallPct > 0 ? { [name]: c.stallPct } : {});

/** Copies and encrypts `file` once: the least any encrypted blob store must do with it. */
async function floor(file: string, copy: string): Promise<Cost> {
  const [, cost] = await costOf(async () => {
    copyFileSync(file, copy);
    const c = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12));
    for await (const chunk of createReadStream(copy, { highWaterMark: MiB })) c.update(chunk as Buffer);
    c.final();
  });
  // Untimed: the copy goes, so its write-back does not land on the next measurement.
  rmSync(copy);
  return cost;
}

/** The remote at `url`: an s3:// URL (the S3 variant, s3rver's), else a folder (made if missing). */
async function openRemote(url: string, create: boolean): Promise<Remote> {
  if (!url.startsWith('s3://')) return openFolderRemote(url, { create });
  const { openS3Remote } = await import('@kith/s3');
  return openS3Remote(url);
}

/**
 * Attaches `file` on a new vault in `base` (timed: from the file to every
 * chunk durable on the remote, a folder in `base` unless `remoteUrl` says
 * otherwise, and the ref returned), then streams it back to a file on a
 * second device restored from it (timed: from the remote to the last byte
 * written), and checks the copy is byte-identical.
 */
async function roundTrip(file: string, base: string, remoteUrl?: string, o: { cache?: boolean } = {}): Promise<{ put: Cost; get: Cost; rssMiB: number }> {
  const url = remoteUrl ?? join(base, 'remote');
  const cacheIn = (dir: string) => (o.cache === false ? {} : { blobCache: openFsBlobCache(join(base, dir, 'blobs')) });
  const { vault, recoveryCode } = await Vault.create({
    store: await openSqliteStore(join(base, 'a', 'kith.db')),
    remote: await openRemote(url, true),
    remoteUrl: url,
    ...cacheIn('a'),
  });
  const [put, putCost] = await costOf(() => vault.blobs.put(createReadStream(file, { highWaterMark: MiB })));
  await vault.close();
  const reader = await Vault.restore({
    store: await openSqliteStore(join(base, 'b', 'kith.db')),
    remote: await openRemote(url, false),
    remoteUrl: url,
    recoveryCode,
    ...cacheIn('b'),
  });
  try {
    const [size, getCost] = await costOf(async () => {
      const out = createWriteStream(join(base, 'blob.out'));
      let n = 0;
      const stream = reader.blobs.get(put.ref).getReader();
      for (let r = await stream.read(); !r.done; r = await stream.read()) {
        n += r.value.length;
        await write(out, r.value);
      }
      await end(out);
      return n;
    });
    const rssMiB = peakRssMiB();
    check(size === statSync(file).size, `blobs: read ${size} bytes of ${statSync(file).size}`);
    check((await sha256Of(join(base, 'blob.out'))) === (await sha256Of(file)), 'blobs: the fetched file differs from the attached one');
    return { put: putCost, get: getCost, rssMiB };
  } finally {
    await reader.close();
  }
}

/**
 * The bound's attach and fetch of `file` under `base` (see blob-bound.ts),
 * checked byte-identical and then removed (untimed). Dirty pages of earlier
 * steps are written back first, so the bound does not pay for them.
 */
async function bound(file: string, base: string): Promise<{ put: Cost; get: Cost }> {
  execFileSync('sync');
  const out = join(base, 'bound.out');
  // Loaded here only: the testing entry builds fast-check arbitraries on import (~200 MiB peak RSS), which the kith task must not carry.
  const { AVG_CHUNK } = await import('@kith/core/testing');
  const r = await blobBound(file, join(base, 'bound'), out, AVG_CHUNK, async (fn) => (await costOf(fn))[1]);
  check((await sha256Of(out)) === (await sha256Of(file)), 'blobs: the bound fetched a file that differs from the attached one');
  rmSync(join(base, 'bound'), { recursive: true, force: true });
  rmSync(out);
  return r;
}

/**
 * restic's backup of `file` into a new local repository under `base` and
 * its restore into a new directory, each timed (with restic's CPU, as a
 * child's), the restored copy checked byte-identical and removed (untimed).
 */
async function restic(file: string, base: string): Promise<{ put: Cost; get: Cost } | undefined> {
  execFileSync('sync');
  const r = await resticRoundTrip(file, base, async (fn) => {
    const before = childCpuMs();
    const [, cost] = await costOf(fn);
    return { ...cost, cpuMs: cost.cpuMs + childCpuMs() - before };
  });
  if (!r) return undefined;
  check((await sha256Of(r.restored)) === (await sha256Of(file)), 'blobs: restic restored a file that differs from the backed-up one');
  rmSync(join(base, 'restic'), { recursive: true, force: true });
  return r;
}

/** Blob tasks, N in MiB: `prep` writes an incompressible file; `floor`, `kith`, `restic` and `bound` measure it. */
export const tasks: Record<string, Task> = {
  async prep(n, dir) {
    const out = createWriteStream(join(dir, 'blob.bin'));
    const c = createCipheriv('aes-256-ctr', randomBytes(32), randomBytes(16));
    const zeros = Buffer.alloc(MiB);
    for (let i = 0; i < n; i++) await write(out, c.update(zeros));
    await end(out);
    out.close();
    const warm = createWriteStream(join(dir, 'warm.bin'));
    await write(warm, c.update(zeros));
    await end(warm);
    flush(join(dir, 'blob.bin'));
    flush(join(dir, 'warm.bin'));
    return {};
  },
  async floor(n, dir) {
    await floor(join(dir, 'warm.bin'), join(dir, 'warm.copy'));
    const c = await floor(join(dir, 'blob.bin'), join(dir, 'blob.copy'));
    return { floorMiBs: mibPerS(c, n), floorCpuSPerGiB: cpuSPerGiB(c, n), ...stall('floorStallPct', c) };
  },
  async kith(n, dir) {
    await roundTrip(join(dir, 'warm.bin'), join(dir, 'warm'));
    const r = await roundTrip(join(dir, 'blob.bin'), dir);
    // Diagnostic, after the peak RSS is read: the same round trip on devices without a blob cache, so the
    // run shows what the cache copy (every byte written twice) costs beside the rest. No target reads it.
    rmSync(join(dir, 'blob.out'));
    execFileSync('sync');
    const bare = await roundTrip(join(dir, 'blob.bin'), join(dir, 'nocache'), undefined, { cache: false });
    rmSync(join(dir, 'nocache'), { recursive: true, force: true });
    return {
      putMiBs: mibPerS(r.put, n),
      getMiBs: mibPerS(r.get, n),
      blobRssMiB: r.rssMiB,
      putCpuSPerGiB: cpuSPerGiB(r.put, n),
      getCpuSPerGiB: cpuSPerGiB(r.get, n),
      putSysSPerGiB: sysSPerGiB(r.put, n),
      getSysSPerGiB: sysSPerGiB(r.get, n),
      ...stall('putStallPct', r.put),
      ...stall('getStallPct', r.get),
      noCachePutMiBs: mibPerS(bare.put, n),
      noCacheGetMiBs: mibPerS(bare.get, n),
      noCachePutCpuSPerGiB: cpuSPerGiB(bare.put, n),
      noCacheGetCpuSPerGiB: cpuSPerGiB(bare.get, n),
    };
  },
  /** Kith through the S3 remote at KITH_BENCH_BLOB_S3 (s3rver, started by the runner; its warm-up at KITH_BENCH_BLOB_S3_WARM). */
  async s3(n, dir) {
    const [url, warm] = [process.env['KITH_BENCH_BLOB_S3'], process.env['KITH_BENCH_BLOB_S3_WARM']];
    check(url !== undefined && warm !== undefined, 'blobs.s3: KITH_BENCH_BLOB_S3 and KITH_BENCH_BLOB_S3_WARM must be set');
    // Devices of their own: the folder round trip's are in `dir` already.
    await roundTrip(join(dir, 'warm.bin'), join(dir, 's3-warm'), warm);
    const r = await roundTrip(join(dir, 'blob.bin'), join(dir, 's3'), url);
    return { s3PutMiBs: mibPerS(r.put, n), s3GetMiBs: mibPerS(r.get, n), s3PutCpuSPerGiB: cpuSPerGiB(r.put, n), s3GetCpuSPerGiB: cpuSPerGiB(r.get, n) };
  },
  /** restic, the peer: nothing when it is not installed and cannot be (the report says so). */
  async restic(n, dir) {
    if (!(await restic(join(dir, 'warm.bin'), join(dir, 'warm')))) return {};
    const r = (await restic(join(dir, 'blob.bin'), dir))!;
    return {
      resticBackupMiBs: mibPerS(r.put, n),
      resticRestoreMiBs: mibPerS(r.get, n),
      resticBackupCpuSPerGiB: cpuSPerGiB(r.put, n),
      resticRestoreCpuSPerGiB: cpuSPerGiB(r.get, n),
    };
  },
  async bound(n, dir) {
    await bound(join(dir, 'warm.bin'), join(dir, 'warm'));
    const r = await bound(join(dir, 'blob.bin'), dir);
    return {
      boundPutMiBs: mibPerS(r.put, n),
      boundGetMiBs: mibPerS(r.get, n),
      boundPutCpuSPerGiB: cpuSPerGiB(r.put, n),
      boundGetCpuSPerGiB: cpuSPerGiB(r.get, n),
    };
  },
};
