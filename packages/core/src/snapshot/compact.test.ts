import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import { ErrorCode } from '../base/errors.js';
import { remoteKeys } from '../format/index.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { Vault } from '../vault/vault.js';
import { DAY, HOUR, segmentsOf, snapshotsIn, twoDevices } from './compact.test.support.js';

test('compact deletes only what a snapshot older than the grace period covers and every active device acknowledged, never a newest segment', async () => {
  const { objects, c, a, b } = await twoDevices();
  for (let i = 0; i < 5; i++) {
    await a.put('notes', `a${i}`, { i });
    await a.sync();
    await b.put('notes', `b${i}`, { i });
    await b.sync();
  }
  await a.sync();
  await a.snapshot();
  // Younger than the grace period: nothing goes.
  assert.equal((await a.compact()).deleted, 0);
  c.advance(25 * HOUR);
  // B has not acknowledged A's last segments yet... it syncs first, so both have everything.
  await b.sync();
  const dry = await a.compact({ dryRun: true });
  assert.ok(dry.deleted > 0, JSON.stringify(dry));
  const before = new Map(objects);
  assert.deepEqual([...objects.keys()].sort(), [...before.keys()].sort(), 'a dry run deletes nothing');
  const real = await a.compact();
  assert.equal(real.deleted, dry.deleted);
  assert.ok(real.bytes > 0);
  for (const v of [a, b]) assert.deepEqual(segmentsOf(objects, v.deviceId).length, 1, 'only the newest segment of each device stays');
  await assert.rejects(a.compact({ graceHours: -1 }), (e: unknown) => (e as { code?: string }).code === ErrorCode.BadInput);
  // Both go on syncing as before.
  await a.put('notes', 'after', { x: 1 });
  await a.sync();
  await b.sync();
  assert.deepEqual((await b.get('notes', 'after'))?.['x'], 1);
  assert.equal(snapshotsIn(objects).length, 1);
  // Their own-chain audits (due daily) see the gap below a snapshot as compaction and put nothing back.
  c.advance(25 * HOUR);
  await a.sync();
  await b.sync();
  for (const v of [a, b]) assert.deepEqual(segmentsOf(objects, v.deviceId).length, v === a ? 2 : 1, 'no compacted segment restored');
  const report = await a.check();
  assert.deepEqual(report.problems, [], 'check sees the gaps compaction left as such');
  await a.close();
  await b.close();
});

const docs = async (v: Vault) => (await v.list('notes', { limit: 1000 })).records.map((d) => ({ ...d }));

test('a device back after the horizon merges the newest snapshot into its store, keeps and pushes its unpushed writes, and sees no deleted record again', async () => {
  const { objects, c, a, b } = await twoDevices();
  for (let i = 0; i < 4; i++) await a.put('notes', `n${i}`, { v: 0 });
  await a.sync();
  await b.sync();
  // B goes away with a write it never pushed; A deletes what B holds and goes on.
  await b.put('notes', 'offline', { by: 'b' });
  await b.patch('notes', 'n3', { b: true });
  await a.delete('notes', 'n0');
  await a.sync();
  await a.put('notes', 'n1', { v: 1 });
  await a.sync();
  c.advance(91 * DAY);
  await a.put('notes', 'n2', { v: 2 });
  await a.sync();
  await a.snapshot();
  c.advance(25 * HOUR);
  await a.put('notes', 'tail', { v: 3 });
  await a.sync();
  const r = await a.compact();
  assert.ok(r.deleted > 0, JSON.stringify(r));
  assert.deepEqual(segmentsOf(objects, a.deviceId).includes(1), false, "A's first segment, which B never pulled, is gone");
  await b.sync();
  await a.sync();
  const want = [
    { id: 'n1', v: 1 },
    { id: 'n2', v: 2 },
    { id: 'n3', v: 0, b: true },
    { id: 'offline', by: 'b' },
    { id: 'tail', v: 3 },
  ];
  assert.deepEqual(await docs(b), want);
  assert.deepEqual(await docs(a), want);
  assert.equal((await b.status()).pending, 0);
  await a.close();
  await b.close();
});

test('a segment missing above the snapshot vector is refused as KITH_INTEGRITY_WITHHELD, one below it is read from the snapshot', async () => {
  const { objects, c, a, b } = await twoDevices();
  await a.put('notes', 'x', { v: 1 });
  await a.sync();
  await b.sync();
  for (let i = 0; i < 3; i++) {
    await a.put('notes', `s${i}`, { i });
    await a.sync();
  }
  await a.snapshot();
  c.advance(25 * HOUR);
  for (let i = 0; i < 3; i++) {
    await a.put('notes', `t${i}`, { i });
    await a.sync();
  }
  const segs = segmentsOf(objects, a.deviceId).sort((x, y) => x - y);
  const head = segs.at(-1)!;
  // The remote drops one segment below the snapshot's vector and one above it (not the newest).
  objects.delete(remoteKeys.segment(a.deviceId, 2));
  const above = objects.get(remoteKeys.segment(a.deviceId, head - 1))!;
  objects.delete(remoteKeys.segment(a.deviceId, head - 1));
  await assert.rejects(b.pull(), (e: unknown) => (e as { code?: string }).code === ErrorCode.IntegrityWithheld);
  assert.equal(await b.get('notes', 't2'), undefined, 'nothing after the withheld segment applied');
  objects.set(remoteKeys.segment(a.deviceId, head - 1), above);
  await b.pull();
  assert.deepEqual(
    (await docs(b)).map((d: { id: string }) => d.id),
    ['s0', 's1', 's2', 't0', 't1', 't2', 'x'],
  );
  await a.close();
  await b.close();
});

test('old snapshots: every one younger than the grace period and the newest two older stay; blob GC then marks the chunks only the others held', async () => {
  const { objects, c, a, b, recoveryCode } = await twoDevices();
  const keys: string[] = [];
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 3; i++) await a.put('notes', `n${i}`, { round, body: `${round}-${i}`.repeat(50) });
    await a.sync();
    keys.push((await a.snapshot()).snapshot);
    c.advance(25 * HOUR);
  }
  await a.put('notes', 'young', { x: 1 });
  await a.sync();
  keys.push((await a.snapshot()).snapshot); // younger than the grace period
  await b.sync();
  const chunksBefore = [...objects.keys()].filter((k) => k.startsWith('blobs/chunks/')).length;
  const r = await a.compact();
  assert.deepEqual(snapshotsIn(objects).sort(), [keys[2], keys[3], keys[4]], 'the two oldest went');
  assert.ok(r.deleted >= 2, JSON.stringify(r));
  const marks = [...objects.keys()].filter((k) => k.startsWith('blobs/gc/'));
  assert.ok(marks.length > 0 && marks.length < chunksBefore, `GC marked the old snapshots' chunks only (${marks.length} of ${chunksBefore})`);
  // A new device still starts from the newest snapshot, and every record is there.
  const fresh = await Vault.restore({
    remoteUrl: 'memory:',
    snapshotEvery: false,
    store: openMemoryStore(),
    remote: openMemoryRemote(objects),
    recoveryCode,
    deps: { random: seededRandom(3), now: c.now },
  });
  await fresh.sync();
  assert.deepEqual(await docs(fresh), await docs(a));
  await fresh.close();
  await a.close();
  await b.close();
});

test('a device seen within the horizon holds back what it has not acknowledged; past the horizon it no longer does', async () => {
  const { objects, c, a, b } = await twoDevices();
  await a.put('notes', 'one', { i: 1 });
  await a.sync();
  await b.sync(); // B acknowledges A's segment 1, and no more
  for (const id of ['two', 'three']) {
    await a.put('notes', id, { i: 2 });
    await a.sync();
  }
  await a.snapshot();
  c.advance(25 * HOUR);
  assert.equal((await a.compact()).deleted, 1, 'segment 1 only: B has not acknowledged 2');
  assert.deepEqual(segmentsOf(objects, a.deviceId).sort(), [2, 3]);
  c.advance(90 * DAY);
  await a.put('notes', 'four', { i: 4 });
  await a.sync();
  await a.snapshot();
  c.advance(25 * HOUR);
  assert.ok((await a.compact()).deleted >= 2, 'B, unseen past the horizon, holds nothing back');
  assert.deepEqual(segmentsOf(objects, a.deviceId), [4]);
  await b.sync();
  assert.deepEqual(
    (await docs(b)).map((d: { id: string }) => d.id),
    ['four', 'one', 'three', 'two'],
  );
  await a.close();
  await b.close();
});
