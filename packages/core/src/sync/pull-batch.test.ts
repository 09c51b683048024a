import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import type { Remote, RemoteCallOptions } from '../ports/remote.js';
import { newMemoryStoreData, openMemoryStore } from '../testing/memory-store.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { Vault } from '../vault/vault.js';
import { PULL_BATCH } from './context.js';

/** A memory remote with a batched read, counting how reads arrive. */
function batchingRemote(objects: Map<string, Uint8Array>): Remote & { batches: number; segmentGets: number } {
  const inner = openMemoryRemote(objects);
  const r = Object.assign(Object.create(inner) as Remote, {
    batches: 0,
    segmentGets: 0,
    get: (key: string, o?: RemoteCallOptions) => {
      if (key.startsWith('segments/')) r.segmentGets++;
      return inner.get(key, o);
    },
    getMany: async (keys: readonly string[], o?: RemoteCallOptions) => {
      r.batches++;
      return new Map(await Promise.all(keys.map(async (k) => [k, await inner.get(k, o)] as const)));
    },
  });
  return r;
}

test('pull reads segments through getMany in batches when the remote has one', async () => {
  const objects = new Map<string, Uint8Array>();
  const deps = { random: seededRandom(11) };
  const { vault: a, recoveryCode } = await Vault.create({
    store: openMemoryStore(newMemoryStoreData()),
    remote: openMemoryRemote(objects),
    remoteUrl: 'memory:',
    deps,
  });
  const SEGMENTS = PULL_BATCH * 2 + 3;
  for (let i = 0; i < SEGMENTS; i++) {
    await a.put('notes', `n${i}`, { i });
    assert.equal((await a.push()).pushed, 1);
  }
  const remote = batchingRemote(objects);
  const b = await Vault.restore({ store: openMemoryStore(newMemoryStoreData()), remote, remoteUrl: 'memory:', recoveryCode, deps });
  await b.pull();
  assert.equal((await b.list('notes', { limit: 1000 })).records.length, SEGMENTS, 'every segment applied');
  assert.equal(remote.batches, Math.ceil(SEGMENTS / PULL_BATCH), 'one batched read per PULL_BATCH segments');
  assert.equal(remote.segmentGets, 0, 'no single gets for segments');
  await a.close();
  await b.close();
});
