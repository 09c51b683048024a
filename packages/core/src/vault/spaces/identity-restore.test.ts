import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KithError } from '../../base/errors.js';
import { Vault } from '../vault.js';
import { Device, invite, newPerson, World } from './people.test.support.js';

/**
 * A person with one device and a space 'Home' shared with Bob, holding one
 * record, synced; the device then lost. Returns how to restore. (Bob's
 * device shares the space's key with the restored device: space keys are
 * sealed to devices, not to the person.)
 */
async function personWithSpace(
  world: World,
  o: { password?: string; rotate?: boolean } = {},
): Promise<{ code: string; personId: string; spaceId: string; bob: Vault }> {
  const first = new Device(world, 'memory://ana', 'ana', 1);
  const made = await Vault.create({ ...first.options(), remoteUrl: first.url, deviceName: 'ana' });
  const v = made.vault;
  let code = made.recoveryCode;
  const { spaceId } = await v.spaces.create('Home');
  const bob = (await newPerson(world, 'bob', 2)).vault;
  await invite(v, 'Home', bob, 'writer', 'Bob');
  if (o.password) await v.devices.setPassword(o.password);
  if (o.rotate) code = await v.devices.rotateRecoveryCode();
  await v.space('Home').put('notes', 'n1', { text: 'shared' });
  await v.sync();
  const personId = (await v.spaces.members('Home')).find((m) => m.role === 'admin')!.personId;
  await v.close(); // every device gone: nothing of `first` is used again
  return { code, personId, spaceId, bob };
}

async function restoreAndRead(world: World, how: { recoveryCode: string } | { password: string }, expected: { personId: string; spaceId: string; bob: Vault }) {
  const d = new Device(world, 'memory://ana', 'ana-new', 7);
  const v = await Vault.restore({ ...d.options(), remoteUrl: d.url, deviceName: 'ana-new', ...how });
  await v.sync();
  const spaces = await v.spaces.list();
  assert.deepEqual(
    spaces.map((s) => s.spaceId),
    [expected.spaceId],
  );
  const members = await v.spaces.members('Home');
  assert.ok(
    members.some((m) => m.personId === expected.personId && m.role === 'admin'),
    'the same person, not a new one',
  );
  await expected.bob.sync(); // seals the space's key to the newly certified device
  await v.sync();
  assert.deepEqual(await v.space('Home').get('notes', 'n1'), { text: 'shared', id: 'n1' });
  await v.space('Home').put('notes', 'n2', { text: 'written after the restore' });
  await v.sync();
  await v.close();
  await expected.bob.close();
}

test('a person who lost every device keeps their identity and spaces through the recovery code', async () => {
  const world = new World();
  const made = await personWithSpace(world);
  assert.ok(world.objects('memory://ana').has('keys/identity/recovery'));
  await restoreAndRead(world, { recoveryCode: made.code }, made);
});

test('… through the vault password', async () => {
  const world = new World();
  const made = await personWithSpace(world, { password: 'correct horse battery staple' });
  assert.ok(world.objects('memory://ana').has('keys/identity/password'));
  await restoreAndRead(world, { password: 'correct horse battery staple' }, made);
});

test('… through a rotated recovery code (the old code’s copy replaced)', async () => {
  const world = new World();
  const made = await personWithSpace(world, { rotate: true });
  await restoreAndRead(world, { recoveryCode: made.code }, made);
});

test('a device restored in a vault with no recovery copy of the identity (an old vault) waits for another device, with a clear error', async () => {
  const world = new World();
  const made = await personWithSpace(world);
  world.objects('memory://ana').delete('keys/identity/recovery');
  const d = new Device(world, 'memory://ana', 'ana-new', 7);
  const v = await Vault.restore({ ...d.options(), remoteUrl: d.url, deviceName: 'ana-new', recoveryCode: made.code });
  await v.sync().catch(() => undefined); // the space's sync needs the identity: this device cannot act for the person yet
  await assert.rejects(
    () => v.spaces.create('Other'),
    (e: unknown) => KithError.is(e, ErrorCode.RemoteUnavailable) && e.reason === 'identity-not-sealed',
  );
  await v.close();
  await made.bob.close();
});

test('kith check: the identity sealed to the recovery and password keys is valid, not foreign', async () => {
  const world = new World();
  const first = new Device(world, 'memory://ana', 'ana', 1);
  const { vault: v } = await Vault.create({ ...first.options(), remoteUrl: first.url, deviceName: 'ana' });
  await v.spaces.create('Home');
  await v.devices.setPassword('correct horse battery staple');
  await v.sync();
  const report = await v.check();
  const identityProblems = report.problems.filter((p) => p.key.startsWith('keys/identity/'));
  assert.deepEqual(identityProblems, []);
  assert.equal(report.checked.identities, 3, 'the device, recovery and password copies');
  await v.devices.removePassword();
  assert.ok(!world.objects('memory://ana').has('keys/identity/password'), 'removing the password deletes its copy');
  await v.close();
});

test('a vault whose identity has no recovery copy (an old vault) gets one from a device holding it, on its next space operation', async () => {
  const world = new World();
  const first = new Device(world, 'memory://ana', 'ana', 1);
  const made = await Vault.create({ ...first.options(), remoteUrl: first.url, deviceName: 'ana' });
  await made.vault.spaces.create('Home');
  await made.vault.close();
  world.objects('memory://ana').delete('keys/identity/recovery');
  const v = await Vault.open(first.options());
  await v.spaces.create('Work');
  assert.ok(world.objects('memory://ana').has('keys/identity/recovery'));
  await v.close();
  const d = new Device(world, 'memory://ana', 'ana-new', 7);
  const r = await Vault.restore({ ...d.options(), remoteUrl: d.url, deviceName: 'ana-new', recoveryCode: made.recoveryCode });
  assert.ok(world.objects('memory://ana').has('keys/identity/' + (await r.devices.list()).find((x) => x.current)!.deviceId), 'sealed to the restored device');
  await r.close();
});
