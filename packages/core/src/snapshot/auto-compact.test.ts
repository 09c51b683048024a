import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { WarningCode } from '../base/warnings.js';
import { remoteKeys, snapshotKeys } from '../format/index.js';
import type { Remote } from '../ports/remote.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { Vault } from '../vault/vault.js';
import { autoCompactEvery } from './compact-options.js';
import { HOUR, restoreDevice, segmentsOf, snapshotsIn, twoDevices } from './compact.test.support.js';

/** Two devices; A wrote `n` segments, both have them, and a snapshot covering them is past the grace period. */
async function compactable(n: number) {
  const devices = await twoDevices();
  const { a, b, c } = devices;
  for (let i = 0; i < n; i++) {
    await a.put('notes', `a${i}`, { i });
    await a.sync();
  }
  await b.sync();
  await a.snapshot();
  c.advance(25 * HOUR);
  await b.sync();
  return devices;
}

const docs = async (v: Vault) => (await v.list('notes', { limit: 1000 })).records.map((d) => ({ ...d }));

test('the interval of compaction by itself: explicit hours or false win; by default it follows automatic snapshots; bad input is refused', async () => {
  assert.equal(autoCompactEvery({}, true), 24 * HOUR);
  assert.equal(autoCompactEvery({}, false), false);
  assert.equal(autoCompactEvery({ everyHours: false }, true), false);
  assert.equal(autoCompactEvery({ everyHours: 2 }, false), 2 * HOUR);
  for (const everyHours of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '3' as unknown as number, true as unknown as number]) {
    assert.throws(
      () => autoCompactEvery({ everyHours }, true),
      (e: unknown) => KithError.is(e, ErrorCode.BadInput),
      String(everyHours),
    );
  }
  await assert.rejects(twoDevices({ compaction: { everyHours: 0 } }), (e: unknown) => KithError.is(e, ErrorCode.BadInput));
});

test('a sync compacts by itself when due, at most once per interval per device, never when switched off', async () => {
  const { objects, c, a, b, recoveryCode } = await compactable(4);
  // Without automatic snapshots and without an interval, nothing compacts by itself.
  await a.sync();
  assert.equal(segmentsOf(objects, a.deviceId).length, 4);
  const off = await restoreDevice(objects, recoveryCode, c, 3, { snapshotEvery: { segments: 1000 }, compaction: { everyHours: false } });
  await off.sync();
  assert.equal(segmentsOf(objects, a.deviceId).length, 4, 'switched off');
  await off.close();

  const auto = await restoreDevice(objects, recoveryCode, c, 4, { compaction: { everyHours: 6, graceHours: 1 } });
  const first = await auto.sync();
  assert.equal(first.warnings, undefined);
  assert.deepEqual(segmentsOf(objects, a.deviceId), [4], 'compacted after its first sync: only the chain anchor stays');
  // More history, covered by a newer snapshot past the grace period: not compacted before the interval is over.
  for (let i = 0; i < 3; i++) {
    await a.put('notes', `b${i}`, { i });
    await a.sync();
  }
  await a.snapshot();
  await b.sync();
  c.advance(2 * HOUR);
  await auto.sync();
  assert.deepEqual(segmentsOf(objects, a.deviceId), [4, 5, 6, 7], 'two hours after its last run: not due');
  c.advance(5 * HOUR);
  await auto.sync();
  assert.deepEqual(segmentsOf(objects, a.deviceId), [5, 6, 7], 'seven hours after: due, and run (the older snapshot, which stays, covers up to 4)');
  assert.deepEqual(await docs(auto), await docs(a));
  await auto.close();
  await a.close();
  await b.close();
});

test('background compaction that fails never fails the sync: it comes back as a warning, and is not retried on every sync', async () => {
  const { objects, c, a, b, recoveryCode } = await compactable(3);
  let deletes = 0;
  const failing: Remote = {
    ...openMemoryRemote(objects),
    delete: async () => {
      deletes++;
      throw new KithError(ErrorCode.RemoteUnavailable, 'the remote refused the delete');
    },
  };
  const v = await Vault.restore({
    remoteUrl: 'memory:',
    snapshotEvery: false,
    compaction: { everyHours: 1 },
    store: openMemoryStore(),
    remote: failing,
    recoveryCode,
    deps: { random: seededRandom(5), now: c.now },
  });
  const synced: unknown[] = [];
  v.on('synced', (e) => synced.push(e));
  await v.put('notes', 'mine', { x: 1 });
  const r = await v.sync();
  assert.equal(r.pushed > 0, true, 'the sync did its work');
  assert.deepEqual(
    r.warnings?.map((w) => w.code),
    [WarningCode.CompactionFailed],
  );
  assert.match(r.warnings[0]!.message, /refused the delete/);
  assert.equal(synced.length, 1, 'the synced event carries it');
  assert.equal(deletes, 1);
  const again = await v.sync();
  assert.equal(again.warnings, undefined);
  assert.equal(deletes, 1, 'not tried again before the interval');
  await a.sync();
  assert.deepEqual((await a.get('notes', 'mine'))?.['x'], 1);
  await v.close();
  await a.close();
  await b.close();
});

test("a revoked device's chain goes but its last segment once every staying snapshot covers it; a device that had not applied it merges the snapshot", async () => {
  const { objects, c, a, b, recoveryCode } = await twoDevices();
  const r = await restoreDevice(objects, recoveryCode, c, 3);
  await r.put('notes', 'r0', { by: 'r' });
  await r.sync();
  await b.sync(); // B applies the revoked device's first segment, and no more
  for (const id of ['r1', 'r2']) {
    await r.put('notes', id, { by: 'r' });
    await r.sync();
  }
  await a.sync();
  await a.devices.revoke(r.deviceId);
  await a.put('notes', 'after', { by: 'a' });
  await a.sync();
  assert.deepEqual(segmentsOf(objects, r.deviceId).sort(), [1, 2, 3]);
  await a.snapshot();
  assert.equal((await a.compact({ dryRun: true })).deleted, 0, 'not before a snapshot past the grace period covers it');
  c.advance(25 * HOUR);
  await a.compact();
  assert.deepEqual(segmentsOf(objects, r.deviceId), [3], 'the revoked chain went but its last segment (B, which had not applied it, holds nothing back)');
  await b.sync();
  const want = await docs(a);
  assert.deepEqual(
    want.map((d: { id: string }) => d.id),
    ['after', 'r0', 'r1', 'r2'],
  );
  assert.deepEqual(await docs(b), want, 'B merged the snapshot for what it had not applied');
  const fresh = await restoreDevice(objects, recoveryCode, c, 4);
  await fresh.sync();
  assert.deepEqual(await docs(fresh), want);
  const report = await a.check();
  assert.deepEqual(report.problems, [], 'check sees the revoked chain compaction removed as such');
  for (const v of [a, b, r, fresh]) await v.close();
});

test('the merge loop: a segment still missing after merging a lagging device\u2019s newer snapshot merges the next one ahead', async () => {
  const { objects, c, a, recoveryCode } = await twoDevices();
  // B's clock runs an hour ahead: the snapshot it writes first sorts newest, though it covers less.
  const b = await restoreDevice(objects, recoveryCode, { now: () => c.now() + HOUR, advance: c.advance }, 5);
  let armed = false;
  let fired = false;
  const manifestsRead: string[] = [];
  const base = openMemoryRemote(objects);
  const watched: Remote = {
    ...base,
    get: async (key, o) => {
      if (key.startsWith(snapshotKeys.prefix)) manifestsRead.push(key);
      if (armed && !fired && key.startsWith('blobs/chunks/')) {
        // While the reader merges the lagging snapshot, a compaction that no longer keeps it deletes what only the other covers.
        fired = true;
        for (let s = 7; s <= 11; s++) objects.delete(remoteKeys.segment(a.deviceId, s));
      }
      return base.get(key, o);
    },
  };
  const d = await Vault.restore({
    remoteUrl: 'memory:',
    snapshotEvery: false,
    store: openMemoryStore(),
    remote: watched,
    recoveryCode,
    deps: { random: seededRandom(6), now: c.now },
  });
  const write = async (from: number, to: number): Promise<void> => {
    for (let i = from; i < to; i++) {
      await a.put('notes', `n${i}`, { i });
      await a.sync();
    }
  };
  await write(0, 1);
  await d.sync(); // D applies A's segment 1 only
  await write(1, 6);
  const lagging = (await b.snapshot()).snapshot; // covers A up to 6
  await write(6, 12);
  const ahead = (await a.snapshot()).snapshot; // covers A up to 12
  await write(12, 13);
  assert.ok(lagging > ahead, 'the lagging snapshot sorts newest');
  assert.deepEqual(
    segmentsOf(objects, a.deviceId).sort((x, y) => x - y),
    Array.from({ length: 13 }, (_, i) => i + 1),
  );
  for (let s = 1; s <= 6; s++) objects.delete(remoteKeys.segment(a.deviceId, s)); // what both snapshots cover
  manifestsRead.length = 0;
  armed = true;
  await d.sync();
  assert.ok(fired);
  assert.deepEqual(manifestsRead.filter((k) => k === lagging || k === ahead).at(-1), ahead, 'after the lagging snapshot, the one ahead of it was merged');
  assert.ok(manifestsRead.includes(lagging));
  assert.deepEqual(await docs(d), await docs(a));
  assert.equal(snapshotsIn(objects).length, 2);
  for (const v of [a, b, d]) await v.close();
});
