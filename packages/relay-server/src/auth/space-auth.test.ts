import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { ErrorCode } from '@kith/core/adapter';
import {
  appendMembership,
  DeviceCertificates,
  deviceCertKey,
  encodeDeviceCert,
  encodeMembershipEntry,
  encodeSpaceEpoch,
  spaceEpochKey,
  startEpoch,
  membershipKey,
  pushSpaceSegment,
  shareEpochKey,
  spaceSealedKeyKey,
  SPACE_CHAIN_START,
  spaceIdOf,
  spaceSegmentKey,
  SpaceState,
  createSpace,
} from '@kith/core/spaces';
import { openMemoryRemote } from '@kith/core/testing';
import { remoteDeviceKey } from '@kith/core/relay';
import { openRelayRemote } from '@kith/relay';
import { createTestVault, operatorRemote, startTestRelay, type TestRelay } from '../testing/test-vaults.js';
import {
  actorOf,
  call,
  certified,
  certify,
  deps,
  isCode,
  objectUrl,
  personKey,
  relaySpace,
  signInRefusal,
  testPerson,
  tokenFor,
  watchUrl,
  type RelaySpace,
  type TestPerson,
} from '../space-world.test.support.js';

let t: TestRelay;
let space: RelaySpace;

before(async () => {
  t = await startTestRelay();
  space = await relaySpace(t.relay.url);
});
after(async () => {
  await t?.stop();
});

const me = (p: TestPerson) => ({ person: p.keys, deviceId: p.device.deviceId, signSeed: p.device.sign.seed, boxSecret: p.device.box.secret });

/** Every object of the space, copied into a memory remote: a place to make what a modified client could send. */
async function copyOf(s: RelaySpace) {
  const from = operatorRemote(t.db, s.spaceId);
  const copy = openMemoryRemote();
  for (const o of await from.list('')) await copy.put(o.key, (await from.get(o.key))!);
  return copy;
}

describe('relay: space vaults', () => {
  test('the founder signs in as its person and creates the space; members sign in with their devices and persons', async () => {
    const r = space.remote(space.alice);
    const s = await space.state(r);
    assert.equal(s.m.members().length, 3);
    assert.equal(s.epochs.count, 1);
    await r.close();
    for (const p of [space.alice, space.bob, space.carol]) {
      assert.ok(await tokenFor(space.url, space.key(p)));
      assert.ok(await tokenFor(space.url, space.key(p, 'person')));
    }
  });

  test('a relay remote lent the person key, then the device key, signs in again as the device (as the core lends them)', async () => {
    const bob = openRelayRemote(space.url, { pollMs: 3_600_000 });
    bob.useDeviceKey(space.key(space.bob, 'person'));
    assert.ok(await bob.get(membershipKey(1)));
    const head = `heads/${space.bob.device.deviceId}`;
    await assert.rejects(bob.put(head, Uint8Array.of(1)), isCode(ErrorCode.RemoteAuth));
    bob.useDeviceKey(space.key(space.bob));
    await bob.put(head, Uint8Array.of(1));
    assert.deepEqual(await bob.get(head), Uint8Array.of(1));
    await bob.delete(head);
    await bob.close();
  });

  test('a non-member’s sign-in is refused, as device and as person', async () => {
    const dave = testPerson();
    assert.equal(await signInRefusal(space.url, space.key(dave)), ErrorCode.RemoteAuth);
    assert.equal(await signInRefusal(space.url, space.key(dave, 'person')), ErrorCode.RemoteAuth);
    // A signature by another key than the member's is no sign-in either.
    const forged = { ...space.key(dave), signer: space.bob.device.deviceId };
    assert.equal(await signInRefusal(space.url, forged), ErrorCode.RemoteAuth);
  });

  test('a writer’s segment is accepted; a reader’s is refused, and so is a demoted writer’s next one (the relay sees the order of writes)', async () => {
    const s = await relaySpace(t.relay.url);
    const bob = s.remote(s.bob);
    const first = await pushSpaceSegment(bob, { state: new SpaceState(s.spaceId), me: me(s.bob), ops: [], chain: SPACE_CHAIN_START }, deps);
    assert.equal(first.seq, 1);
    // Made in a copy while bob was still a writer (a modified client keeps it for later); carol's, in a copy where she was made one.
    const copy = await copyOf(s);
    await pushSpaceSegment(copy, { state: new SpaceState(s.spaceId), me: me(s.bob), ops: [], chain: first }, deps);
    const later = (await copy.get(spaceSegmentKey(s.bob.device.deviceId, 2)))!;
    const copyState = await new SpaceState(s.spaceId).refresh(copy);
    await appendMembership(copy, copyState.m, s.alice.keys, { kind: 'role', personId: s.carol.keys.personId, role: 'writer' }, deps);
    await pushSpaceSegment(copy, { state: new SpaceState(s.spaceId), me: me(s.carol), ops: [], chain: SPACE_CHAIN_START }, deps);
    const carols = (await copy.get(spaceSegmentKey(s.carol.device.deviceId, 1)))!;

    const carolToken = await tokenFor(s.url, s.key(s.carol));
    const refused = await call('PUT', objectUrl(s.url, spaceSegmentKey(s.carol.device.deviceId, 1)), { token: carolToken, body: carols });
    assert.deepEqual([refused.status, refused.code], [403, ErrorCode.Forbidden]);

    const a = s.remote(s.alice);
    await appendMembership(a, (await s.state(a)).m, s.alice.keys, { kind: 'role', personId: s.bob.keys.personId, role: 'reader' }, deps);
    const bobToken = await tokenFor(s.url, s.key(s.bob));
    const demoted = await call('PUT', objectUrl(s.url, spaceSegmentKey(s.bob.device.deviceId, 2)), { token: bobToken, body: later });
    assert.deepEqual([demoted.status, demoted.code], [403, ErrorCode.Forbidden]);
    assert.equal(await t.db.head(s.spaceId, spaceSegmentKey(s.bob.device.deviceId, 2)), null);
    // Readers still read.
    assert.equal((await call('GET', objectUrl(s.url, spaceSegmentKey(s.bob.device.deviceId, 1)), { token: carolToken })).status, 200);
    await Promise.all([a.close(), bob.close()]);
  });

  test('a segment under another device’s name, or naming another person, is refused', async () => {
    const s = await relaySpace(t.relay.url);
    const copy = await copyOf(s);
    await pushSpaceSegment(copy, { state: new SpaceState(s.spaceId), me: me(s.bob), ops: [], chain: SPACE_CHAIN_START }, deps);
    const bobs = (await copy.get(spaceSegmentKey(s.bob.device.deviceId, 1)))!;
    const alice = await tokenFor(s.url, s.key(s.alice));
    const other = await call('PUT', objectUrl(s.url, spaceSegmentKey(s.bob.device.deviceId, 1)), { token: alice, body: bobs });
    assert.deepEqual([other.status, other.code], [403, ErrorCode.RemoteAuth]);
    const moved = await call('PUT', objectUrl(s.url, spaceSegmentKey(s.alice.device.deviceId, 1)), { token: alice, body: bobs });
    assert.equal(moved.status, 422);
  });

  test('a membership entry by a non-admin is refused; a fork of members/<seq> is refused by put-if-absent', async () => {
    const s = await relaySpace(t.relay.url);
    const a = s.remote(s.alice);
    const state = await s.state(a);
    const dave = testPerson();
    const next = { seq: state.m.seq + 1, prevHash: state.m.hash, at: Date.now() };
    const add = { kind: 'add' as const, personId: dave.keys.personId, signPub: dave.keys.signPub, boxPub: dave.keys.boxPub, role: 'writer' as const };
    const byBob = await encodeMembershipEntry(s.spaceId, { ...next, signer: s.bob.keys.personId, change: add }, s.bob.keys.sign.seed);
    const key = objectUrl(s.url, membershipKey(next.seq));
    const bob = await tokenFor(s.url, s.key(s.bob));
    const refused = await call('PUT', key, { token: bob, body: byBob.bytes, headers: { 'if-none-match': '*' } });
    assert.deepEqual([refused.status, refused.code], [422, ErrorCode.IntegrityUnknownSigner]);
    // Signed by alice but sent by bob: an entry is written by its signer's own device or person.
    const byAlice = await encodeMembershipEntry(s.spaceId, { ...next, signer: s.alice.keys.personId, change: add }, s.alice.keys.sign.seed);
    assert.equal((await call('PUT', key, { token: bob, body: byAlice.bytes })).status, 403);
    const alice = await tokenFor(s.url, s.key(s.alice));
    assert.equal((await call('PUT', key, { token: alice, body: byAlice.bytes })).status, 204);
    // Another valid entry for the same seq: refused, with or without If-None-Match.
    const fork = await encodeMembershipEntry(
      s.spaceId,
      { ...next, signer: s.alice.keys.personId, change: { kind: 'role', personId: s.carol.keys.personId, role: 'writer' } },
      s.alice.keys.sign.seed,
    );
    for (const headers of [{ 'if-none-match': '*' }, {}]) {
      const again = await call('PUT', key, { token: alice, body: fork.bytes, headers });
      assert.deepEqual([again.status, again.code], [412, ErrorCode.RemoteInUse]);
    }
    assert.deepEqual(await t.db.get(s.spaceId, membershipKey(next.seq)), Buffer.from(byAlice.bytes));
    // The chain is append-only: no deletes.
    assert.equal((await call('DELETE', key, { token: alice })).status, 403);
    await a.close();
  });

  test('a person token reads and publishes its certificate, but cannot write segments or heads', async () => {
    const bob = await tokenFor(space.url, space.key(space.bob, 'person'));
    assert.equal((await call('GET', objectUrl(space.url, membershipKey(1)), { token: bob })).status, 200);
    for (const key of [spaceSegmentKey(space.bob.device.deviceId, 1), `heads/${space.bob.device.deviceId}`, 'keys/0000000009/x/y']) {
      const r = await call('PUT', objectUrl(space.url, key), { token: bob, body: new Uint8Array(10) });
      assert.deepEqual([r.status, r.code], [403, ErrorCode.RemoteAuth], key);
    }
    // Someone else's certificate is not theirs to write.
    const r = await call('PUT', objectUrl(space.url, `people/${space.alice.keys.personId}/devices/000000000002`), { token: bob, body: new Uint8Array(10) });
    assert.equal(r.status, 403);
  });

  test('invites are readable without a token, answered once while an offer exists; offers need a member’s device', async () => {
    const invite = 'invites/0123456789ab';
    const offer = objectUrl(space.url, `${invite}/offer`);
    const answer = objectUrl(space.url, `${invite}/answer`);
    assert.equal((await call('PUT', answer, { body: Uint8Array.of(1) })).status, 403, 'no offer yet');
    assert.equal((await call('PUT', offer, { body: Uint8Array.of(1) })).status, 401);
    const alice = await tokenFor(space.url, space.key(space.alice));
    assert.equal((await call('PUT', offer, { token: alice, body: Uint8Array.of(7), headers: { 'if-none-match': '*' } })).status, 204);
    const read = await call('GET', offer);
    assert.deepEqual([read.status, [...read.bytes]], [200, [7]]);
    assert.equal((await call('PUT', answer, { body: Uint8Array.of(2) })).status, 204);
    assert.equal((await call('PUT', answer, { body: Uint8Array.of(3) })).status, 412, 'one answer per offer');
    assert.equal((await call('PUT', answer, { body: new Uint8Array(17 * 1024) })).status, 413);
    assert.equal((await call('DELETE', offer)).status, 401);
    assert.equal((await call('GET', objectUrl(space.url, membershipKey(1)))).status, 401, 'the chain wants a token');
    // A personal vault has no open invites.
    const tv = await createTestVault(t.relay.url, 'personal-invites');
    assert.equal((await call('GET', objectUrl(tv.url, `${invite}/offer`))).status, 401);
    assert.equal((await call('DELETE', offer, { token: alice })).status, 204);
  });

  test('a space is founded only under its own spaceId, by its founder, on an empty name', async () => {
    const zoe = testPerson();
    const nonce = crypto.getRandomValues(new Uint8Array(16));
    const spaceId = spaceIdOf(zoe.keys.signPub, nonce);
    const elsewhere = spaceIdOf(zoe.keys.signPub, crypto.getRandomValues(new Uint8Array(16)));
    // Entry 1 of spaceId under another name: refused, nothing stored.
    const staged = openMemoryRemote();
    await createSpace(staged, zoe.keys, { random: () => nonce, now: deps.now });
    const entry1 = (await staged.get(membershipKey(1)))!;
    const url = (name: string) => `${t.relay.url}/${name}`;
    const zoeThere = await tokenFor(url(elsewhere), personKey(elsewhere, zoe));
    const wrong = await call('PUT', objectUrl(url(elsewhere), membershipKey(1)), { token: zoeThere, body: entry1 });
    assert.deepEqual([wrong.status, wrong.code], [422, ErrorCode.IntegrityCorrupt]);
    assert.equal(await t.db.head(elsewhere, membershipKey(1)), null);
    // Before entry 1, the founder's token touches nothing else.
    const zoeHere = await tokenFor(url(spaceId), personKey(spaceId, zoe));
    assert.equal((await call('PUT', objectUrl(url(spaceId), 'heads/0011223344556677'), { token: zoeHere, body: Uint8Array.of(1) })).status, 403);
    assert.equal((await call('GET', objectUrl(url(spaceId), membershipKey(1)), { token: zoeHere })).status, 404);
    // A personal vault made under the name meanwhile is no space, and the founding token reads nothing of it.
    const other = spaceIdOf(testPerson().keys.signPub, nonce);
    const early = await tokenFor(url(other), personKey(other, zoe));
    await createTestVault(t.relay.url, other);
    assert.equal((await call('GET', objectUrl(url(other), 'registry/000000000001'), { token: early })).status, 403);
    // Someone else's person cannot found it (their key makes another spaceId), nor sign in as its founder with their key.
    const eve = testPerson();
    const eveHere = await tokenFor(url(spaceId), personKey(spaceId, eve));
    assert.equal((await call('PUT', objectUrl(url(spaceId), membershipKey(1)), { token: eveHere, body: entry1 })).status, 403);
    assert.equal(await signInRefusal(url(spaceId), { ...personKey(spaceId, eve), signer: `person:${zoe.keys.personId}` }), ErrorCode.RemoteAuth);
    // A device cannot sign in to a space that does not exist; a name that is no spaceId founds no space.
    assert.equal(await signInRefusal(url(spaceId), { ...personKey(spaceId, zoe), signer: zoe.device.deviceId }), ErrorCode.RemoteEmpty);
    assert.equal(await signInRefusal(url('not-a-space-id'), personKey(spaceId, zoe)), ErrorCode.RemoteEmpty);
    assert.equal((await call('PUT', objectUrl(url(spaceId), membershipKey(1)), { token: zoeHere, body: entry1 })).status, 204);
    // Now a space: the founder certifies a device, which signs in; no vault header can be put under its name.
    const zr = openRelayRemote(url(spaceId));
    zr.useDeviceKey(personKey(spaceId, zoe));
    await certify(zr, zoe);
    const device = await tokenFor(url(spaceId), remoteDeviceKey(spaceId, zoe.device.deviceId, zoe.device.sign.seed));
    assert.equal((await call('PUT', objectUrl(url(spaceId), 'vault'), { token: device, body: Uint8Array.of(1) })).status, 403);
    const header = (await createTestVault(t.relay.url, 'a-header-to-copy')).url;
    const bytes = (await t.db.get('a-header-to-copy', 'vault'))!;
    assert.ok(header);
    assert.equal((await call('PUT', objectUrl(url(spaceId), 'vault'), { body: Uint8Array.from(bytes) })).status, 409);
    assert.equal(await t.db.head(spaceId, 'vault'), null);
    await zr.close();
  });

  test('a removed member’s device and person are refused for reads and writes (KITH_REMOVED) and its watch socket is closed', async () => {
    const s = await relaySpace(t.relay.url);
    const carolToken = await tokenFor(s.url, s.key(s.carol));
    const ws = new WebSocket(watchUrl(s.url), ['kith.v1', `kith.bearer.${carolToken}`]);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const a = s.remote(s.alice);
    await appendMembership(a, (await s.state(a)).m, s.alice.keys, { kind: 'remove', personId: s.carol.keys.personId }, deps);
    assert.equal(await closed, 1008);
    const head = objectUrl(s.url, `heads/${s.carol.device.deviceId}`);
    for (const [method, body] of [
      ['GET', undefined],
      ['PUT', Uint8Array.of(1)],
    ] as const) {
      const r = await call(method, head, { token: carolToken, ...(body ? { body } : {}) });
      assert.deepEqual([r.status, r.code], [403, ErrorCode.Removed], method);
    }
    assert.equal(await signInRefusal(s.url, s.key(s.carol)), ErrorCode.Removed);
    assert.equal(await signInRefusal(s.url, s.key(s.carol, 'person')), ErrorCode.Removed);
    await assert.rejects(s.remote(s.carol).get(membershipKey(1)), isCode(ErrorCode.Removed));
    await a.close();
  });

  test('a device its person dropped from their certificate is refused (KITH_REVOKED); the person re-signs in with their key', async () => {
    const s = await relaySpace(t.relay.url);
    const bobToken = await tokenFor(s.url, s.key(s.bob));
    const spare = testPerson().device;
    const r = s.remote(s.bob, 'person');
    await certify(r, s.bob, [{ deviceId: spare.deviceId, signPub: spare.sign.pub, boxPub: spare.box.pub }]);
    const refused = await call('GET', objectUrl(s.url, membershipKey(1)), { token: bobToken });
    assert.deepEqual([refused.status, refused.code], [403, ErrorCode.Revoked]);
    assert.equal(await signInRefusal(s.url, s.key(s.bob)), ErrorCode.Revoked);
    // Certified again, the device signs in again.
    await certify(r, s.bob, [...certified(s.bob)]);
    assert.ok(await tokenFor(s.url, s.key(s.bob)));
    await r.close();
  });

  test('a member may leave (then KITH_REMOVED, reason left); an epoch by a member who may not start one is refused, an admin’s is stored', async () => {
    const s = await relaySpace(t.relay.url);
    const carol = s.remote(s.carol);
    // The leave's read-back is the one thing a departed person still reads: the entries up to their own leave.
    const left = await appendMembership(carol, (await s.state(carol)).m, s.carol.keys, { kind: 'leave' }, deps);
    assert.equal(left.seq, 4);
    await assert.rejects(carol.get(membershipKey(5)), isCode(ErrorCode.Removed));
    await assert.rejects(carol.get(`heads/${s.carol.device.deviceId}`), isCode(ErrorCode.Removed));
    await assert.rejects(carol.put(`heads/${s.carol.device.deviceId}`, Uint8Array.of(1)), isCode(ErrorCode.Removed));
    await carol.close();
    // Bob, a writer whose devices did not change, forges the epoch that cuts carol's device.
    const a = s.remote(s.alice);
    const state = await s.state(a);
    const entry = {
      epoch: 1,
      prevHash: state.epochs.pin.hash,
      membershipSeq: state.m.seq,
      membershipHash: state.m.hash,
      at: Date.now(),
      signer: s.bob.keys.personId,
      sealer: s.bob.device.deviceId,
      keyCheck: state.epochs.current!.keyCheck,
      members: state.epochs.plan(state.m, state.certs),
      cuts: [{ deviceId: s.carol.device.deviceId, lastSeq: 0 }],
    };
    const forged = await encodeSpaceEpoch(s.spaceId, entry, s.bob.keys.sign.seed);
    const bob = await tokenFor(s.url, s.key(s.bob));
    const refused = await call('PUT', objectUrl(s.url, spaceEpochKey(1)), { token: bob, body: forged.bytes });
    assert.deepEqual([refused.status, refused.code], [422, ErrorCode.IntegrityUnknownSigner]);
    const started = await startEpoch(a, { m: state.m, epochs: state.epochs, certs: state.certs, actor: actorOf(s.alice), lastSeqOf: async () => 0 }, deps);
    assert.equal(started.epoch, 1);
    assert.equal((await call('PUT', objectUrl(s.url, spaceEpochKey(1)), { token: bob, body: forged.bytes })).status, 412);
    await a.close();
  });

  test('a certificate listing a deviceId another person’s certificate lists is refused (409 KITH_REMOTE_IN_USE): no squatting a device', async () => {
    const s = await relaySpace(t.relay.url);
    const bob = await tokenFor(s.url, s.key(s.bob, 'person'));
    const certs = new DeviceCertificates(s.bob.keys);
    await certs.refresh(operatorRemote(t.db, s.spaceId));
    const squat = { deviceId: s.carol.device.deviceId, signPub: s.bob.device.sign.pub, boxPub: s.bob.device.box.pub };
    const copied = { deviceId: s.carol.device.deviceId, signPub: s.carol.device.sign.pub, boxPub: s.carol.device.box.pub };
    for (const other of [squat, copied]) {
      const next = await encodeDeviceCert(
        { personId: s.bob.keys.personId, version: 2, prevHash: certs.hash, at: Date.now(), devices: [...certified(s.bob), other] },
        s.bob.keys,
      );
      const r = await call('PUT', objectUrl(s.url, deviceCertKey(s.bob.keys.personId, 2)), { token: bob, body: next.bytes });
      assert.deepEqual([r.status, r.code], [409, ErrorCode.RemoteInUse]);
    }
    assert.equal(await t.db.head(s.spaceId, deviceCertKey(s.bob.keys.personId, 2)), null);
    // Carol's device still signs in as carol's alone; bob's own next certificate is taken.
    assert.ok(await tokenFor(s.url, s.key(s.carol)));
    const own = await encodeDeviceCert(
      { personId: s.bob.keys.personId, version: 2, prevHash: certs.hash, at: Date.now(), devices: certified(s.bob) },
      s.bob.keys,
    );
    assert.equal((await call('PUT', objectUrl(s.url, deviceCertKey(s.bob.keys.personId, 2)), { token: bob, body: own.bytes })).status, 204);
  });

  test('a sealed key is put only by the device that signed it, at its own address; deleted only by that device or an admin’s', async () => {
    const s = await relaySpace(t.relay.url);
    const a = s.remote(s.alice);
    const state = await s.state(a);
    const entry = state.epochs.entry(0)!;
    const at = (deviceId: string) => spaceSealedKeyKey(entry, deviceId);
    const carols = (await t.db.get(s.spaceId, at(s.carol.device.deviceId)))!; // sealed by alice's device
    const [alice, bob, carol] = (await Promise.all([s.alice, s.bob, s.carol].map((p) => tokenFor(s.url, s.key(p))))) as [string, string, string];
    const spare = testPerson().device;
    const elsewhere = objectUrl(s.url, at(spare.deviceId));
    const byOther = await call('PUT', elsewhere, { token: bob, body: carols });
    assert.deepEqual([byOther.status, byOther.code], [403, ErrorCode.RemoteAuth], 'signed by another device');
    const moved = await call('PUT', elsewhere, { token: alice, body: carols });
    assert.deepEqual([moved.status, moved.code], [422, ErrorCode.IntegrityCorrupt], 'addressed to another device');
    // Carol certifies a second device; bob's device seals the key to it: his to put, and his (or an admin's) to delete.
    const cr = s.remote(s.carol, 'person');
    await certify(cr, s.carol, [...certified(s.carol), { deviceId: spare.deviceId, signPub: spare.sign.pub, boxPub: spare.box.pub }]);
    await cr.close();
    const b = s.remote(s.bob);
    const bs = await s.state(b);
    assert.equal((await shareEpochKey(b, { m: bs.m, epochs: bs.epochs, certs: bs.certs, epochKey: s.epoch0Key, actor: actorOf(s.bob) }, deps)).length, 1);
    for (const [token, key] of [
      [carol, at(spare.deviceId)],
      [carol, at(s.carol.device.deviceId)],
      [bob, at(s.carol.device.deviceId)],
    ] as const) {
      const r = await call('DELETE', objectUrl(s.url, key), { token });
      assert.deepEqual([r.status, r.code], [403, ErrorCode.RemoteAuth], key);
    }
    assert.equal((await call('DELETE', elsewhere, { token: bob })).status, 204);
    assert.equal((await call('DELETE', objectUrl(s.url, at(s.carol.device.deviceId)), { token: alice })).status, 204);
    assert.equal(await t.db.head(s.spaceId, at(s.carol.device.deviceId)), null);
    await Promise.all([a.close(), b.close()]);
  });

  test('a person’s certificates take only the verified next version: a fork is refused, a gap too', async () => {
    const s = await relaySpace(t.relay.url);
    const r = s.remote(s.bob, 'person');
    await certify(r, s.bob);
    const certs = new DeviceCertificates(s.bob.keys);
    await certs.refresh(r);
    assert.equal(certs.version, 2);
    const fork = await encodeDeviceCert({ personId: s.bob.keys.personId, version: 2, prevHash: certs.hashAt(1)!, at: Date.now(), devices: [] }, s.bob.keys);
    const bob = await tokenFor(s.url, s.key(s.bob));
    const again = await call('PUT', objectUrl(s.url, deviceCertKey(s.bob.keys.personId, 2)), { token: bob, body: fork.bytes });
    assert.deepEqual([again.status, again.code], [412, ErrorCode.RemoteInUse]);
    const gap = await call('PUT', objectUrl(s.url, deviceCertKey(s.bob.keys.personId, 4)), { token: bob, body: fork.bytes });
    assert.equal(gap.status, 400);
    const bad = await call('PUT', objectUrl(s.url, deviceCertKey(s.bob.keys.personId, 3)), { token: bob, body: fork.bytes });
    assert.equal(bad.status, 422);
    await r.close();
  });
});
