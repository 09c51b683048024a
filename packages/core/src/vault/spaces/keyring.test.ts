import { test } from 'node:test';
import { seededRandom } from '../../base/deps.js';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../base/errors.js';
import { SPACE_KEYRING } from '../../model/names.js';
import { b64 } from '../../ports/store-meta.js';
import { peekSegmentEpoch } from '../../format/segment.js';
import { openMemoryStore } from '../../testing/memory-store.js';
import { VaultEmitter } from '../events.js';
import { Records } from '../records.js';
import { Vault } from '../vault.js';
import { writeReserved } from './directory.js';
import { keyringId, keyringKey, readKeyring } from './keyring.js';
import { Device, invite, newPerson, pairDevice, World } from './people.test.support.js';
import fc from 'fast-check';
import { KithError } from '../../base/errors.js';
import { openMemoryRemote } from '../../testing/memory-remote.js';
import { ownDevices, spaceActorOf, testPerson } from '../../testing/space-people.js';
import { spaceDeps } from '../../testing/space-world.js';
import { createSharedSpace } from '../../spaces/space-ops.js';
import { ownEpochKey } from './older-keys.js';

const BLOB = new Uint8Array(200_000).map((_, i) => (i * 13) % 251);

async function note(v: Vault, id: string): Promise<unknown> {
  return (await v.space('Home').get('notes', id))?.['text'];
}

async function blobOf(v: Vault, id: string): Promise<Uint8Array> {
  const ref = (await v.space('Home').get('notes', id))!['file'] as string;
  return new Uint8Array(await new Response(v.space('Home').blobs.get(ref)).arrayBuffer());
}

/**
 * Ana alone in her space 'Home' with one device: a record and a blob in
 * epoch 0, Bob invited then removed (epoch 1, which Bob's devices cannot
 * share with anyone), a record in epoch 1, synced; then the device lost.
 * Nobody else can seal the space's keys to a restored device.
 */
async function soleMember(world: World, o: { password?: string } = {}): Promise<{ code: string; spaceId: string; lost: string }> {
  const first = new Device(world, 'memory://ana', 'ana', 1);
  const made = await Vault.create({ ...first.options(), remoteUrl: first.url, deviceName: 'ana' });
  const v = made.vault;
  if (o.password) await v.devices.setPassword(o.password);
  const { spaceId } = await v.spaces.create('Home');
  const bob = (await newPerson(world, 'bob', 2)).vault;
  await invite(v, 'Home', bob, 'writer', 'Bob');
  await v.space('Home').put('notes', 'n1', { text: 'in epoch 0' });
  const { ref } = await v.space('Home').blobs.put(BLOB, { name: 'b.bin' });
  await v.space('Home').put('notes', 'b1', { file: ref });
  await v.sync();
  const bobId = (await v.spaces.members('Home')).find((m) => m.name === 'Bob')!.personId;
  await v.spaces.remove('Home', bobId);
  await v.space('Home').put('notes', 'n2', { text: 'in epoch 1' });
  await v.sync();
  assert.equal((await v.spaces.members('Home')).length, 1, 'ana is the only member');
  await v.close();
  await bob.close();
  return { code: made.recoveryCode, spaceId, lost: v.deviceId };
}

async function restore(
  world: World,
  name: string,
  seed: number,
  how: { recoveryCode: string } | { password: string },
  device?: (d: Device) => void,
): Promise<Vault> {
  const d = new Device(world, 'memory://ana', name, seed);
  device?.(d);
  return Vault.restore({ ...d.options(), remoteUrl: d.url, deviceName: name, ...how });
}

async function restoreReadsEverything(how: (code: string) => { recoveryCode: string } | { password: string }, password?: string): Promise<void> {
  const world = new World();
  const made = await soleMember(world, password ? { password } : {});
  const r = await restore(world, 'ana-new', 7, how(made.code));
  try {
    await r.sync();
    assert.equal(await note(r, 'n1'), 'in epoch 0');
    assert.equal(await note(r, 'n2'), 'in epoch 1');
    assert.deepEqual(await blobOf(r, 'b1'), BLOB);
    await r.space('Home').put('notes', 'n3', { text: 'written after the restore' });
    await r.sync();
  } finally {
    await r.close();
  }
  // Lost again: the next restored device reads what the first one wrote, and the rest.
  const again = await restore(world, 'ana-third', 9, how(made.code));
  try {
    await again.sync();
    assert.equal(await note(again, 'n3'), 'written after the restore');
    assert.equal(await note(again, 'n1'), 'in epoch 0');
    assert.deepEqual(await blobOf(again, 'b1'), BLOB);
  } finally {
    await again.close();
  }
}

test('a sole member who loses every device restores the space with the recovery code: every record and blob of every epoch, and writes on', async () => {
  await restoreReadsEverything((code) => ({ recoveryCode: code }));
});

test('… and with the vault password', async () => {
  const password = 'correct horse battery staple';
  await restoreReadsEverything(() => ({ password }), password);
});

test('a device the person revoked finds no key of an epoch started after its revocation in anything it can read', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 21);
  const phone = await pairDevice(a.vault, a.device, 'ana-phone', 22);
  try {
    const { spaceId } = await a.vault.spaces.create('Home');
    await phone.vault.sync();
    await a.vault.sync();
    await phone.vault.sync();
    assert.equal((await readKeyring(openMemoryStore(phone.device.data), spaceId)).size, 1, 'the phone holds the keyring of epoch 0');
    const personal = world.objects('memory://ana');
    const segmentsOfAna = (): string[] => [...personal.keys()].filter((k) => k.startsWith(`segments/${a.vault.deviceId}/`)).sort();
    const before = new Set(segmentsOfAna());

    await a.vault.devices.revoke(phone.vault.deviceId);
    await a.vault.sync(); // drops the phone from ana's certificate: a new space epoch, recorded in the keyring
    await a.vault.space('Home').put('notes', 'n1', { text: 'after the phone was lost' });
    await a.vault.sync();
    const ring = await readKeyring(openMemoryStore(a.device.data), spaceId);
    assert.equal(ring.size, 2, 'epoch 1 is in ana’s keyring');
    const key1 = ring.get(1)!['key'] as string;

    await assert.rejects(phone.vault.sync(), { code: 'KITH_REVOKED' });
    assert.ok(!phone.device.everything().includes(key1), 'the phone holds no copy of the new key');
    // What the phone could ever open on the personal remote: epochs sealed to it. Ana's writes since the revocation are under none of them.
    const phoneEpochs = new Set(
      [...personal.keys()].filter((k) => k.startsWith('keys/') && k.endsWith(`/${phone.vault.deviceId}`)).map((k) => Number(k.split('/')[1])),
    );
    const after = segmentsOfAna().filter((k) => !before.has(k));
    assert.ok(after.length > 0);
    for (const k of after) assert.ok(!phoneEpochs.has(peekSegmentEpoch(personal.get(k)!)!), `${k} is under a personal epoch the phone lacks`);
    assert.ok(![...world.objects(`memory://ana/spaces/${spaceId}`).keys()].some((k) => k.startsWith('keys/0000000001/') && k.endsWith(phone.vault.deviceId)));
  } finally {
    await phone.vault.close();
    await a.vault.close();
  }
});

test('a keyring record with another key is refused (KITH_INTEGRITY_CORRUPT) and does not keep the restore from a key sealed by a member', async () => {
  const world = new World();
  const first = new Device(world, 'memory://ana', 'ana', 31);
  const made = await Vault.create({ ...first.options(), remoteUrl: first.url, deviceName: 'ana' });
  const { spaceId } = await made.vault.spaces.create('Home');
  const bob = (await newPerson(world, 'bob', 32)).vault;
  try {
    await invite(made.vault, 'Home', bob, 'writer', 'Bob');
    await made.vault.space('Home').put('notes', 'n1', { text: 'shared' });
    await made.vault.sync();
    await made.vault.close();
    // A device of ana (before it was revoked, say) forges the record of epoch 0: a key that is not the epoch's.
    const store = openMemoryStore(first.data);
    const records = new Records({ store, deps: { now: Date.now }, events: new VaultEmitter(), ctx: { deviceId: made.vault.deviceId } });
    const forged = { space: spaceId, epoch: 0, keyCheck: '00'.repeat(32), key: b64(new Uint8Array(32).fill(7)) };
    await writeReserved(records, SPACE_KEYRING, keyringId(spaceId, 0), forged);
    await store.close();
    // Pushed by a build without spaces (it leaves the spaces alone, so nothing mends the record before the device is lost).
    const { spaceRemotes: _r, spaceStore: _s, ...personalOnly } = first.options();
    const v = await Vault.open(personalOnly);
    await v.sync();
    await v.close();

    let restored: Device | undefined;
    const r = await restore(world, 'ana-new', 34, { recoveryCode: made.recoveryCode }, (d) => (restored = d));
    try {
      await assert.rejects(r.sync(), { code: ErrorCode.IntegrityCorrupt });
      await bob.sync(); // Bob, a member, seals the key to ana's restored (now certified) device
      await r.sync();
      assert.equal(await note(r, 'n1'), 'shared');
      // The restored device holds the right key now: it mends the record.
      const ring = await readKeyring(openMemoryStore(restored!.data), spaceId);
      assert.equal(ring.get(0)?.['keyCheck'] !== forged.keyCheck, true, 'the forged record was replaced');
    } finally {
      await r.close();
    }
  } finally {
    await bob.close();
  }
});

test('the keyring never leaves in plaintext: exports skip it, and the app cannot list it', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 41);
  try {
    const { spaceId } = await a.vault.spaces.create('Home');
    await a.vault.put('notes', 'p1', { text: 'personal' });
    const key = (await readKeyring(openMemoryStore(a.device.data), spaceId)).get(0)!['key'] as string;
    const pages = [];
    for await (const page of a.vault.exportRecords()) pages.push(page);
    assert.deepEqual(
      pages.map((p) => p.collection),
      ['notes'],
    );
    assert.ok(!JSON.stringify(pages).includes(key));
    await assert.rejects(a.vault.list(SPACE_KEYRING), { code: 'KITH_BAD_NAME' });
    await assert.rejects(a.vault.get(SPACE_KEYRING, keyringId(spaceId, 0)), { code: 'KITH_BAD_NAME' });
  } finally {
    await a.vault.close();
  }
});

test('a restored device that then revokes the lost one starts a new epoch and keeps reading and writing', async () => {
  const world = new World();
  const made = await soleMember(world);
  const r = await restore(world, 'ana-new', 7, { recoveryCode: made.code });
  try {
    await r.sync();
    await r.devices.revoke(made.lost);
    await r.sync(); // ana's certificate drops the lost device: epoch 2, which it never gets
    const space = world.objects(`memory://ana/spaces/${made.spaceId}`);
    assert.ok(space.has('epochs/0000000002'));
    assert.ok(![...space.keys()].some((k) => k.startsWith('keys/0000000002/') && k.endsWith(made.lost)));
    await r.space('Home').put('notes', 'n3', { text: 'in epoch 2' });
    await r.sync();
  } finally {
    await r.close();
  }
  const again = await restore(world, 'ana-third', 9, { recoveryCode: made.code });
  try {
    await again.sync();
    assert.deepEqual(await Promise.all(['n1', 'n2', 'n3'].map((id) => note(again, id))), ['in epoch 0', 'in epoch 1', 'in epoch 2']);
    assert.deepEqual(await blobOf(again, 'b1'), BLOB);
  } finally {
    await again.close();
  }
});

test('keyringKey: only the record holding the epoch’s own key opens; anything else is KITH_INTEGRITY_CORRUPT', async () => {
  const alice = testPerson(1, [11]);
  const remote = openMemoryRemote();
  const { spaceId, state } = await createSharedSpace(remote, spaceActorOf(alice), ownDevices(alice.devices), spaceDeps(5));
  const key = (await ownEpochKey(remote, state, spaceActorOf(alice), 0))!;
  const good = { space: spaceId, epoch: 0, keyCheck: '', key: b64(key) };
  assert.deepEqual(keyringKey(state, 0, good), key);
  const field = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.boolean(), fc.base64String());
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        space: fc.oneof(fc.constant(spaceId), field),
        epoch: fc.oneof(fc.constant(0), fc.constant(1), field),
        key: fc.oneof(field, fc.uint8Array({ minLength: 32, maxLength: 32 }).map(b64)),
      }),
      async (fields) => {
        fc.pre(!(fields.space === spaceId && fields.epoch === 0 && fields.key === good.key));
        assert.throws(
          () => keyringKey(state, 0, fields),
          (e: unknown) => KithError.is(e, ErrorCode.IntegrityCorrupt),
        );
      },
    ),
    { numRuns: 300 },
  );
  assert.throws(
    () => keyringKey(state, 1, { ...good, epoch: 1 }),
    (e: unknown) => KithError.is(e, ErrorCode.IntegrityCorrupt),
    'an epoch not verified',
  );
});

test('the keyring outlives compaction and history pruning: a restore from the snapshot alone still opens the space', async () => {
  const world = new World();
  const first = new Device(world, 'memory://ana', 'ana', 51);
  const made = await Vault.create({ ...first.options(), remoteUrl: first.url, deviceName: 'ana', historyDays: 1 });
  const v = made.vault;
  await v.spaces.create('Home');
  await v.space('Home').put('notes', 'n1', { text: 'kept' });
  await v.sync(); // the keyring record's segment: not the newest one after these
  for (let i = 0; i < 2; i++) {
    await v.put('todo', `t${i}`, { i });
    await v.sync();
  }
  await v.snapshot();
  const compacted = await v.compact({ graceHours: 0 });
  assert.ok(compacted.deleted > 0, 'the segments holding the keyring record are gone: only the snapshot carries it');
  await v.close();
  const r = await restore(world, 'ana-new', 52, { recoveryCode: made.recoveryCode });
  try {
    await r.sync();
    assert.equal(await note(r, 'n1'), 'kept');
  } finally {
    await r.close();
  }
});

test('a member who joined someone else’s space keeps it through a restore while the admin stays offline', async () => {
  const world = new World();
  const ana = await newPerson(world, 'ana', 61);
  const first = new Device(world, 'memory://bob', 'bob', 62);
  const made = await Vault.create({ ...first.options(), remoteUrl: first.url, deviceName: 'bob' });
  try {
    await ana.vault.spaces.create('Home');
    const { joined } = await invite(ana.vault, 'Home', made.vault, 'writer', 'Bob');
    assert.equal((await readKeyring(openMemoryStore(first.data), joined.spaceId)).size, 1, 'joining records the key at once');
    await ana.vault.space('Home').put('notes', 'n1', { text: 'from ana' });
    await ana.vault.sync();
    await made.vault.sync();
    assert.equal(await note(made.vault, 'n1'), 'from ana');
    await made.vault.close(); // bob's only device is lost; ana does not sync again
    const d = new Device(world, 'memory://bob', 'bob-new', 63);
    const r = await Vault.restore({ ...d.options(), remoteUrl: d.url, deviceName: 'bob-new', recoveryCode: made.recoveryCode });
    try {
      await r.sync();
      assert.equal(await note(r, 'n1'), 'from ana');
      await r.space('Home').put('notes', 'b1', { text: 'from bob, restored' });
      await r.sync();
    } finally {
      await r.close();
    }
    await ana.vault.sync();
    assert.equal(await note(ana.vault, 'b1'), 'from bob, restored');
  } finally {
    await ana.vault.close();
  }
});

test('retention never expires the keyring: a rule naming it (forged by a device) is ignored', async () => {
  const world = new World();
  const first = new Device(world, 'memory://ana', 'ana', 71);
  const made = await Vault.create({ ...first.options(), remoteUrl: first.url, deviceName: 'ana' });
  const { spaceId } = await made.vault.spaces.create('Home');
  await made.vault.close();
  const store = openMemoryStore(first.data);
  const records = new Records({ store, deps: { now: Date.now }, events: new VaultEmitter(), ctx: { deviceId: made.vault.deviceId } });
  await writeReserved(records, '_kith.retention', SPACE_KEYRING, { days: 1 });
  await store.close();
  const later = Date.now() + 30 * 24 * 3600_000;
  const v = await Vault.open({ ...first.options(), deps: { random: seededRandom(72), now: () => later } });
  try {
    await v.sync();
    assert.deepEqual(await v.retention(), []);
    assert.equal((await readKeyring(openMemoryStore(first.data), spaceId)).size, 1);
  } finally {
    await v.close();
  }
});
