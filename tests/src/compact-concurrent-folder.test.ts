/**
 * Two devices compacting the same folder remote at once while a third
 * reads what they delete: deletes of the same objects are idempotent, and
 * the reader, finding a segment gone between its listing and its read,
 * merges the snapshot and converges.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vault, type Remote } from '@kith/core';
import { seededRandom } from '@kith/core/testing';
import { openFolderRemote } from '@kith/folder';
import { openSqliteStore } from '@kith/sqlite';

const HOUR = 3600_000;

/** The remote with one method replaced (the others bound to it: the folder remote keeps private state). */
function overriding<K extends keyof Remote>(remote: Remote, name: K, fn: Remote[K]): Remote {
  return new Proxy(remote, {
    get(target, prop, receiver) {
      if (prop === name) return fn;
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
}

test(
  'folder remote: two devices compact at once while a third pulls in the middle; every device converges and the remote keeps only the chain anchors',
  { timeout: 5 * 60_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kith-compact2-'));
    let now = 1_767_225_600_000;
    const deps = (seed: number) => ({ random: seededRandom(seed), now: () => ++now });
    const remoteDir = join(dir, 'remote');
    const common = { remoteUrl: 'file:///compact', snapshotEvery: false as const };
    // Once armed, A's and B's first deletes wait for each other: both plans are made before either deletes anything.
    let armed = false;
    let planned = 0;
    let bothPlanned!: () => void;
    const barrier = new Promise<void>((resolve) => (bothPlanned = resolve));
    const compacting = async (): Promise<Remote> => {
      const folder = await openFolderRemote(remoteDir, { create: true });
      let first = true;
      return overriding(folder, 'delete', async (key, o) => {
        if (armed && first) {
          first = false;
          if (++planned === 2) bothPlanned();
          await barrier;
        }
        return folder.delete(key, o);
      });
    };
    try {
      const { vault: a, recoveryCode } = await Vault.create({
        ...common,
        store: await openSqliteStore(join(dir, 'a', 'kith.db')),
        remote: await compacting(),
        deps: deps(1),
      });
      const device = async (name: string, seed: number, remote?: Remote): Promise<Vault> =>
        Vault.restore({
          ...common,
          store: await openSqliteStore(join(dir, name, 'kith.db')),
          remote: remote ?? (await openFolderRemote(remoteDir)),
          recoveryCode,
          deps: deps(seed),
        });
      const b = await device('b', 2, await compacting());
      // C's reads of A's segments beyond the first wait, once armed, until both compactions are over.
      let gated = 0;
      let release!: () => void;
      const compacted = new Promise<void>((resolve) => (release = resolve));
      const folder = await openFolderRemote(remoteDir);
      const gate = overriding(folder, 'get', async (key, o) => {
        if (armed && key.startsWith(`segments/${a.deviceId}/`) && !key.endsWith('/000000000001')) {
          gated++;
          await compacted;
        }
        return folder.get(key, o);
      });
      const c = await device('c', 3, gate);

      await a.put('notes', 'first', { v: 0 });
      await a.sync();
      await c.pull(); // C applies A's first segment and writes no head: it holds nothing back
      // Six segments each, then a snapshot of everything that both have applied.
      for (let i = 0; i < 6; i++) for (const [v, id] of [[a, `a${i}`] as const, [b, `b${i}`] as const]) await v.put('notes', id, { i }).then(() => v.sync());
      await a.snapshot();
      now += 25 * HOUR;
      await b.sync();

      const remote = await openFolderRemote(remoteDir);
      const objectCount = async () => (await remote.list('segments/')).length + (await remote.list('snapshots/')).length;
      const before = await objectCount();
      armed = true;
      const pulling = c.pull();
      const [ra, rb] = await Promise.all([a.compact(), b.compact()]);
      release();
      await pulling;
      assert.ok(gated > 0, "C's read fell between the compactions");
      assert.ok(ra.deleted > 0 && rb.deleted > 0, JSON.stringify({ ra, rb }));
      const after = await objectCount();
      assert.ok(ra.deleted + rb.deleted > before - after, `some objects deleted by both, without error (${ra.deleted} + ${rb.deleted} of ${before - after})`);
      const segments = async (v: Vault) => (await remote.list(`segments/${v.deviceId}/`)).length;
      assert.equal(await segments(a), 1);
      assert.equal(await segments(b), 1);
      const docs = async (v: Vault) => (await v.list('notes', { limit: 100 })).records;
      await c.put('notes', 'from-c', { v: 1 });
      await c.sync();
      await a.sync();
      await b.sync();
      const want = await docs(a);
      assert.equal(want.length, 14);
      assert.deepEqual(await docs(b), want);
      assert.deepEqual(await docs(c), want);
      const fresh = await device('d', 4);
      await fresh.sync();
      assert.deepEqual(await docs(fresh), want);
      const report = await a.check();
      assert.deepEqual(
        report.problems.filter((p) => !p.key.startsWith('blobs/chunks/')),
        [],
      );
      await remote.close();
      for (const v of [a, b, c, fresh]) await v.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
