import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KithError } from '../base/errors.js';
import { Vault } from './vault.js';
import { Device, World } from './spaces/people.test.support.js';

test('vault.log() and a space’s log() leave the reserved _kith. collections out (also under a limit), unless reserved: true asks', async () => {
  const world = new World();
  const d = new Device(world, 'memory://ana', 'ana', 1);
  const { vault: v } = await Vault.create({ ...d.options(), remoteUrl: d.url, deviceName: 'ana' });
  try {
    await v.put('notes', 'n1', { text: 'one' });
    await v.setRetention('notes', { days: 30 });
    await v.spaces.create('Home'); // the directory (and keyring) in the personal space, names in the space
    await v.space('Home').put('notes', 'h1', { text: 'at home' });
    const collections = (entries: { collection: string }[]): string[] => [...new Set(entries.map((e) => e.collection))].sort();

    assert.deepEqual(collections(await v.log()), ['notes']);
    assert.deepEqual(
      (await v.log({ limit: 1 })).map((e) => [e.collection, e.id]),
      [['notes', 'n1']],
      'the newest app entry, though reserved ones are newer',
    );
    const all = collections(await v.log({ reserved: true }));
    assert.ok(all.includes('notes') && all.includes('_kith.spaces') && all.some((c) => c.startsWith('_kith.') && c !== '_kith.spaces'), all.join());
    assert.ok((await v.log({ collection: '_kith.spaces', reserved: true })).length > 0);
    await assert.rejects(v.log({ collection: '_kith.spaces' }), (e) => KithError.is(e, ErrorCode.BadName));

    assert.deepEqual(collections(await v.space('Home').log()), ['notes']);
    assert.ok(collections(await v.space('Home').log({ reserved: true })).includes('_kith.names'));
  } finally {
    await v.close();
  }
});
