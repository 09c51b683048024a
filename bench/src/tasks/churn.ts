/**
 * Churn (issue #15): `n` records each updated {@link UPDATES} times (two
 * fields, title and n), then, for Kith, a snapshot and compaction (grace
 * 0); for Yjs, its GC (on by default) does the forgetting. Then a brand-new
 * device bootstraps the final state.
 *
 * Kith: device A (SQLite store, folder remote) writes the records, pushes,
 * then each round patches every record in one batch and pushes (one
 * segment per round, as a device syncing after each burst of work would).
 * Yjs: the same records in a Y.Map of Y.Maps, each round one transaction
 * setting the same two fields of every record. Remote bytes: every object
 * on Kith's remote (listed) before and after compaction; for Yjs the
 * document's full update, what a server (y-websocket, y-sweet) keeps and
 * sends a new peer. Local size: Kith's SQLite files (database, WAL) of the
 * device that churned and of the new device; for Yjs the same update, what
 * y-indexeddb keeps once it has merged its stored updates.
 * @module
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as Y from 'yjs';
import { fields, records } from '../data.js';
import { check, peakRssMiB, time, WARM_N, type Figures, type Task } from '../measure.js';

/** Updates of every record: 100 (10,000 records × 100 = the million changes). */
export const UPDATES = 100;

const title = (i: number, round: number): string => `Note ${i} v${round}`;

/** Bytes of a SQLite database with its WAL and shared-memory files. */
function dbBytes(file: string): number {
  return ['', '-wal', '-shm'].reduce((sum, ext) => {
    try {
      return sum + statSync(file + ext).size;
    } catch {
      return sum;
    }
  }, 0);
}

/** Kith's modules, loaded only by Kith's tasks so the Yjs worker's RSS stays its own. */
const kithModules = async () => {
  const [{ Vault }, { countingRemote }, { openFolderRemote }, { openSqliteStore }] = await Promise.all([
    import('@kith/core'),
    import('@kith/core/adapter'),
    import('@kith/folder'),
    import('@kith/sqlite'),
  ]);
  return { Vault, countingRemote, openFolderRemote, openSqliteStore };
};

/** `fn`'s result and the highest resident set size seen while it ran (sampled every 10 ms), in MiB: one call's peak, not the process's. */
async function rssDuring<T>(fn: () => Promise<T>): Promise<[T, number]> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  try {
    return [await fn(), Math.round(Math.max(peak, process.memoryUsage().rss) / 1048576)];
  } finally {
    clearInterval(timer);
  }
}

async function listed(remote: { list(prefix: string): Promise<readonly { size: number }[]> }): Promise<{ objects: number; bytes: number }> {
  const items = await remote.list('');
  return { objects: items.length, bytes: items.reduce((n, i) => n + i.size, 0) };
}

/** Device A churns, snapshots and compacts; the recovery code is kept in `base/kith.json`. */
async function kithChurn(n: number, base: string): Promise<Figures> {
  const { Vault, countingRemote, openFolderRemote, openSqliteStore } = await kithModules();
  const url = join(base, 'remote');
  const remote = countingRemote(await openFolderRemote(url, { create: true }));
  const db = join(base, 'a', 'kith.db');
  const { vault, recoveryCode } = await Vault.create({ store: await openSqliteStore(db), remote, remoteUrl: url });
  let figures: Figures;
  try {
    const recs = records(n);
    await vault.batch((b) => recs.forEach((r) => b.put('notes', r.id, { ...fields(r) })));
    await vault.push();
    const [, churnMs] = await time(async () => {
      for (let round = 1; round <= UPDATES; round++) {
        await vault.batch((b) => recs.forEach((r, i) => b.patch('notes', r.id, { title: title(i, round), n: round })));
        await vault.push();
      }
    });
    const history = await listed(remote);
    const [[snap, snapshotRssMiB], snapshotMs] = await time(() => rssDuring(() => vault.snapshot()));
    const [compacted, compactMs] = await time(() => vault.compact({ graceHours: 0 }));
    check(compacted.deleted >= UPDATES - 1, `kith: compaction deleted ${compacted.deleted} objects`);
    const after = await listed(remote);
    writeFileSync(join(base, 'kith.json'), JSON.stringify({ recoveryCode }));
    figures = {
      churnMs,
      changesPerSec: (n * UPDATES) / (churnMs / 1000),
      historyRemoteBytes: history.bytes,
      historyRemoteObjects: history.objects,
      snapshotMs,
      snapshotUploadedBytes: snap.uploaded,
      snapshotRssMiB,
      compactMs,
      compactDeleted: compacted.deleted,
      remoteBytes: after.bytes,
      remoteObjects: after.objects,
      churnRssMiB: peakRssMiB(),
    };
  } finally {
    await vault.close();
  }
  // After the close, as an idle device's files are.
  return { ...figures, localBytes: dbBytes(db) };
}

/** A new device bootstraps from the compacted remote and queries. */
async function kithBootstrap(n: number, base: string): Promise<Figures> {
  const { Vault, countingRemote, openFolderRemote, openSqliteStore } = await kithModules();
  const url = join(base, 'remote');
  const { recoveryCode } = JSON.parse(readFileSync(join(base, 'kith.json'), 'utf8')) as { recoveryCode: string };
  const remote = countingRemote(await openFolderRemote(url));
  const db = join(base, 'b', 'kith.db');
  const [v, ms] = await time(async () => {
    const v = await Vault.restore({ store: await openSqliteStore(db), remote, remoteUrl: url, recoveryCode });
    const pulled = await v.pull();
    check(pulled.pulled < n, `kith: bootstrap replayed ${pulled.pulled} changes, not the snapshot`);
    const page = await v.list('notes', { limit: 50 });
    check(page.records[0]?.['title'] === title(0, UPDATES), 'kith: the new device does not see the final state');
    return v;
  });
  const rssMiB = peakRssMiB();
  await v.close();
  const s = remote.stats;
  return {
    bootstrapMs: ms,
    bootstrapBytes: s.bytesSent + s.bytesReceived,
    bootstrapRequests: s.puts + s.gets + s.heads + s.lists + s.deletes,
    bootstrapRssMiB: rssMiB,
    bootstrapLocalBytes: dbBytes(db),
  };
}

/** Yjs, loaded only by its tasks (so Kith's workers do not carry it, nor Yjs's Kith). */
const yjs = () => import('yjs');

/** Yjs: the same churn in one document, GC on (the default). */
async function yjsChurn(n: number): Promise<{ doc: Y.Doc; churnMs: number }> {
  const Yjs = await yjs();
  const doc = new Yjs.Doc({ gc: true });
  const notes = doc.getMap<Y.Map<unknown>>('notes');
  const recs = records(n);
  doc.transact(() => {
    for (const r of recs) {
      const m = new Yjs.Map<unknown>();
      for (const [k, v] of Object.entries(fields(r))) m.set(k, v);
      notes.set(r.id, m);
    }
  });
  const t = performance.now();
  for (let round = 1; round <= UPDATES; round++)
    doc.transact(() =>
      recs.forEach((r, i) => {
        const m = notes.get(r.id)!;
        m.set('title', title(i, round));
        m.set('n', round);
      }),
    );
  return { doc, churnMs: performance.now() - t };
}

async function yjsBootstrap(update: Uint8Array): Promise<{ ms: number; first: unknown; size: number }> {
  const Yjs = await yjs();
  const t = performance.now();
  const b = new Yjs.Doc();
  Yjs.applyUpdate(b, update);
  const notes = b.getMap<Y.Map<unknown>>('notes');
  const first = notes.get(records(1)[0]!.id)?.get('title');
  return { ms: performance.now() - t, first, size: notes.size };
}

/** Churn tasks: Kith and Yjs each churn once (`*Churn`, the prep), then a new device bootstraps (`*Bootstrap`, the measured runs). */
export const tasks: Record<string, Task> = {
  async kithChurn(n, dir) {
    await kithChurn(WARM_N, join(dir, 'warm')); // the bootstrap's warm-up starts from it
    return kithChurn(n, dir);
  },
  async kithBootstrap(n, dir) {
    await kithBootstrap(WARM_N, join(dir, 'warm'));
    return kithBootstrap(n, dir);
  },
  async yjsChurn(n, dir) {
    const Yjs = await yjs();
    const { doc, churnMs } = await yjsChurn(n);
    const update = Yjs.encodeStateAsUpdate(doc);
    writeFileSync(join(dir, 'yjs.bin'), update);
    return { churnMs, changesPerSec: (n * UPDATES) / (churnMs / 1000), remoteBytes: update.length, localBytes: update.length, churnRssMiB: peakRssMiB() };
  },
  async yjsBootstrap(n, dir) {
    const Yjs = await yjs();
    await yjsBootstrap(Yjs.encodeStateAsUpdate((await yjsChurn(WARM_N)).doc)); // warm-up, unmeasured
    const update = readFileSync(join(dir, 'yjs.bin'));
    const r = await yjsBootstrap(update);
    check(r.first === title(0, UPDATES) && r.size === n, 'yjs: the new peer does not see the final state');
    return { bootstrapMs: r.ms, bootstrapBytes: update.length, bootstrapRssMiB: peakRssMiB() };
  },
};
