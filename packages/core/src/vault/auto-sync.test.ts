import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import type { PutOptions, Remote } from '../ports/remote.js';
import { newMemoryStoreData, openMemoryStore } from '../testing/memory-store.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
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

test('a push notice that lands while a round runs starts another round at once (it is not dropped)', async () => {
  const data = new Map<string, Uint8Array>();
  const inner = openMemoryRemote(data);
  let notify: (() => void) | undefined;
  let slowLists = 0;
  // A's remote: can watch (the test plays the relay's notice), and its first heads listing is a
  // snapshot taken before B pushes that arrives late, so the round it belongs to misses B's change.
  const watching = Object.assign(Object.create(inner) as Remote, {
    capabilities: { ...inner.capabilities, watch: true },
    watch: (_prefix: string, onChange: () => void) => ((notify = onChange), () => (notify = undefined)),
    list: async (prefix: string, o?: Parameters<Remote['list']>[1]) => {
      const items = await inner.list(prefix, o);
      if (prefix === 'heads/' && slowLists++ === 1) await sleep(300);
      return items;
    },
  });
  const { vault: a, recoveryCode } = await Vault.create({
    store: openMemoryStore(newMemoryStoreData()),
    remote: watching,
    remoteUrl: 'memory:',
    deps: { random: seededRandom(5) },
  });
  const b = await Vault.restore({
    store: openMemoryStore(newMemoryStoreData()),
    remote: openMemoryRemote(data),
    remoteUrl: 'memory:',
    recoveryCode,
    deviceName: 'b',
    deps: { random: seededRandom(6) },
  });
  await a.sync(); // the first heads listing, at normal speed
  const auto = a.startAutoSync({ intervalMs: 3_600_000 }); // rounds come from notices only
  try {
    await sleep(100); // the first round is inside its slow listing now
    await b.put('n', 'from-b', { v: 1 });
    await b.push();
    notify?.(); // the relay tells A while A's round still runs
    const end = Date.now() + 3000;
    while (!(await a.get('n', 'from-b')) && Date.now() < end) await sleep(20);
    assert.deepEqual(await a.get('n', 'from-b'), { id: 'from-b', v: 1 }, 'a second round pulled B\u2019s change');
  } finally {
    await auto.stop();
    await Promise.all([a.close(), b.close()]);
  }
});
