import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import { newMemoryStoreData, openMemoryStore } from '../testing/memory-store.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { Vault } from './vault.js';
import type { Doc } from './vault-types.js';

/** Resolves once `pred` holds, polling; fails after a generous while. */
async function eventually(pred: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 60_000;
  while (!(await pred())) {
    if (Date.now() > end) assert.fail(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('changedElsewhere: another instance on the same store wrote; subscriptions re-read and auto-sync pushes the write', async () => {
  const data = newMemoryStoreData();
  const remote = new Map<string, Uint8Array>();
  const { vault: tab1 } = await Vault.create({
    store: openMemoryStore(data),
    remote: openMemoryRemote(remote),
    remoteUrl: 'memory:',
    deps: { random: seededRandom(7) },
  });
  // A second instance on the same store, as a second tab has.
  const tab2 = await Vault.open({ store: openMemoryStore(data), remote: openMemoryRemote(remote) });
  const seen: Doc[][] = [];
  const off = tab1.subscribe('notes', {}, (records) => seen.push(records));
  await eventually(() => seen.length === 1, 'the first listing');
  const auto = tab1.startAutoSync({ intervalMs: 3_600_000 }); // rounds come from changes only, after the first
  try {
    await tab2.put('notes', 'n1', { title: 'from the other tab' });
    // tab1 heard nothing: its subscription has not re-read.
    assert.equal(seen.length, 1);
    tab1.changedElsewhere({ collections: ['notes'], source: 'local' });
    await eventually(() => seen.some((r) => r.length === 1), 'the subscription re-read');
    assert.deepEqual(seen.at(-1), [{ id: 'n1', title: 'from the other tab' }]);
    // And tab1's auto-sync pushed tab2's write (it is in the shared outbox).
    await eventually(async () => (await tab1.status()).pending === 0, 'the write pushed');
  } finally {
    off();
    await auto.stop();
    await tab1.close();
    await tab2.close();
  }
});
