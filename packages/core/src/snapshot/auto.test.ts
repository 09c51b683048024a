import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import { snapshotKeys } from '../format/snapshot.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { Vault } from '../vault/vault.js';
import type { VaultOptions } from '../vault/vault-types.js';

const T0 = 1_767_225_600_000;
let now = T0;
const deps = (seed: number) => ({ random: seededRandom(seed), now: () => ++now });
const snapshotsIn = (objects: Map<string, Uint8Array>): string[] => [...objects.keys()].filter((k) => k.startsWith(snapshotKeys.prefix));

async function vaultWith(objects: Map<string, Uint8Array>, snapshotEvery?: VaultOptions['snapshotEvery']) {
  return Vault.create({
    store: openMemoryStore(),
    remote: openMemoryRemote(objects),
    remoteUrl: 'memory:',
    deps: deps(1),
    ...(snapshotEvery === undefined ? {} : { snapshotEvery }),
  });
}

test('a sync writes a snapshot once this device applied `snapshotEvery.segments` segments beyond the newest one; never with false, not soon by default', async () => {
  for (const [every, expected] of [
    [{ segments: 3 }, [0, 0, 1, 1, 1, 2]],
    [false, [0, 0, 0, 0, 0, 0]],
    [undefined, [0, 0, 0, 0, 0, 0]],
  ] as const) {
    const objects = new Map<string, Uint8Array>();
    const { vault } = await vaultWith(objects, every);
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      await vault.put('notes', `n${i}`, { i });
      await vault.sync();
      seen.push(snapshotsIn(objects).length);
    }
    assert.deepEqual(seen, expected, `snapshotEvery ${JSON.stringify(every)}`);
    await vault.close();
  }
});

test("blob GC keeps the snapshots' chunks: a device bootstraps from the snapshot after GC ran past its grace period", async () => {
  const objects = new Map<string, Uint8Array>();
  const { vault, recoveryCode } = await vaultWith(objects, false);
  for (let i = 0; i < 50; i++) await vault.put('notes', `n${i}`, { title: `note ${i}` });
  await vault.sync();
  await vault.snapshot();
  const first = await vault.blobs.gc({ graceMs: 0 });
  now += 1000;
  const second = await vault.blobs.gc({ graceMs: 0 });
  assert.equal(first.marked + second.deleted, 0, JSON.stringify({ first, second }));
  const fresh = await Vault.restore({
    store: openMemoryStore(),
    remote: openMemoryRemote(objects),
    remoteUrl: 'memory:',
    recoveryCode,
    deps: deps(2),
    snapshotEvery: false,
  });
  const r = await fresh.sync();
  assert.equal(r.warnings, undefined);
  assert.equal((await fresh.list('notes')).records.length, 50);
  await vault.close();
  await fresh.close();
});

test('a snapshot cut short while storing its chunks leaves no manifest: new devices still start (older snapshot or full history), and the next snapshot reuses the chunks already stored', async () => {
  const objects = new Map<string, Uint8Array>();
  const base = openMemoryRemote(objects);
  let chunkPuts = 0;
  let failAfter = Infinity;
  const stored: string[] = [];
  // The remote (or the process) dies after a few chunks are stored.
  const flaky = {
    ...base,
    put: async (key: string, bytes: Uint8Array, o?: Parameters<typeof base.put>[2]) => {
      if (key.startsWith('blobs/chunks/') && ++chunkPuts > failAfter) throw new Error('connection lost');
      await base.put(key, bytes, o);
      if (key.startsWith('blobs/chunks/')) stored.push(key);
    },
  };
  const { vault, recoveryCode } = await Vault.create({ store: openMemoryStore(), remote: flaky, remoteUrl: 'memory:', deps: deps(3), snapshotEvery: false });
  for (let i = 0; i < 400; i++) await vault.put('notes', `n${i}`, { title: `note ${i}`, body: `${i}`.repeat(200) });
  await vault.sync();
  failAfter = 3;
  await assert.rejects(vault.snapshot(), /connection lost/);
  assert.deepEqual(snapshotsIn(objects), []);
  const before = new Set(stored);
  assert.equal(before.size, 3);
  const fresh = await Vault.restore({
    store: openMemoryStore(),
    remote: openMemoryRemote(objects),
    remoteUrl: 'memory:',
    recoveryCode,
    deps: deps(4),
    snapshotEvery: false,
  });
  assert.equal((await fresh.sync()).warnings, undefined);
  assert.equal((await fresh.list('notes')).records.length, 400);
  failAfter = Infinity;
  const done = await vault.snapshot();
  // Only the chunks the first attempt did not store are sent.
  const sent = stored.slice(3);
  assert.ok(sent.length > 0 && sent.every((k) => !before.has(k)), JSON.stringify({ before: [...before], sent }));
  assert.ok(done.uploaded > 0);
  const later = await Vault.restore({
    store: openMemoryStore(),
    remote: openMemoryRemote(objects),
    remoteUrl: 'memory:',
    recoveryCode,
    deps: deps(5),
    snapshotEvery: false,
  });
  assert.equal((await later.sync()).warnings, undefined);
  assert.equal((await later.list('notes')).records.length, 400);
  for (const v of [vault, fresh, later]) await v.close();
});

test('two snapshots in the same millisecond get two keys: the second does not report the first one as its own', async () => {
  const objects = new Map<string, Uint8Array>();
  const { vault } = await Vault.create({
    store: openMemoryStore(),
    remote: openMemoryRemote(objects),
    remoteUrl: 'memory:',
    deps: { random: seededRandom(6), now: () => T0 },
    snapshotEvery: false,
  });
  await vault.put('notes', 'a', { v: 1 });
  const first = await vault.snapshot();
  await vault.put('notes', 'b', { v: 2 });
  const second = await vault.snapshot();
  assert.notEqual(first.snapshot, second.snapshot);
  assert.deepEqual(snapshotsIn(objects).sort(), [first.snapshot, second.snapshot].sort());
  await vault.close();
});
