/**
 * Kith through the real product: a SQLite store per device and a folder
 * remote (or S3 when the orchestrator names one). Device A fills and
 * pushes; device B restores from the recovery code, pulls and queries;
 * then A edits 1,000 records and B catches up.
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Vault } from '@kith/core';
import { countingRemote, type CountingRemote, type RemoteStats } from '@kith/core/adapter';
import { openFolderRemote } from '@kith/folder';
import { openSqliteStore } from '@kith/sqlite';
import { changed, fields, records } from '../data.js';
import { cpuTime, insertTimed } from './floors.js';
import { check, latencies, loadAverage, peakRssMiB, percentile, time, WARM_N, type Figures, type Task } from '../measure.js';

/**
 * Where a vault's remote lives: the S3 URL the orchestrator put in the
 * environment (one for the measured vault, one for the warm-up's), else a
 * folder inside `base`.
 */
export function remoteUrl(base: string, warm: boolean): string {
  return process.env[warm ? 'KITH_BENCH_REMOTE_WARM' : 'KITH_BENCH_REMOTE'] ?? join(base, 'remote');
}

/** The remote for `url`, counting its requests (the figures report them). */
export async function openRemote(url: string): Promise<CountingRemote> {
  if (!url.startsWith('s3://')) return countingRemote(await openFolderRemote(url, { create: true }));
  const { openS3Remote } = await import('@kith/s3');
  return countingRemote(await openS3Remote(url));
}

const requests = (s: RemoteStats): number => s.puts + s.gets + s.heads + s.lists + s.deletes;

/** Runs `fn` and returns how many requests and bytes (both directions) it cost on `remote`. */
export async function traffic<T>(remote: CountingRemote, fn: () => Promise<T>): Promise<{ result: T; ms: number; bytes: number; requests: number }> {
  const before = { ...remote.stats };
  const [result, ms] = await time(fn);
  const s = remote.stats;
  return { result, ms, bytes: s.bytesSent - before.bytesSent + s.bytesReceived - before.bytesReceived, requests: requests(s) - requests(before) };
}

/**
 * Device A: a vault of `n` records in `base/a`, pushed; the recovery code kept in `base/kith.json`.
 * With `snapshot`, A then writes a snapshot, so a new device starts from it instead of replaying the segments.
 */
export async function prepare(n: number, base: string, warm: boolean, snapshot = false): Promise<Figures> {
  const url = remoteUrl(base, warm);
  const remote = await openRemote(url);
  const { vault, recoveryCode } = await Vault.create({ store: await openSqliteStore(join(base, 'a', 'kith.db')), remote, remoteUrl: url });
  try {
    const recs = records(n);
    const [, batchMs] = await time(() => vault.batch((b) => recs.forEach((r) => b.put('notes', r.id, { ...fields(r) }))));
    const push = await traffic(remote, () => vault.push());
    const snap = snapshot ? await traffic(remote, () => vault.snapshot()) : undefined;
    writeFileSync(join(base, 'kith.json'), JSON.stringify({ recoveryCode }));
    return {
      batchMs,
      pushMs: push.ms,
      pushBytes: push.bytes,
      pushRequests: push.requests,
      ...(snap ? { snapshotMs: snap.ms, snapshotBytes: snap.bytes, snapshotRequests: snap.requests } : {}),
    };
  } finally {
    await vault.close();
  }
}

/**
 * Device B restores from the recovery code, pulls and queries; returns B open and what that cost.
 * `snapshot`: A wrote one, and B must have started from it (its pull replays no segment of A's).
 */
export async function bootstrap(n: number, base: string, warm: boolean, snapshot = false) {
  const url = remoteUrl(base, warm);
  const { recoveryCode } = JSON.parse(readFileSync(join(base, 'kith.json'), 'utf8')) as { recoveryCode: string };
  const remote = await openRemote(url);
  const boot = await traffic(remote, async () => {
    const v = await Vault.restore({ store: await openSqliteStore(join(base, 'b', 'kith.db')), remote, remoteUrl: url, recoveryCode });
    const pulled = await v.pull();
    const hits = (await v.list('notes', { where: { done: true }, limit: 50 })).records.length;
    check(hits > 0, 'kith: query found nothing');
    if (snapshot) check(pulled.pulled < n && !pulled.warnings, `kith: no bootstrap from the snapshot (pulled ${pulled.pulled} changes)`);
    return v;
  });
  return { ...boot, remote, rssMiB: peakRssMiB() };
}

/** Device B bootstraps from the remote and queries; A then edits and pushes; B catches up. */
async function sync(n: number, base: string, warm: boolean): Promise<Figures> {
  const url = remoteUrl(base, warm);
  // CPU time too (every thread): on a shared machine the wall time of a full replay swings with the load, its CPU time far less.
  const [boot, bootstrapCpuMs] = await cpuTime(() => bootstrap(n, base, warm));
  const { remote: remoteB, rssMiB: bootstrapRssMiB } = boot;
  const vb = boot.result;
  try {
    const edits = changed(n);
    const va = await Vault.open({ store: await openSqliteStore(join(base, 'a', 'kith.db')), remote: await openRemote(url) });
    await va.batch((b) => edits.forEach((c) => b.patch('notes', c.id, { title: c.title })));
    await va.push();
    await va.close();
    const inc = await traffic(remoteB, () => vb.pull());
    check(inc.result.pulled === edits.length, `kith: pulled ${inc.result.pulled} of ${edits.length} edits`);
    const last = edits.at(-1)!;
    check((await vb.get('notes', last.id))?.['title'] === last.title, 'kith: edit did not arrive');
    return {
      bootstrapMs: boot.ms,
      bootstrapCpuMs,
      bootstrapBytes: boot.bytes,
      bootstrapRequests: boot.requests,
      bootstrapRssMiB,
      incrementalMs: inc.ms,
      incrementalBytes: inc.bytes,
      incrementalRequests: inc.requests,
    };
  } finally {
    await vb.close();
  }
}

/** Local writes and reads on one device's vault of `n` records. */
async function local(n: number, base: string): Promise<Figures> {
  const store = await openSqliteStore(join(base, 'kith.db'));
  const { vault } = await Vault.create({
    store,
    remote: await openFolderRemote(join(base, 'remote'), { create: true }),
    remoteUrl: join(base, 'remote'),
  });
  try {
    const recs = records(n);
    const putCpu: number[] = [];
    const started = performance.now();
    const [[, batchMs], batchCpuMs] = await cpuTime(() => time(() => vault.batch((b) => recs.forEach((r) => b.put('notes', r.id, { ...fields(r) })))));
    // The batch returns before its WAL pages are copied into the database file (the store's checkpoint thread): when
    // that copy ends is reported beside it, measured while the puts below go on, as an app's writes would.
    const settled = store.checkpointed().then(() => performance.now() - started);
    const put = await latencies(500, (i) => vault.put('single', `s${i}`, { title: `single ${i}`, n: i }), putCpu);
    const get = await latencies(500, (i) => vault.get('notes', recs[(i * 7919) % n]!.id));
    const list = await latencies(100, (i) => vault.list('notes', { where: { done: i % 2 === 0 }, limit: 50 }));
    const batchSettledMs = await settled;
    // The floor of the same rows in the same process and moment, so load on the machine cancels out of the ratio.
    const floor = await insertTimed(n, join(base, 'floor.db'));
    return {
      batchPerSec: n / (batchMs / 1000),
      batchSettledMs,
      batchSettledPerSec: n / (batchSettledMs / 1000),
      floorInsertPerSec: n / (floor.ms / 1000),
      // CPU time of the batch and of the floor (every thread of the process): their ratio moves far less with the machine's load.
      batchCpuMs,
      floorCpuMs: floor.cpuMs,
      putP50: percentile(put, 0.5),
      putP99: percentile(put, 0.99),
      // The same puts by CPU time (every thread): on a loaded machine the wall p99 is mostly waiting for a core.
      putCpuP99: percentile(putCpu, 0.99),
      getP50: percentile(get, 0.5),
      getP99: percentile(get, 0.99),
      listP50: percentile(list, 0.5),
      listP99: percentile(list, 0.99),
      localRssMiB: peakRssMiB(),
      loadAvg: loadAverage(),
    };
  } finally {
    await vault.close();
  }
}

/** Kith tasks. `prep` (device A, once per size), `sync` (device B: bootstrap, then incremental), `local` (one device's writes and reads). Each measured task first runs itself on a small vault. */
export const tasks: Record<string, Task> = {
  async prep(n, dir) {
    await prepare(WARM_N, join(dir, 'warm'), true);
    return prepare(n, dir, false);
  },
  async sync(n, dir) {
    await sync(WARM_N, join(dir, 'warm'), true);
    return sync(n, dir, false);
  },
  async local(n, dir) {
    await local(WARM_N, join(dir, 'warm'));
    return local(n, dir);
  },
};
