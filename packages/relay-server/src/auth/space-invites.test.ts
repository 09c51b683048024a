import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@kith/core/adapter';
import { adminInvite, INVITE_SWEEP_GRACE_MS, inviteExpiresKey, inviteKey, joinInvite, keepSpaceKeys, offerInvite } from '@kith/core/spaces';
import { openRelayRemote } from '@kith/relay';
import { operatorRemote, startTestRelay, type TestRelay } from '../testing/test-vaults.js';
import { call, deps, objectUrl, relaySpace, testPerson, tokenFor, type RelaySpace, type TestPerson } from '../space-world.test.support.js';

let t: TestRelay;
before(async () => {
  t = await startTestRelay();
});
after(async () => {
  await t?.stop();
});

const actor = (p: TestPerson) => ({
  person: p.keys,
  deviceId: p.device.deviceId,
  signSeed: p.device.sign.seed,
  boxSecret: p.device.box.secret,
  signPub: p.device.sign.pub,
  boxPub: p.device.box.pub,
});
const devicesOf = (p: TestPerson) => [{ deviceId: p.device.deviceId, signPub: p.device.sign.pub, boxPub: p.device.box.pub }];
/** What the relay stores under the space's `invites/`, as the operator sees it. */
const stored = async (s: RelaySpace): Promise<string[]> => (await operatorRemote(t.db, s.spaceId).list('invites/')).map((o) => o.key);

describe('relay: a space’s invites', () => {
  test('invite → join through the relay: the admin’s device deletes every object of the invite once the invitee is certified', async () => {
    const s = await relaySpace(t.relay.url);
    const a = s.remote(s.alice);
    const dave = testPerson();
    const daves = openRelayRemote(s.url, { pollMs: 3_600_000 }); // no key: the invitee answers unsigned
    try {
      let onCode!: (c: string) => void;
      const code = new Promise<string>((r) => (onCode = r));
      let onSas!: (x: string) => void;
      const sas = new Promise<string>((r) => (onSas = r));
      const inviting = adminInvite(a, await s.state(a), actor(s.alice), { pollMs: 10, onCode, confirm: async (x) => x === (await sas) }, deps);
      const joined = await joinInvite(daves, await code, actor(dave), devicesOf(dave), 'Dave', { pollMs: 10, onSas }, deps);
      assert.ok(joined.certified && joined.epochKey);
      assert.equal((await inviting).name, 'Dave');
      assert.deepEqual(await stored(s), []);
    } finally {
      await Promise.all([a.close(), daves.close()]);
    }
  });

  test('only an admin’s device offers, dates, closes and deletes an invite; a writer’s or reader’s device gets KITH_FORBIDDEN', async () => {
    const s = await relaySpace(t.relay.url);
    const inviteId = '00112233aabb';
    const keys = [inviteKey(inviteId, 'offer'), inviteKey(inviteId, 'done'), inviteExpiresKey(inviteId)];
    const [alice, bob, carol] = (await Promise.all([s.alice, s.bob, s.carol].map((p) => tokenFor(s.url, s.key(p))))) as [string, string, string];
    for (const token of [bob, carol]) {
      for (const key of keys) {
        const r = await call('PUT', objectUrl(s.url, key), { token, body: new Uint8Array(40) });
        assert.deepEqual([r.status, r.code], [403, ErrorCode.Forbidden], key);
      }
    }
    for (const key of keys) assert.equal((await call('PUT', objectUrl(s.url, key), { token: alice, body: new Uint8Array(40) })).status, 204, key);
    assert.equal((await call('PUT', objectUrl(s.url, inviteKey(inviteId, 'answer')), { body: new Uint8Array(40) })).status, 204, 'the invitee answers');
    const all = [...keys, inviteKey(inviteId, 'answer')];
    for (const token of [bob, carol]) {
      for (const key of all) {
        const r = await call('DELETE', objectUrl(s.url, key), { token });
        assert.deepEqual([r.status, r.code], [403, ErrorCode.Forbidden], key);
      }
    }
    assert.equal((await call('DELETE', objectUrl(s.url, inviteExpiresKey(inviteId)))).status, 401, 'nobody deletes without a token');
    assert.equal((await stored(s)).length, 4);
    for (const key of all) assert.equal((await call('DELETE', objectUrl(s.url, key), { token: alice })).status, 204, key);
    assert.deepEqual(await stored(s), []);
  });

  test('an expired invite an admin’s device left is deleted by an admin’s next sync, through the relay', async () => {
    const s = await relaySpace(t.relay.url);
    const a = s.remote(s.alice);
    try {
      const state = await s.state(a);
      await offerInvite(a, { spaceId: s.spaceId, role: 'reader', admin: s.alice.keys, chain: state.m.pin, ttlMs: 1000, dated: true }, deps);
      assert.equal((await stored(s)).length, 2);
      await keepSpaceKeys(a, state, actor(s.alice), deps);
      assert.equal((await stored(s)).length, 2, 'not yet: within the grace');
      await keepSpaceKeys(a, state, actor(s.alice), { ...deps, now: () => Date.now() + INVITE_SWEEP_GRACE_MS + 60_000 });
      assert.deepEqual(await stored(s), []);
    } finally {
      await a.close();
    }
  });
});
