import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signingKeyFromSeed } from '../../crypto/index.js';
import { readOwnIdentity, sealedIdentityKey } from '../../spaces/person.js';
import { META, readMeta, unb64, type DeviceMeta, type VaultMeta } from '../../ports/store-meta.js';
import { openMemoryStore } from '../../testing/memory-store.js';
import { newPerson, pairDevice, World, type Device } from './people.test.support.js';

async function metaOf(d: Device): Promise<{ device: DeviceMeta; vault: VaultMeta }> {
  return openMemoryStore(d.data).read(async (tx) => ({
    device: (await readMeta<DeviceMeta>(tx, META.device))!,
    vault: (await readMeta<VaultMeta>(tx, META.vault))!,
  }));
}

/** The personId of the identity sealed to `device`, opened with its keys (signers: the given devices), or null. */
async function personOf(world: World, device: Device, signers: readonly Device[]): Promise<string | null> {
  const { device: me, vault } = await metaOf(device);
  const pubs = new Map<string, Uint8Array>();
  for (const s of signers) {
    const m = (await metaOf(s)).device;
    pubs.set(m.deviceId, signingKeyFromSeed(unb64(m.signSeed)).pub);
  }
  const person = await readOwnIdentity(world.remote(device.url), {
    vaultId: vault.vaultId,
    recipientId: me.deviceId,
    recipientBoxSecret: unb64(me.boxSecret),
    signerPub: (id) => pubs.get(id),
  });
  return person?.personId ?? null;
}

test('Vault.create seals a person identity to the first device; pairing seals the same one to the new device', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 1);
  const first = await personOf(world, a.device, [a.device]);
  assert.match(first ?? '', /^[0-9a-f]{32}$/);
  const b = await pairDevice(a.vault, a.device, 'ana-phone', 2);
  assert.equal(await personOf(world, b.device, [a.device]), first);
  await a.vault.close();
  await b.vault.close();
});

test('a vault made before identities gets one on first need (here: pairing), sealed to both devices, the same person', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 1);
  const objects = world.objects(a.device.url);
  for (const k of [...objects.keys()]) if (k.startsWith('keys/identity/')) objects.delete(k);
  assert.equal(await personOf(world, a.device, [a.device]), null);
  const b = await pairDevice(a.vault, a.device, 'ana-phone', 2);
  const p = await personOf(world, a.device, [a.device]);
  assert.ok(p, 'created and sealed to the admitting device');
  assert.equal(await personOf(world, b.device, [a.device]), p, 'and to the new one');
  assert.ok(objects.get(sealedIdentityKey(b.vault.deviceId)));
  await a.vault.close();
  await b.vault.close();
});
