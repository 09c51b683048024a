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
