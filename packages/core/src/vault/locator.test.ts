import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { newRecoveryCode, vaultLocator } from '../crypto/locator.js';
import { newMemoryStoreData, openMemoryStore } from '../testing/memory-store.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { Vault } from './vault.js';

test('Vault.create with a code made beforehand: the vault opens with that code, found under its locator', async () => {
  // One "relay": vault name → that vault's objects.
  const relay = new Map<string, Map<string, Uint8Array>>();
  const at = (name: string): Map<string, Uint8Array> => relay.get(name) ?? relay.set(name, new Map()).get(name)!;
  const code = newRecoveryCode();
  const sloppy = code.toLowerCase().replace(/-/g, ' ');
  const created = await Vault.create({
    store: openMemoryStore(newMemoryStoreData()),
    remote: openMemoryRemote(at(vaultLocator(sloppy))),
    remoteUrl: `memory:${vaultLocator(sloppy)}`,
    recoveryCode: sloppy,
    deps: { random: seededRandom(3) },
  });
  assert.equal(created.recoveryCode, code, 'handed back in its canonical form');
  await created.vault.put('notes', 'n1', { title: 'found by the code alone' });
  await created.vault.sync();
  await created.vault.close();
  assert.deepEqual([...relay.keys()], [vaultLocator(code)]);

  // Another device knows only the code: it computes the name and restores as usual.
  const restored = await Vault.restore({
    store: openMemoryStore(newMemoryStoreData()),
    remote: openMemoryRemote(at(vaultLocator(code))),
    remoteUrl: `memory:${vaultLocator(code)}`,
    recoveryCode: code,
  });
  await restored.sync();
  assert.deepEqual(await restored.get('notes', 'n1'), { id: 'n1', title: 'found by the code alone' });
  await restored.close();
});

test('Vault.create with a mistyped code: KITH_BAD_RECOVERY_CODE, nothing written to the store or the remote', async () => {
  const data = newMemoryStoreData();
  const objects = new Map<string, Uint8Array>();
  const store = openMemoryStore(data);
  await assert.rejects(Vault.create({ store, remote: openMemoryRemote(objects), remoteUrl: 'memory:', recoveryCode: 'ABCD-EFGH' }), (e: unknown) =>
    KithError.is(e, ErrorCode.BadRecoveryCode),
  );
  assert.equal(objects.size, 0);
  assert.equal(await Vault.readConfig(store), undefined);
});
