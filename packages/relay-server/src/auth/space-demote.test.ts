import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@kith/core/adapter';
import { generateDeviceKeys, remoteDeviceKey } from '@kith/core/relay';
import {
  appendMembership,
  deviceCertKey,
  encodeMembershipEntry,
  membershipKey,
  pushSpaceSegment,
  shareEpochKey,
  SPACE_CHAIN_START,
  spaceSegmentKey,
  SpaceState,
} from '@kith/core/spaces';
import { openMemoryRemote } from '@kith/core/testing';
import { operatorRemote, startTestRelay, type TestRelay } from '../testing/test-vaults.js';
import { actorOf, call, certified, certify, deps, objectUrl, relaySpace, tokenFor, type RelaySpace, type TestPerson } from '../space-world.test.support.js';

let t: TestRelay;
before(async () => {
  t = await startTestRelay();
});
after(async () => {
  await t?.stop();
});

const me = (p: TestPerson, device = p.device) => ({ person: p.keys, deviceId: device.deviceId, signSeed: device.sign.seed, boxSecret: device.box.secret });

/** Every object of the space, copied into a memory remote: a place to make what a modified client could send. */
async function copyOf(s: RelaySpace) {
  const from = operatorRemote(t.db, s.spaceId);
  const copy = openMemoryRemote();
  for (const o of await from.list('')) await copy.put(o.key, (await from.get(o.key))!);
  return copy;
}

test(
  'relay spaces: a demoted writer’s back-dated segments are refused, by its device and by one it paired since, also once promoted again (the person cut)',
  { timeout: 120_000 },
  async () => {
    const s = await relaySpace(t.relay.url);
    const bobs = s.remote(s.bob);
    const alices = s.remote(s.alice);
    try {
      const one = await pushSpaceSegment(bobs, { state: new SpaceState(s.spaceId), me: me(s.bob), ops: [], chain: SPACE_CHAIN_START }, deps);
      // What a modified client of bob's prepares while still a writer: its device's segment 2, and one of a device it will pair.
      const copy = await copyOf(s);
      await pushSpaceSegment(copy, { state: new SpaceState(s.spaceId), me: me(s.bob), ops: [], chain: one }, deps);
      const backDated = (await copy.get(spaceSegmentKey(s.bob.device.deviceId, 2)))!;
      const paired = generateDeviceKeys(deps.random);
      await certify(copy, s.bob, [...certified(s.bob), { deviceId: paired.deviceId, signPub: paired.sign.pub, boxPub: paired.box.pub }]);
      const inCopy = await s.state(copy);
      await shareEpochKey(copy, { m: inCopy.m, epochs: inCopy.epochs, certs: inCopy.certs, epochKey: s.epoch0Key, actor: actorOf(s.bob) }, deps);
      await pushSpaceSegment(copy, { state: new SpaceState(s.spaceId), me: me(s.bob, paired), ops: [], chain: SPACE_CHAIN_START }, deps);
      const pairedBackDated = (await copy.get(spaceSegmentKey(paired.deviceId, 1)))!;
      const state = await s.state(alices);
      await appendMembership(alices, state.m, s.alice.keys, { kind: 'role', personId: s.bob.keys.personId, role: 'reader' }, deps);
      assert.deepEqual(state.m.writeEnd(s.bob.keys.personId, state.m.seq - 1)?.cut, [{ deviceId: s.bob.device.deviceId, lastSeq: 1 }]);
      // Bob pairs the device after his demotion (his certificate is his to publish).
      const asPerson = s.remote(s.bob, 'person');
      assert.ok(
        (
          await call('PUT', objectUrl(s.url, deviceCertKey(s.bob.keys.personId, 2)), {
            token: await tokenFor(s.url, s.key(s.bob, 'person')),
            body: (await copy.get(deviceCertKey(s.bob.keys.personId, 2)))!,
          })
        ).status < 300,
      );
      await asPerson.close();
      const bob = await tokenFor(s.url, s.key(s.bob));
      const pairedToken = await tokenFor(s.url, remoteDeviceKey(s.spaceId, paired.deviceId, paired.sign.seed));
      const put = async (token: string, deviceId: string, seq: number, body: Uint8Array) =>
        call('PUT', objectUrl(s.url, spaceSegmentKey(deviceId, seq)), { token, body });
      // A reader now: refused whatever the segment names.
      let r = await put(bob, s.bob.device.deviceId, 2, backDated);
      assert.deepEqual([r.status, r.code], [403, ErrorCode.Forbidden]);
      r = await put(pairedToken, paired.deviceId, 1, pairedBackDated);
      assert.deepEqual([r.status, r.code], [403, ErrorCode.Forbidden]);
      // Promoted again: the back-dated segments name a seq before the demotion, past its cut (the paired device is in no cut).
      await appendMembership(alices, state.m, s.alice.keys, { kind: 'role', personId: s.bob.keys.personId, role: 'writer' }, deps);
      r = await put(bob, s.bob.device.deviceId, 2, backDated);
      assert.deepEqual([r.status, r.code], [422, ErrorCode.IntegrityUnknownSigner]);
      r = await put(pairedToken, paired.deviceId, 1, pairedBackDated);
      assert.deepEqual([r.status, r.code], [422, ErrorCode.IntegrityUnknownSigner]);
      // What bob writes now, at a seq where he is a writer, is stored.
      await pushSpaceSegment(bobs, { state: new SpaceState(s.spaceId), me: me(s.bob), ops: [], chain: one }, deps);
    } finally {
      await bobs.close();
      await alices.close();
    }
  },
);

test(
  'relay spaces: a membership entry carrying a person cut that ends no one’s right to write is refused (members would refuse it, stopping the chain)',
  { timeout: 120_000 },
  async () => {
    const s = await relaySpace(t.relay.url);
    const alices = s.remote(s.alice);
    try {
      const state = await s.state(alices);
      // Carol is a reader: making her a writer ends nothing, so a cut there is a lie about the chain.
      const entry = {
        seq: state.m.seq + 1,
        prevHash: state.m.hash,
        at: Date.now(),
        signer: s.alice.keys.personId,
        change: { kind: 'role' as const, personId: s.carol.keys.personId, role: 'writer' as const },
      };
      const token = await tokenFor(s.url, s.key(s.alice));
      const forged = await encodeMembershipEntry(s.spaceId, { ...entry, cut: [] }, s.alice.keys.sign.seed);
      const r = await call('PUT', objectUrl(s.url, membershipKey(entry.seq)), { token, body: forged.bytes });
      assert.deepEqual([r.status, r.code], [422, ErrorCode.IntegrityCorrupt]);
      // The same change without a cut (version 1) is stored.
      const plain = await encodeMembershipEntry(s.spaceId, entry, s.alice.keys.sign.seed);
      assert.ok((await call('PUT', objectUrl(s.url, membershipKey(entry.seq)), { token, body: plain.bytes })).status < 300);
    } finally {
      await alices.close();
    }
  },
);
