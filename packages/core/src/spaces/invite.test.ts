import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom, type Deps } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { boxKeyFromSecret, toBase64url } from '../crypto/index.js';
import { generatePairingCode } from '../identity/pairing.js';
import { openMessage, sealMessage } from '../identity/one-time-code.js';
import type { Remote } from '../ports/remote.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import {
  answerInvite,
  checkAdmission,
  closeInvite,
  generateInviteCode,
  inviteClosed,
  inviteKey,
  offerInvite,
  parseInviteCode,
  readInviteAnswer,
  readInviteDone,
  type PendingInvite,
} from './invite.js';
import { membershipKey } from './membership-entry.js';
import { appendMembership, createSpace, Membership } from './membership.js';
import { personKeysFromSecret, type PersonKeys } from './person.js';

const is = (code: ErrorCode, reason?: string) => (e: unknown) => KithError.is(e, code) && (reason === undefined || e.reason === reason);
const person = (n: number): PersonKeys => personKeysFromSecret(new Uint8Array(32).fill(n));
const [alice, bob, carol, mallory] = [1, 2, 3, 4].map(person) as [PersonKeys, PersonKeys, PersonKeys, PersonKeys];
const TTL = 10 * 60_000;

/** Deps whose clock the test moves. */
function deps(seed: number): Deps & { advance(ms: number): void } {
  let t = 1_767_225_600_000;
  return { random: seededRandom(seed), now: () => t++, advance: (ms) => void (t += ms) };
}

async function setup(remote: Remote = openMemoryRemote()) {
  const admin = deps(1);
  const m = await createSpace(remote, alice, admin);
  const invite = await offerInvite(remote, { spaceId: m.spaceId, role: 'writer', admin: alice, chain: m.pin, ttlMs: TTL }, admin);
  return { remote, admin, m, invite };
}

async function chainOf(remote: Remote, spaceId: string): Promise<Membership> {
  const m = Membership.empty(spaceId);
  await m.refresh(remote);
  return m;
}

/** The admin's side after the user compared the strings: add on yes, then close. */
async function decide(remote: Remote, m: Membership, invite: PendingInvite, admin: Deps, ok: boolean) {
  const answer = (await readInviteAnswer(remote, invite, admin))!;
  assert.ok(!(await inviteClosed(remote, invite)));
  if (!ok) return closeInvite(remote, invite, { ok: false, reason: 'declined' }, admin);
  const { seq } = await appendMembership(remote, m, alice, { kind: 'add', person: answer.person, role: invite.role }, admin);
  assert.notEqual(seq, null);
  await closeInvite(remote, invite, { ok: true, admitted: m.pin }, admin);
}

test('invite: the invitee answers, both see the same string, the admin adds them, and the invitee checks the chain', async () => {
  const { remote, admin, m, invite } = await setup();
  const joiner = deps(2);
  assert.equal(await readInviteAnswer(remote, invite, admin), null, 'nobody answered yet');
  const join = await answerInvite(remote, invite.code.toLowerCase().replace(/0/g, 'o'), bob, 'Bob', joiner);
  assert.equal(join.spaceId, m.spaceId);
  assert.equal(join.role, 'writer');
  const answer = (await readInviteAnswer(remote, invite, admin))!;
  assert.equal(answer.name, 'Bob');
  assert.equal(answer.person.personId, bob.personId);
  assert.equal(answer.sas, join.sas);
  assert.match(join.sas, /^\d{3} \d{3}$/);
  assert.equal(await remote.get(inviteKey(invite.c.inviteId, 'offer')), null, 'the offer is gone once answered');
  assert.equal(await readInviteDone(remote, join), null);
  const { seq } = await appendMembership(remote, m, alice, { kind: 'add', person: answer.person, role: invite.role }, admin);
  await closeInvite(remote, invite, { ok: true, admitted: m.pin }, admin);
  const admitted = (await readInviteDone(remote, join))!;
  assert.equal(admitted.seq, seq);
  const seen = await chainOf(remote, join.spaceId);
  checkAdmission(seen, join, admitted);
  assert.equal(seen.member(bob.personId)?.role, 'writer');
});

test('invite: a mistyped code, a code of another kind, and a code whose secret does not open the offer are refused', async () => {
  const { remote, invite } = await setup();
  const joiner = deps(3);
  const typo = invite.code.slice(0, 5) + (invite.code[5] === 'A' ? 'B' : 'A') + invite.code.slice(6);
  await assert.rejects(answerInvite(remote, typo, bob, 'Bob', joiner), is(ErrorCode.BadInviteCode, 'mistyped'));
  await assert.rejects(answerInvite(remote, invite.code.slice(0, 20), bob, 'Bob', joiner), is(ErrorCode.BadInviteCode, 'mistyped'));
  await assert.rejects(answerInvite(remote, generatePairingCode(joiner.random).code, bob, 'Bob', joiner), is(ErrorCode.BadInviteCode, 'not-an-invite'));
  // The right place, the wrong secret: a code made for the same id.
  const id = parseInviteCode(invite.code).inviteId;
  const script = [Uint8Array.from(Buffer.from(id, 'hex')), new Uint8Array(11).fill(5)];
  const wrong = generateInviteCode((n) => script.shift() ?? new Uint8Array(n));
  assert.equal(wrong.inviteId, id);
  await assert.rejects(answerInvite(remote, wrong.code, bob, 'Bob', joiner), is(ErrorCode.BadInviteCode, 'wrong-code'));
  // A code nobody offered.
  await assert.rejects(answerInvite(remote, generateInviteCode(joiner.random).code, bob, 'Bob', joiner), is(ErrorCode.InviteExpired, 'code-gone'));
  // None of it used the invite up.
  await answerInvite(remote, invite.code, bob, 'Bob', joiner);
});

test('invite: a code works once, even on a remote that keeps the offer', async () => {
  const { remote, admin, m, invite } = await setup();
  const join = await answerInvite(remote, invite.code, bob, 'Bob', deps(4));
  // A second invitee racing the first: the answer is taken.
  await assert.rejects(answerInvite(remote, invite.code, carol, 'Carol', deps(5)), is(ErrorCode.InviteExpired, 'used'));
  await decide(remote, m, invite, admin, true);
  checkAdmission(await chainOf(remote, m.spaceId), join, (await readInviteDone(remote, join))!);
  // After it: the offer is gone.
  await assert.rejects(answerInvite(remote, invite.code, carol, 'Carol', deps(6)), is(ErrorCode.InviteExpired, 'code-gone'));
  // A remote that never deleted the offer: the done is there, so the code is spent.
  const keeping: Remote = { ...openMemoryRemote(), delete: async () => undefined };
  const again = await setup(keeping);
  await answerInvite(keeping, again.invite.code, bob, 'Bob', deps(7));
  await decide(keeping, again.m, again.invite, again.admin, true);
  await assert.rejects(answerInvite(keeping, again.invite.code, carol, 'Carol', deps(8)), is(ErrorCode.InviteExpired, 'used'));
  // And the admin's device cannot close it twice.
  await assert.rejects(closeInvite(keeping, again.invite, { ok: false, reason: 'cancelled' }, again.admin), is(ErrorCode.InviteExpired, 'used'));
  assert.equal((await chainOf(keeping, again.m.spaceId)).member(carol.personId), undefined);
});

test('invite: an expired code is refused by the invitee, and an answer after expiry by the admin', async () => {
  const { remote, admin, invite } = await setup();
  const late = deps(9);
  late.advance(TTL + 1000);
  await assert.rejects(answerInvite(remote, invite.code, bob, 'Bob', late), is(ErrorCode.InviteExpired, 'expired'));
  // An answer written in time, read by the admin after the expiry.
  await answerInvite(remote, invite.code, bob, 'Bob', deps(10));
  admin.advance(TTL + 1000);
  await assert.rejects(readInviteAnswer(remote, invite, admin), is(ErrorCode.InviteExpired, 'expired'));
  // Nobody answering at all ends the wait too.
  const quiet = await setup();
  quiet.admin.advance(TTL + 1000);
  await assert.rejects(readInviteAnswer(quiet.remote, quiet.invite, quiet.admin), is(ErrorCode.InviteExpired, 'expired'));
  assert.equal(await quiet.remote.get(inviteKey(quiet.invite.c.inviteId, 'offer')), null, 'the expired offer is removed');
});

const INVITE = { version: 3, domain: 'kith/v1/invite' };

/**
 * A remote that learned the code and sits between the two: it answers the
 * admin's offer with mallory's identity, and shows bob an offer with its
 * own ephemeral key, keeping bob's answer from the admin.
 */
async function manInTheMiddle(real: Remote, code: string): Promise<Remote> {
  const c = parseInviteCode(code);
  const channel = { id: c.inviteId, secret: c.secret };
  const offer = await openMessage<Record<string, unknown>>(INVITE, channel, 'offer', (await real.get(inviteKey(c.inviteId, 'offer')))!, '');
  await answerInvite(real, code, mallory, 'Bob', deps(20));
  const forgedOffer = await sealMessage(
    INVITE,
    channel,
    'offer',
    { ...offer, eph: toBase64url(boxKeyFromSecret(new Uint8Array(32).fill(9)).pub) },
    seededRandom(21),
  );
  const shadow = new Map<string, Uint8Array>();
  return {
    ...real,
    get: async (key) => (key.endsWith('/offer') ? forgedOffer : (shadow.get(key) ?? real.get(key))),
    put: async (key, bytes) => void shadow.set(key, bytes),
    head: async (key) => (key.endsWith('/offer') ? { key, size: forgedOffer.length, etag: 'x' } : real.head(key)),
  };
}

test('invite: a man-in-the-middle remote that substitutes keys shows two different strings, and confirmation fails closed', async () => {
  for (const adminConfirms of [false, true]) {
    const { remote, admin, m, invite } = await setup();
    const bobSees = await manInTheMiddle(remote, invite.code);
    const join = await answerInvite(bobSees, invite.code, bob, 'Bob', deps(22));
    const answer = (await readInviteAnswer(remote, invite, admin))!;
    assert.equal(answer.name, 'Bob', 'the substitute claims the invitee’s name');
    assert.equal(answer.person.personId, mallory.personId);
    assert.notEqual(answer.sas, join.sas, 'the strings on the two screens differ');
    if (!adminConfirms) {
      // The user compares the screens and says no: nothing is added, the invitee is told.
      await closeInvite(remote, invite, { ok: false, reason: 'declined' }, admin);
      await assert.rejects(readInviteDone(bobSees, join), is(ErrorCode.InviteDeclined));
      assert.deepEqual(
        (await chainOf(remote, m.spaceId)).members().map((x) => x.personId),
        [alice.personId],
      );
      assert.equal(await remote.get(membershipKey(2)), null);
    } else {
      // Confirmed against the advice of the strings: the invitee's device still refuses, since the chain admits another key.
      await appendMembership(remote, m, alice, { kind: 'add', person: answer.person, role: invite.role }, admin);
      await closeInvite(remote, invite, { ok: true, admitted: m.pin }, admin);
      const admitted = (await readInviteDone(bobSees, join))!;
      assert.throws(() => checkAdmission(m, join, admitted), is(ErrorCode.IntegrityCorrupt));
    }
  }
});

test('invite: the invitee refuses a chain that is not the offered one, or an inviter who is not an admin', async () => {
  const { remote, admin, m, invite } = await setup();
  const join = await answerInvite(remote, invite.code, bob, 'Bob', deps(30));
  await decide(remote, m, invite, admin, true);
  const admitted = (await readInviteDone(remote, join))!;
  // A chain rolled back to before the admitting entry.
  const before = Membership.empty(m.spaceId);
  await before.accept((await remote.get(membershipKey(1)))!);
  assert.throws(() => checkAdmission(before, join, admitted), is(ErrorCode.IntegrityRollback));
  // Another space altogether.
  const elsewhere = await createSpace(openMemoryRemote(), alice, deps(31));
  assert.throws(() => checkAdmission(elsewhere, join, admitted), is(ErrorCode.IntegrityCorrupt));
  // An offer naming an inviter the chain does not hold as an admin.
  assert.throws(() => checkAdmission(m, { ...join, admin: carol }, admitted), is(ErrorCode.IntegrityUnknownSigner));
  checkAdmission(m, join, admitted);
});

test('invite: bad input is refused before anything is written; a malformed message from a code holder is refused as corrupt', async () => {
  const { remote, admin, m, invite } = await setup();
  await assert.rejects(
    offerInvite(remote, { spaceId: m.spaceId, role: 'owner' as 'admin', admin: alice, chain: m.pin, ttlMs: TTL }, admin),
    is(ErrorCode.BadInput),
  );
  await assert.rejects(offerInvite(remote, { spaceId: m.spaceId, role: 'reader', admin: alice, chain: m.pin, ttlMs: 0 }, admin), is(ErrorCode.BadInput));
  assert.equal((await remote.list('invites/')).length, 1, 'only the first offer is there');
  await assert.rejects(answerInvite(remote, invite.code, bob, 'B'.repeat(201), deps(40)), is(ErrorCode.BadInput));
  assert.equal(await remote.get(inviteKey(invite.c.inviteId, 'answer')), null);
  // Someone holding the code writes an answer whose fields are not what they should be.
  const channel = { id: invite.c.inviteId, secret: invite.c.secret };
  const garbage = await sealMessage(
    INVITE,
    channel,
    'answer',
    { v: 1, personId: bob.personId, name: 'Bob', signPub: 'not base64!', boxPub: 7, eph: '', sig: '' },
    seededRandom(41),
  );
  await remote.put(inviteKey(invite.c.inviteId, 'answer'), garbage);
  await assert.rejects(readInviteAnswer(remote, invite, admin), is(ErrorCode.IntegrityCorrupt));
});
