import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openMemoryStore } from '../testing/memory-store.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { Vault } from './vault.js';

// Reserved `_kith.` collections (retention rules, the spaces directory) are the engine's: an export (and so a
// backup) lists the app's records only. Before, `list` refused the reserved name and the whole export failed.
test('exportRecords leaves the reserved collections out instead of failing on them', async () => {
  const { vault } = await Vault.create({ store: openMemoryStore(), remote: openMemoryRemote(), remoteUrl: 'memory:' });
  try {
    await vault.put('notes', 'n1', { text: 'hello' });
    await vault.setRetention('notes', { days: 30 });
    const pages = [];
    for await (const page of vault.exportRecords()) pages.push(page);
    assert.deepEqual(pages, [{ collection: 'notes', records: [{ text: 'hello', id: 'n1' }] }]);
  } finally {
    await vault.close();
  }
});
