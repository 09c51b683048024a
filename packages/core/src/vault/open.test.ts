import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import { signingKeyFromSeed } from '../crypto/curves.js';
import { verifyRemoteAuth } from '../identity/remote-auth.js';
import type { DeviceKeyRemote } from '../ports/capabilities.js';
import type { RemoteDeviceKey } from '../ports/remote.js';
import { META, readMeta, unb64, type DeviceMeta } from '../ports/store-meta.js';
import { newMemoryStoreData, openMemoryStore } from '../testing/memory-store.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { Vault } from './vault.js';

// An opened vault takes its public key from its registry rather than deriving it from the seed (no curve code at
// open): it must still be the seed's, so the relay, which checks signatures against the registry, admits it.
test("an opened vault lends its remote its own device key: the seed's public key, and challenge signatures that verify", async () => {
  const objects = new Map<string, Uint8Array>();
  const data = newMemoryStoreData();
  const made = await Vault.create({ store: openMemoryStore(data), remote: openMemoryRemote(objects), remoteUrl: 'memory:', deps: { random: seededRandom(3) } });
  await made.vault.close();
  const lent: RemoteDeviceKey[] = [];
  const remote = Object.assign(openMemoryRemote(objects), { useDeviceKey: (k: RemoteDeviceKey) => void lent.push(k) }) satisfies DeviceKeyRemote;
  const store = openMemoryStore(data);
  const seed = unb64((await store.read((tx) => readMeta<DeviceMeta>(tx, META.device)))!.signSeed);
  const vault = await Vault.open({ store, remote });
  await vault.sync();
  assert.equal(lent.length, 1);
  const key = lent[0]!;
  assert.equal(key.vaultId, vault.vaultId);
  assert.equal(key.signer, vault.deviceId);
  assert.deepEqual(key.signPub, signingKeyFromSeed(seed).pub);
  const challenge = new Uint8Array(32).fill(9);
  assert.equal(await verifyRemoteAuth(vault.vaultId, key.signPub, challenge, await key.sign(challenge)), true);
  await vault.close();
});
