import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signingKeyFromSeed } from '../../crypto/index.js';
import { readOwnIdentity } from '../../spaces/person.js';
import { META, readMeta, unb64, type DeviceMeta, type VaultMeta } from '../../ports/store-meta.js';
import { openMemoryStore } from '../../testing/memory-store.js';
import { concatBytes } from '../../crypto/index.js';
import { Vault } from '../vault.js';
import { Device, newPerson, pairDevice, World } from './people.test.support.js';

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

test('the first space operation creates the person identity, sealed to every device; pairing seals it to a new device', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 1);
  assert.equal(await personOf(world, a.device, [a.device]), null, 'a vault that never used spaces has none');
  const a2 = await pairDevice(a.vault, a.device, 'ana-tablet', 3);
  assert.equal(await personOf(world, a2.device, [a.device]), null, 'pairing creates none');
  await a.vault.spaces.create('Home');
  const first = await personOf(world, a.device, [a.device]);
  assert.match(first ?? '', /^[0-9a-f]{32}$/);
  assert.equal(await personOf(world, a2.device, [a.device]), first, 'sealed to the other device too');
  const b = await pairDevice(a.vault, a.device, 'ana-phone', 2);
  assert.equal(await personOf(world, b.device, [a.device]), first, 'pairing seals the same identity to the new device');
  for (const v of [a.vault, a2.vault, b.vault]) await v.close();
});

test('two devices creating the identity at once end with one person: the loser of the lowest slot takes the winner’s', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 1);
  const b = await pairDevice(a.vault, a.device, 'ana-phone', 2);
  const results = await Promise.allSettled([a.vault.spaces.create('One'), b.vault.spaces.create('Two')]);
  for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { reason?: string }).reason, 'identity-not-sealed');
  assert.ok(results.some((r) => r.status === 'fulfilled'));
  // The loser tries again once the winner sealed the identity to it.
  if (results[0].status === 'rejected') await a.vault.spaces.create('One');
  if (results[1].status === 'rejected') await b.vault.spaces.create('Two');
  const p = await personOf(world, a.device, [a.device, b.device]);
  assert.ok(p);
  assert.equal(await personOf(world, b.device, [a.device, b.device]), p);
  await a.vault.close();
  await b.vault.close();
});

test('a backup of a vault that uses spaces carries the identity sealed to the recovery key (not the devices’ copies) and restores', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 1);
  const { recoveryCode } = await (async () => {
    // newPerson does not keep the code: make the vault again here with one.
    await a.vault.close();
    const d = new Device(world, 'memory://ana2', 'ana', 5);
    const made = await Vault.create({ ...d.options(), remoteUrl: d.url });
    a.vault = made.vault;
    return made;
  })();
  await a.vault.spaces.create('Home');
  await a.vault.put('notes', 'n1', { text: 'kept' });
  await a.vault.sync();
  const parts: Uint8Array[] = [];
  await a.vault.backup({ write: async (bytes) => void parts.push(bytes) });
  const file = concatBytes(...parts);
  const { vault: r } = await Vault.restoreFromBackup({
    store: openMemoryStore(),
    remote: world.remote('memory://restored'),
    remoteUrl: 'memory://restored',
    recoveryCode,
    backup: {
      name: 'b.kbk',
      open: async function* () {
        yield file;
      },
    },
  });
  assert.deepEqual(await r.get('notes', 'n1'), { text: 'kept', id: 'n1' });
  // Changed with backup format version 2 (issue #15/#16): the recovery copy is restored and opened, then sealed to the new device.
  const me = (await r.devices.list()).find((x) => x.current)!.deviceId;
  assert.deepEqual(
    [...world.objects('memory://restored').keys()].filter((k) => k.startsWith('keys/identity/')).sort(),
    [`keys/identity/${me}`, 'keys/identity/recovery'].sort(),
  );
  await r.close();
  await a.vault.close();
});
