import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { generateDeviceKeys } from '../crypto/index.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { DeviceCertificates, decodeDeviceCert, deviceCertKey, encodeDeviceCert, publishDeviceCert, type CertifiedDevice } from './device-cert.js';
import { appendMembership, createSpace } from './membership.js';
import { checkWriter } from './writer.js';
import { newPersonKeys, openIdentity, personIdOf, personKeysFromSecret, publishIdentity, readOwnIdentity, sealIdentity, sealedIdentityKey } from './person.js';

const is = (code: ErrorCode) => (e: unknown) => KithError.is(e, code);
const integrity = (e: unknown) => e instanceof KithError && (e.code.startsWith('KITH_INTEGRITY_') || e.code === ErrorCode.UnsupportedFormat);
const random = seededRandom(11);
const vaultId = 'ab'.repeat(16);
const laptop = generateDeviceKeys(random);
const phone = generateDeviceKeys(random);
const tablet = generateDeviceKeys(random);
const person = newPersonKeys(random);
const signers = (id: string) => (id === laptop.deviceId ? laptop.sign.pub : undefined);

test('person: the keys and the id follow from the secret; the id is the signing key’s', () => {
  const again = personKeysFromSecret(person.secret);
  assert.deepEqual(again.signPub, person.signPub);
  assert.deepEqual(again.boxPub, person.boxPub);
  assert.equal(person.personId, personIdOf(person.signPub));
  assert.match(person.personId, /^[0-9a-f]{32}$/);
  assert.notEqual(newPersonKeys(random).personId, person.personId);
});

test('sealed identity: a device of the person opens it; another recipient, signer or vault does not', async () => {
  const bytes = await sealIdentity({
    vaultId,
    person,
    recipientId: phone.deviceId,
    recipientBoxPub: phone.box.pub,
    signerId: laptop.deviceId,
    signerSeed: laptop.sign.seed,
    random,
  });
  const args = { vaultId, recipientId: phone.deviceId, recipientBoxSecret: phone.box.secret, signerPub: signers };
  const { person: opened, signerId } = await openIdentity(bytes, args);
  assert.equal(signerId, laptop.deviceId);
  assert.equal(opened.personId, person.personId);
  assert.deepEqual(opened.sign.seed, person.sign.seed);
  await assert.rejects(openIdentity(bytes, { ...args, recipientId: tablet.deviceId, recipientBoxSecret: tablet.box.secret }), is(ErrorCode.IntegrityCorrupt));
  await assert.rejects(openIdentity(bytes, { ...args, recipientBoxSecret: tablet.box.secret }), is(ErrorCode.IntegrityCorrupt));
  await assert.rejects(openIdentity(bytes, { ...args, signerPub: () => undefined }), is(ErrorCode.IntegrityUnknownSigner));
  await assert.rejects(openIdentity(bytes, { ...args, vaultId: 'cd'.repeat(16) }), is(ErrorCode.IntegrityCorrupt));
  await fc.assert(
    fc.asyncProperty(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 7 }), async (at, bit) => {
      const t = bytes.slice();
      t[at]! ^= 1 << bit;
      await assert.rejects(openIdentity(t, args), integrity);
    }),
    { numRuns: 150 },
  );
});

test('sealed identity: an admitted device sealing another secret under the person’s public keys is caught', async () => {
  const other = newPersonKeys(random);
  const forged = await sealIdentity({
    vaultId,
    person: { ...other, personId: person.personId, signPub: person.signPub, boxPub: person.boxPub },
    recipientId: phone.deviceId,
    recipientBoxPub: phone.box.pub,
    signerId: laptop.deviceId,
    signerSeed: laptop.sign.seed,
    random,
  });
  await assert.rejects(
    openIdentity(forged, { vaultId, recipientId: phone.deviceId, recipientBoxSecret: phone.box.secret, signerPub: signers }),
    /not the identity it names/,
  );
});

const cert = (d: { deviceId: string; sign: { pub: Uint8Array }; box: { pub: Uint8Array } }): CertifiedDevice => ({
  deviceId: d.deviceId,
  signPub: d.sign.pub,
  boxPub: d.box.pub,
});

test('device certificates: versions chain; "is device X a device of P at version v" follows them', async () => {
  const remote = openMemoryRemote();
  const mine = new DeviceCertificates(person);
  assert.deepEqual(await publishDeviceCert(remote, mine, person, [cert(phone), cert(laptop)], 1), { version: 1, written: true });
  assert.deepEqual(await publishDeviceCert(remote, mine, person, [cert(laptop), cert(tablet)], 2), { version: 2, written: true });
  // Another member reads them from the space.
  const theirs = new DeviceCertificates(person);
  await theirs.refresh(remote);
  assert.equal(theirs.version, 2);
  assert.ok(theirs.deviceAt(phone.deviceId, 1));
  assert.equal(theirs.deviceAt(phone.deviceId, 2), undefined, 'revoked in version 2');
  assert.equal(theirs.deviceAt(tablet.deviceId, 1), undefined);
  assert.deepEqual(theirs.deviceAt(tablet.deviceId, 2)?.signPub, tablet.sign.pub);
  assert.equal(theirs.deviceAt(laptop.deviceId, 3), undefined, 'a version not seen proves nothing');
  assert.deepEqual(
    theirs.at(1)!.devices.map((d) => d.deviceId),
    [phone.deviceId, laptop.deviceId].sort(),
  );
  // Two devices of the person racing for the next version: one writes it, the other learns it lost.
  const a = new DeviceCertificates(person);
  const b = new DeviceCertificates(person);
  await a.refresh(remote);
  await b.refresh(remote);
  const [ra, rb] = await Promise.all([publishDeviceCert(remote, a, person, [cert(laptop)], 3), publishDeviceCert(remote, b, person, [cert(tablet)], 3)]);
  assert.deepEqual([ra.written, rb.written].sort(), [false, true]);
  assert.equal(a.version, 3);
  assert.deepEqual(a.at()!.devices, b.at()!.devices);
});

test('device certificates: tampering, another person’s signature, replay, rollback and forks are refused', async () => {
  const remote = openMemoryRemote();
  const mine = new DeviceCertificates(person);
  await publishDeviceCert(remote, mine, person, [cert(phone), cert(laptop)], 1);
  await publishDeviceCert(remote, mine, person, [cert(laptop)], 2);
  const v1 = (await remote.get(deviceCertKey(person.personId, 1)))!;
  const v2 = (await remote.get(deviceCertKey(person.personId, 2)))!;
  await fc.assert(
    fc.asyncProperty(fc.nat(v1.length - 1), fc.integer({ min: 0, max: 7 }), async (at, bit) => {
      const t = v1.slice();
      t[at]! ^= 1 << bit;
      await assert.rejects(decodeDeviceCert(t, person, { version: 1, prevHash: new Uint8Array(32) }), integrity);
    }),
    { numRuns: 150 },
  );
  // Signed by someone else for this person: refused.
  const mallory = newPersonKeys(random);
  const { bytes: forged } = await encodeDeviceCert(
    { personId: mallory.personId, version: 1, prevHash: new Uint8Array(32), at: 1, devices: [cert(tablet)] },
    mallory,
  );
  await assert.rejects(new DeviceCertificates(person).accept(forged), is(ErrorCode.IntegrityCorrupt));
  // Version 1 replayed as version 2.
  const replay = new DeviceCertificates(person);
  await replay.accept(v1);
  await assert.rejects(replay.accept(v1), is(ErrorCode.IntegrityChain));
  // Rolled back behind a version seen before (the revoking version 2 withheld), or forked there.
  const pin = { version: mine.version, hash: mine.hash };
  replay.checkPin({ version: 1, hash: (await decodeDeviceCert(v1, person, { version: 1, prevHash: new Uint8Array(32) })).hash });
  assert.throws(() => replay.checkPin(pin), is(ErrorCode.IntegrityRollback));
  const { bytes: otherV2 } = await encodeDeviceCert({ personId: person.personId, version: 2, prevHash: replay.hash, at: 9, devices: [cert(phone)] }, person);
  const fork = new DeviceCertificates(person);
  await fork.accept(v1);
  await fork.accept(otherV2);
  assert.throws(() => fork.checkPin(pin), is(ErrorCode.IntegrityChain));
  await replay.accept(v2);
  replay.checkPin(pin);
});

test('sealed identity: published to every device of the vault, each opens its own; an object raced in first is replaced', async () => {
  const remote = openMemoryRemote();
  await remote.put(sealedIdentityKey(tablet.deviceId), new Uint8Array([1, 2, 3]));
  await publishIdentity(remote, { vaultId, person, signerId: laptop.deviceId, signerSeed: laptop.sign.seed, random }, [
    { deviceId: phone.deviceId, boxPub: phone.box.pub },
    { deviceId: tablet.deviceId, boxPub: tablet.box.pub },
  ]);
  for (const d of [phone, tablet]) {
    const own = await readOwnIdentity(remote, { vaultId, recipientId: d.deviceId, recipientBoxSecret: d.box.secret, signerPub: signers });
    assert.equal(own?.personId, person.personId);
  }
  assert.equal(await readOwnIdentity(remote, { vaultId, recipientId: laptop.deviceId, recipientBoxSecret: laptop.box.secret, signerPub: signers }), null);
});

test('checkWriter: a segment’s writer is a certified device of a person who could write at the named membership seq', async () => {
  const remote = openMemoryRemote();
  const d = { random: seededRandom(12), now: () => 1 };
  const admin = newPersonKeys(random);
  const m = await createSpace(remote, admin, d);
  await appendMembership(remote, m, admin, { kind: 'add', person, role: 'reader' }, d);
  await appendMembership(remote, m, admin, { kind: 'role', personId: person.personId, role: 'writer' }, d);
  const certs = new DeviceCertificates(person);
  await publishDeviceCert(remote, certs, person, [cert(phone), cert(laptop)], 1);
  await publishDeviceCert(remote, certs, person, [cert(laptop)], 2);
  const claim = { personId: person.personId, deviceId: laptop.deviceId, signPub: laptop.sign.pub, membershipSeq: 3, certVersion: 2 };
  checkWriter(m, certs, claim);
  checkWriter(m, certs, { ...claim, deviceId: phone.deviceId, signPub: phone.sign.pub, certVersion: 1 });
  const refused = (reason: string) => (e: unknown) => KithError.is(e, ErrorCode.IntegrityUnknownSigner) && e.reason === reason;
  assert.throws(() => checkWriter(m, certs, { ...claim, membershipSeq: 2 }), refused('not-a-writer'), 'a reader then');
  assert.throws(() => checkWriter(m, certs, { ...claim, membershipSeq: 4 }), refused('not-a-writer'), 'a seq not verified yet');
  assert.throws(() => checkWriter(m, certs, { ...claim, deviceId: phone.deviceId, signPub: phone.sign.pub }), refused('not-certified'), 'dropped in version 2');
  assert.throws(() => checkWriter(m, certs, { ...claim, signPub: tablet.sign.pub }), refused('not-certified'), 'another key');
  assert.throws(() => checkWriter(m, certs, { ...claim, certVersion: 3 }), refused('not-certified'), 'a version not verified yet');
});
