/**
 * Kith at a million records (issue #17 point 5), opt-in: `--only scale`.
 * `prep` (untimed) fills device A in batches, pushes, and bootstraps
 * device B from the recovery code. `open` is the measured run in a fresh
 * process: open A, list a page and a filtered page, single put/get/list
 * latencies, 500 single puts and 100 edits pushed by A and pulled by B; its peak RSS is the
 * figure the target names.
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Vault } from '@kith/core';
import { openFolderRemote } from '@kith/folder';
import { openSqliteStore } from '@kith/sqlite';
import { fields, recordId, recordStream, type NoteRecord } from '../data.js';
import { check, latencies, loadAverage, peakRssMiB, percentile, time, type Figures, type Task } from '../measure.js';

/** Records per fill batch: keeps the filling process's memory bounded whatever the size. */
const FILL_BATCH = 10_000;
/** Records edited on A and pulled by B in the measured sync. */
const EDITS = 100;
/** Single puts timed on A; B pulls them with the edits. */
const PUTS = 500;

const remoteDir = (dir: string): string => join(dir, 'remote');
const openVault = async (dir: string, device: 'a' | 'b'): Promise<Vault> =>
  Vault.open({ store: await openSqliteStore(join(dir, device, 'kith.db')), remote: await openFolderRemote(remoteDir(dir)) });

async function prep(n: number, dir: string): Promise<Figures> {
  const url = remoteDir(dir);
  const { vault: a, recoveryCode } = await Vault.create({
    store: await openSqliteStore(join(dir, 'a', 'kith.db')),
    remote: await openFolderRemote(url, { create: true }),
    remoteUrl: url,
  });
  let fillMs = 0;
  try {
    const stream = recordStream(n);
    for (let from = 0; from < n; from += FILL_BATCH) {
      const recs: NoteRecord[] = [];
      // next() rather than for-of: leaving a for-of early would close the generator.
      for (let r = stream.next(); !r.done; r = stream.next()) if (recs.push(r.value) === FILL_BATCH) break;
      fillMs += (await time(() => a.batch((b) => recs.forEach((r) => b.put('notes', r.id, { ...fields(r) })))))[1];
    }
    await a.push();
  } finally {
    await a.close();
  }
  const b = await Vault.restore({ store: await openSqliteStore(join(dir, 'b', 'kith.db')), remote: await openFolderRemote(url), remoteUrl: url, recoveryCode });
  try {
    await b.pull();
  } finally {
    await b.close();
  }
  writeFileSync(join(dir, 'scale.json'), JSON.stringify({ n }));
  return { scaleFillPerSec: n / (fillMs / 1000) };
}

async function measured(n: number, dir: string): Promise<Figures> {
  check((JSON.parse(readFileSync(join(dir, 'scale.json'), 'utf8')) as { n: number }).n === n, 'scale: prep was for another size');
  const [a, openMs] = await time(() => openVault(dir, 'a'));
  let figures: Figures;
  try {
    const [page, pageMs] = await time(() => a.list('notes', { limit: 50 }));
    check(page.records.length === 50 && page.next !== null, 'scale: first page');
    const [nextPage, nextMs] = await time(() => a.list('notes', { limit: 50, after: page.next! }));
    check(nextPage.records.length === 50, 'scale: second page');
    const [hits, filterMs] = await time(() => a.list('notes', { where: { done: true }, limit: 50 }));
    check(hits.records.length === 50, 'scale: filter found too little');
    // A filter almost nothing matches reads the whole collection: the worst case of a page.
    const [rare, scanMs] = await time(() => a.list('notes', { where: { title: `Note ${n - 1}` }, limit: 50 }));
    check(rare.records.length === 1, 'scale: selective filter');
    const put = await latencies(PUTS, (i) => a.put('single', `s${i}`, { title: `single ${i}`, n: i }));
    const get = await latencies(500, (i) => a.get('notes', recordId((i * 7919) % n)));
    const list = await latencies(100, (i) => a.list('notes', { where: { done: i % 2 === 0 }, limit: 50 }));
    const ids = Array.from({ length: EDITS }, (_, i) => recordId(Math.floor((i * n) / EDITS)));
    await a.batch((b) => ids.forEach((id) => b.patch('notes', id, { title: `Edited ${id}` })));
    const [, pushMs] = await time(() => a.push());
    figures = {
      scaleOpenMs: openMs,
      scalePageMs: pageMs,
      scaleNextPageMs: nextMs,
      scaleFilterMs: filterMs,
      scaleScanMs: scanMs,
      scalePutP50: percentile(put, 0.5),
      scalePutP99: percentile(put, 0.99),
      scaleGetP50: percentile(get, 0.5),
      scaleGetP99: percentile(get, 0.99),
      scaleListP50: percentile(list, 0.5),
      scaleListP99: percentile(list, 0.99),
      scalePushMs: pushMs,
    };
  } finally {
    await a.close();
  }
  const [b, openBMs] = await time(() => openVault(dir, 'b'));
  try {
    const [pulled, pullMs] = await time(() => b.pull());
    check(pulled.pulled === PUTS + EDITS, `scale: pulled ${pulled.pulled} of ${PUTS + EDITS} changes`);
    return { ...figures, scaleOpenBMs: openBMs, scalePullMs: pullMs, scaleRssMiB: peakRssMiB(), scaleLoadAvg: loadAverage() };
  } finally {
    await b.close();
  }
}

/** Scale tasks: `prep` (fill, push, bootstrap B; untimed by the orchestrator) and `open` (the measured run). */
export const tasks: Record<string, Task> = { prep, open: measured };
