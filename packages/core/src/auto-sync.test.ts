import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from './deps.js';
import type { PutOptions, Remote } from './remote.js';
import { newMemoryStoreData, openMemoryStore } from './testing/memory-store.js';
import { openMemoryRemote } from './testing/memory-remote.js';
import { Vault } from './vault.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('stopping auto-sync while a round finishes does not wait out the interval', async () => {
  const inner = openMemoryRemote(new Map());
  // Head writes (a round's last step) that take a while and complete even though the caller gave up,
  // as a request already on the wire does: the round succeeds after stop().
  const slow = Object.assign(Object.create(inner) as Remote, {
    put: async (key: string, bytes: Uint8Array, o: PutOptions = {}) => {
      if (key.startsWith('heads/')) await sleep(300);
      return inner.put(key, bytes, o.ifAbsent ? { ifAbsent: true } : {});
    },
  });
  const { vault } = await Vault.create({ store: openMemoryStore(newMemoryStoreData()), remote: slow, remoteUrl: 'memory:', deps: { random: seededRandom(3) } });
  await vault.put('n', 'x', { v: 1 });
  const auto = vault.startAutoSync({ intervalMs: 3_600_000 });
  await sleep(150);
  const stopped = await Promise.race([auto.stop().then(() => 'stopped'), sleep(5000).then(() => 'hung')]);
  assert.equal(stopped, 'stopped');
  await vault.close();
});
