import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { newMemoryStoreData, openMemoryStore } from '../testing/memory-store.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { Vault } from './vault.js';

test('a local passphrase seals the device keys at rest: locked without it, refused when wrong, removable', async () => {
  const data = newMemoryStoreData();
  const objects = new Map<string, Uint8Array>();
  const deps = { random: seededRandom(5) };
  const { vault } = await Vault.create({
    store: openMemoryStore(data),
    remote: openMemoryRemote(objects),
    remoteUrl: 'memory:',
    localPassphrase: 'correct horse',
    deps,
  });
  await vault.put('n', 'x', { v: 1 });
  await vault.sync();
  await vault.close();
  const stored = JSON.stringify([...data.meta.values()]);
  const device = JSON.parse(data.meta.get('device')!) as { signSeed: string; sealed?: object };
  assert.equal(device.signSeed, '');
  assert.ok(device.sealed);
  assert.ok(!/"0":"[A-Za-z0-9+/=]{40,}"/.test(stored), 'no epoch key in clear');
  const open = (localPassphrase?: string) =>
    Vault.open({ store: openMemoryStore(data), remote: openMemoryRemote(objects), ...(localPassphrase !== undefined ? { localPassphrase } : {}), deps });
  await assert.rejects(open(), (e: unknown) => KithError.is(e, ErrorCode.Locked));
  await assert.rejects(open('wrong horse'), (e: unknown) => KithError.is(e, ErrorCode.WrongPassphrase));
  const v = await open('correct horse');
  await v.put('n', 'y', { v: 2 });
  assert.equal((await v.sync()).pushed, 1, 'the unsealed keys sign and encrypt');
  await v.setLocalPassphrase(null);
  await v.close();
  const plain = await open();
  assert.deepEqual(await plain.get('n', 'y'), { id: 'y', v: 2 });
  await plain.close();
});
