/**
 * @module testing/space-scenarios
 * Spaces through a real remote: two admins on two clients of one remote
 * changing membership at the same time, an invite from offer to admission,
 * a tampered membership entry, and key epochs: removal and a member's
 * device revocation start an epoch the cut devices cannot open; tampered,
 * replayed and withheld epoch entries are refused. Every Remote adapter with an atomic
 * put-if-absent can run them (`runSpaceScenarios`); the convergence
 * scenario is skipped on a remote without one (see
 * `capabilities.putIfAbsent`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Deps } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import type { Remote } from '../ports/remote.js';
import { answerInvite, checkAdmission, closeInvite, offerInvite, readInviteAnswer, readInviteDone } from '../spaces/invite.js';
import { encodeMembershipEntry, membershipKey } from '../spaces/membership-entry.js';
import { appendMembership, createSpace, Membership, type MembershipIntent } from '../spaces/membership.js';
import { personKeysFromSecret, type PersonKeys } from '../spaces/person.js';
import { spaceEpochKey } from '../spaces/epoch-entry.js';
import { openSpaceEpochKey } from '../spaces/epochs.js';
import { startEpoch } from '../spaces/epoch-start.js';
import { SpaceState } from '../spaces/space-state.js';
import { actorOf, certify, type TestDevice } from './space-people.js';
import { runSpaceDemoteScenarios } from './space-demote-scenarios.js';
import { runSpaceDeviceScenarios } from './space-device-scenarios.js';
import { runSpaceInviteScenarios } from './space-invite-scenarios.js';
import { runSpaceSegmentScenarios } from './space-segment-scenarios.js';
import { spaceDeps, spaceWorld } from './space-world.js';

export interface SpaceScenarioHarness {
  /** A new client of the one remote location of this harness (call it several times for several devices). */
  openRemote(): Promise<Remote>;
  cleanup(): Promise<void>;
}

const person = (n: number): PersonKeys => personKeysFromSecret(new Uint8Array(32).fill(n));

const deps = spaceDeps;

async function readChain(remote: Remote, spaceId: string): Promise<Membership> {
  const m = Membership.empty(spaceId);
  await m.refresh(remote);
  return m;
}

const roster = (m: Membership): string[] => m.members().map((x) => `${x.personId}:${x.role}`);

export function runSpaceScenarios(name: string, makeHarness: () => Promise<SpaceScenarioHarness>): void {
  // node:test tracks the promise test() returns; the wrapper hands nothing back.
  const scenario = (title: string, body: (h: SpaceScenarioHarness, skip: (why: string) => void) => Promise<void>): void =>
    void test(`space scenarios (${name}): ${title}`, { timeout: 120_000 }, async (t) => {
      const h = await makeHarness();
      try {
        await body(h, (why) => t.skip(why));
      } finally {
        await h.cleanup();
      }
    });
  const [alice, bob, carol, dave, erin] = [1, 2, 3, 4, 5].map(person) as [PersonKeys, PersonKeys, PersonKeys, PersonKeys, PersonKeys];

  scenario('two admins on two devices change membership at once; every device reads one chain', async (h, skip) => {
    const first = await h.openRemote();
    const second = await h.openRemote();
    try {
      if (!first.capabilities.putIfAbsent) return skip('convergence needs an atomic put-if-absent, which this remote does not offer');
      const a = deps(1);
      const b = deps(2);
      const m = await createSpace(first, alice, a);
      await appendMembership(first, m, alice, { kind: 'add', person: bob, role: 'admin' }, a);
      const bobs = await readChain(second, m.spaceId);
      const aliceWants: MembershipIntent[] = [
        { kind: 'add', person: carol, role: 'writer' },
        { kind: 'add', person: dave, role: 'reader' },
        { kind: 'role', personId: dave.personId, role: 'writer' },
      ];
      const bobWants: MembershipIntent[] = [
        { kind: 'add', person: dave, role: 'admin' },
        { kind: 'add', person: erin, role: 'reader' },
        { kind: 'remove', personId: carol.personId },
      ];
      const run = async (remote: Remote, chain: Membership, admin: PersonKeys, intents: MembershipIntent[], d: Deps) => {
        let applied = 0;
        for (const intent of intents) if ((await appendMembership(remote, chain, admin, intent, d)).seq !== null) applied++;
        return applied;
      };
      const [x, y] = await Promise.all([run(first, m, alice, aliceWants, a), run(second, bobs, bob, bobWants, b)]);
      await m.refresh(first);
      await bobs.refresh(second);
      const fresh = await readChain(await h.openRemote(), m.spaceId);
      assert.equal(fresh.seq, 2 + x + y);
      assert.deepEqual(roster(m), roster(fresh));
      assert.deepEqual(roster(bobs), roster(fresh));
      assert.deepEqual(m.hash, fresh.hash);
    } finally {
      await first.close();
      await second.close();
    }
  });

  scenario('an invite from the offer to the invitee’s check of the chain; the code works once', async (h) => {
    const adminRemote = await h.openRemote();
    const inviteeRemote = await h.openRemote();
    try {
      const a = deps(3);
      const m = await createSpace(adminRemote, alice, a);
      const invite = await offerInvite(adminRemote, { spaceId: m.spaceId, role: 'reader', admin: alice, chain: m.pin, ttlMs: 60_000 }, a);
      const join = await answerInvite(inviteeRemote, invite.code, bob, 'Bob', deps(4));
      const answer = await readInviteAnswer(adminRemote, invite, a);
      assert.equal(answer?.sas, join.sas);
      await appendMembership(adminRemote, m, alice, { kind: 'add', person: answer.person, role: invite.role }, a);
      await closeInvite(adminRemote, invite, { ok: true, admitted: m.pin }, a);
      const admitted = await readInviteDone(inviteeRemote, join);
      assert.ok(admitted);
      checkAdmission(await readChain(inviteeRemote, join.spaceId), join, admitted);
      await assert.rejects(answerInvite(inviteeRemote, invite.code, carol, 'Carol', deps(5)), (e: unknown) => KithError.is(e, ErrorCode.InviteExpired));
    } finally {
      await adminRemote.close();
      await inviteeRemote.close();
    }
  });

  scenario('a membership entry altered, replaced or withheld on the remote is refused', async (h) => {
    const remote = await h.openRemote();
    try {
      const a = deps(6);
      const m = await createSpace(remote, alice, a);
      await appendMembership(remote, m, alice, { kind: 'add', person: bob, role: 'writer' }, a);
      const pin = m.pin;
      const second = (await remote.get(membershipKey(2)))!;
      const integrity = (e: unknown) => e instanceof KithError && e.code.startsWith('KITH_INTEGRITY_');
      // Altered: one flipped bit.
      const altered = second.slice();
      altered[altered.length - 1]! ^= 1;
      await remote.delete(membershipKey(2));
      await remote.put(membershipKey(2), altered);
      await assert.rejects(readChain(remote, m.spaceId), integrity);
      // Replaced by another validly signed entry 2 (a fork): a device that saw the first refuses it.
      const fork = await encodeMembershipEntry(
        m.spaceId,
        { seq: 2, prevHash: m.hashAt(1)!, at: 1, signer: alice.personId, change: { kind: 'leave' } },
        alice.sign.seed,
      );
      await remote.delete(membershipKey(2));
      await remote.put(membershipKey(2), fork.bytes);
      const forked = await readChain(remote, m.spaceId);
      assert.throws(
        () => forked.checkPin(pin),
        (e: unknown) => KithError.is(e, ErrorCode.IntegrityChain),
      );
      // Withheld: the chain ends before what the device saw.
      await remote.delete(membershipKey(2));
      const shorter = await readChain(remote, m.spaceId);
      assert.equal(shorter.seq, 1);
      assert.throws(
        () => shorter.checkPin(pin),
        (e: unknown) => KithError.is(e, ErrorCode.IntegrityRollback),
      );
    } finally {
      await remote.close();
    }
  });

  const epochWorld = spaceWorld;
  const openOn = async (remote: Remote, spaceId: string, epoch: number, device: TestDevice) => {
    const s = await new SpaceState(spaceId).refresh(remote);
    return openSpaceEpochKey(remote, { m: s.m, epochs: s.epochs, certs: s.certs, epoch, deviceId: device.deviceId, boxSecret: device.box.secret });
  };

  scenario('removing a member starts an epoch that none of their devices can open; everyone else can', async (h) => {
    const remote = await h.openRemote();
    const bobs = await h.openRemote();
    try {
      const { d, a, b, c, s } = await epochWorld(remote, 7);
      for (const x of b.devices) assert.ok(await openOn(bobs, s.spaceId, 0, x), 'bob holds epoch 0');
      await appendMembership(remote, s.m, a.keys, { kind: 'remove', personId: b.keys.personId }, d);
      const next = await startEpoch(remote, { m: s.m, epochs: s.epochs, certs: s.certs, actor: actorOf(a, a.devices[1]), lastSeqOf: async () => 3 }, d);
      assert.equal(next.epoch, 1);
      for (const x of b.devices) assert.equal(await openOn(bobs, s.spaceId, 1, x), null, 'nothing of epoch 1 reaches bob');
      for (const x of [...a.devices, ...c.devices]) assert.deepEqual(await openOn(await h.openRemote(), s.spaceId, 1, x), next.epochKey);
    } finally {
      await remote.close();
      await bobs.close();
    }
  });

  scenario('a member who revokes one of their devices starts an epoch that device cannot open', async (h) => {
    const remote = await h.openRemote();
    const carols = await h.openRemote();
    try {
      const { d, c, s } = await epochWorld(remote, 8);
      const [kept, lost] = c.devices as [TestDevice, TestDevice];
      await certify(carols, c, d.now(), [kept]);
      const mine = await new SpaceState(s.spaceId).refresh(carols);
      const next = await startEpoch(carols, { m: mine.m, epochs: mine.epochs, certs: mine.certs, actor: actorOf(c, kept), lastSeqOf: async () => 0 }, d);
      assert.equal(next.epoch, 1);
      assert.deepEqual(mine.epochs.entry(1)!.cuts, [{ deviceId: lost.deviceId, lastSeq: 0 }]);
      assert.equal(await openOn(remote, s.spaceId, 1, lost), null);
      assert.deepEqual(await openOn(remote, s.spaceId, 1, kept), next.epochKey);
    } finally {
      await remote.close();
      await carols.close();
    }
  });

  scenario('an epoch entry altered, replayed or withheld on the remote is refused', async (h) => {
    const remote = await h.openRemote();
    try {
      const { d, a, b, s } = await epochWorld(remote, 9);
      await appendMembership(remote, s.m, a.keys, { kind: 'remove', personId: b.keys.personId }, d);
      await startEpoch(remote, { m: s.m, epochs: s.epochs, certs: s.certs, actor: actorOf(a), lastSeqOf: async () => 0 }, d);
      const pin = s.epochs.pin;
      const integrity = (e: unknown) => e instanceof KithError && e.code.startsWith('KITH_INTEGRITY_');
      const read = () => new SpaceState(s.spaceId).refresh(remote);
      const original = (await remote.get(spaceEpochKey(1)))!;
      const replace = async (bytes: Uint8Array | null) => {
        await remote.delete(spaceEpochKey(1));
        if (bytes) await remote.put(spaceEpochKey(1), bytes);
      };
      const altered = original.slice();
      altered[altered.length - 1]! ^= 1;
      await replace(altered);
      await assert.rejects(read(), integrity);
      await replace(await remote.get(spaceEpochKey(0)));
      await assert.rejects(read(), (e: unknown) => KithError.is(e, ErrorCode.IntegrityChain));
      await replace(null);
      const behind = await read();
      assert.throws(
        () => behind.epochs.checkPin(pin),
        (e: unknown) => KithError.is(e, ErrorCode.IntegrityRollback),
      );
      await replace(original);
      (await read()).epochs.checkPin(pin);
    } finally {
      await remote.close();
    }
  });

  runSpaceSegmentScenarios(scenario);
  runSpaceInviteScenarios(scenario);
  runSpaceDeviceScenarios(scenario);
  runSpaceDemoteScenarios(scenario);
}
