import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom, type Deps } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { concatBytes, ed25519Sign, hexToBytes, sha256, toBase64url, utf8 } from '../crypto/index.js';
import { openMessage, sealMessage } from '../identity/one-time-code.js';
import type { Remote } from '../ports/remote.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { ownDevices, spaceActorOf, testPerson, type TestPerson } from '../testing/space-people.js';
import { adminInvite, joinInvite, type AdminInviteOptions } from './invite-flow.js';
import { generateInviteCode, inviteKey, parseInviteCode } from './invite.js';
import { createSharedSpace, currentSpaceKey } from './space-ops.js';
import { SpaceState } from './space-state.js';

const is = (code: ErrorCode, reason?: string) => (e: unknown) => KithError.is(e, code) && (reason === undefined || e.reason === reason);
const alice = testPerson(1, [11, 12]);
const bob = testPerson(2, [21, 22]);
const carol = testPerson(3, [31]);
const mallory = testPerson(4, [41]);
/** Real time: the flows wait on it. No assertion depends on how long anything takes. */
const depsOf = (seed: number): Deps => ({ random: seededRandom(seed), now: () => Date.now() });
const POLL = 5;

async function space(remote: Remote = openMemoryRemote()) {
  const { spaceId, state } = await createSharedSpace(remote, spaceActorOf(alice), ownDevices(alice.devices), depsOf(1));
  return { remote, spaceId, state };
}

/** A promise with its resolver, to hand the invitee's string to the admin's confirmation. */
function later<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The admin and the invitee at once: the code goes from onCode to the
 * invitee, the invitee's string to the admin's confirmation, which says
 * yes when the two are equal (what a user comparing the screens does).
 */
async function inviteAndJoin(
  remote: Remote,
  state: SpaceState,
  who: TestPerson,
  o: { inviteeRemote?: (code: string) => Promise<Remote>; confirm?: AdminInviteOptions['confirm'] } = {},
) {
  const code = later<string>();
  const inviteeSas = later<string>();
  // Once the invitee's side ended, the admin's device stops waiting to seal the key to them (as a user's Ctrl-C would).
  const stopSharing = new AbortController();
  const admin = adminInvite(
    remote,
    state,
    spaceActorOf(alice),
    {
      signal: stopSharing.signal,
      pollMs: POLL,
      timeoutMs: 120_000,
      onCode: (c) => code.resolve(c),
      confirm: o.confirm ?? (async (sas) => sas === (await inviteeSas.promise)),
    },
    depsOf(2),
  );
  const join = (async () => {
    const c = await code.promise;
    const r = o.inviteeRemote ? await o.inviteeRemote(c) : remote;
    return joinInvite(r, c, spaceActorOf(who), ownDevices(who.devices), 'Bob', { pollMs: POLL, timeoutMs: 120_000, onSas: inviteeSas.resolve }, depsOf(3));
  })().finally(() => stopSharing.abort());
  const [a, j] = await Promise.allSettled([admin, join]);
  return { a, j, code: await code.promise };
}

test('invite flow: the admin and the invitee run at once, see the same string, and the invitee ends a member holding the current key', async () => {
  const { remote, spaceId, state } = await space();
  const { a, j } = await inviteAndJoin(remote, state, bob);
  assert.equal(a.status, 'fulfilled', String((a as PromiseRejectedResult).reason));
  assert.equal(j.status, 'fulfilled', String((j as PromiseRejectedResult).reason));
  const admin = (a).value;
  const joined = (j).value;
  assert.equal(admin.sas, joined.sas);
  assert.match(admin.sas, /^\d{3} \d{3}$/);
  assert.deepEqual([admin.personId, admin.name, admin.role], [bob.keys.personId, 'Bob', 'writer']);
  assert.deepEqual([joined.spaceId, joined.role], [spaceId, 'writer']);
  // Both of bob's devices were certified and got the current key (sealed by alice's device right after the done).
  const key = (await currentSpaceKey(remote, state, spaceActorOf(alice)))!;
  assert.deepEqual(joined.epochKey, key.epochKey);
  const fresh = new SpaceState(spaceId);
  for (const d of bob.devices) assert.deepEqual((await currentSpaceKey(remote, fresh, spaceActorOf(bob, d)))?.epochKey, key.epochKey);
  assert.equal(fresh.m.member(bob.keys.personId)?.role, 'writer');
  assert.equal(fresh.certs(bob.keys.personId)?.version, 1);
  assert.deepEqual(
    (await remote.list('invites/')).filter((o) => o.key.endsWith('/offer')),
    [],
    'no offer is left',
  );
});

test('invite flow: a reused code is refused, and the person it admitted stays the only one admitted', async () => {
  const { remote, spaceId, state } = await space();
  const { a, code } = await inviteAndJoin(remote, state, bob);
  assert.equal(a.status, 'fulfilled');
  await assert.rejects(
    joinInvite(remote, code, spaceActorOf(carol), ownDevices(carol.devices), 'Carol', { pollMs: POLL }, depsOf(5)),
    is(ErrorCode.InviteExpired, 'code-gone'),
  );
  const fresh = await new SpaceState(spaceId).refresh(remote);
  assert.deepEqual(
    fresh.m
      .members()
      .map((m) => m.personId)
      .sort(),
    [alice.keys.personId, bob.keys.personId].sort(),
  );
});

test('invite flow: a mistyped or unknown code is refused on the invitee’s side; cancelling the admin’s wait adds nobody', async () => {
  const { remote, spaceId, state } = await space();
  const stop = new AbortController();
  const code = later<string>();
  const admin = adminInvite(
    remote,
    state,
    spaceActorOf(alice),
    { pollMs: POLL, signal: stop.signal, onCode: code.resolve, confirm: async () => true },
    depsOf(6),
  );
  const real = await code.promise;
  const join = (text: string) => joinInvite(remote, text, spaceActorOf(bob), ownDevices(bob.devices), 'Bob', { pollMs: POLL }, depsOf(7));
  // One character changed: the checksum catches it.
  const typo = real.replace(/^./, (ch) => (ch === 'A' ? 'B' : 'A'));
  await assert.rejects(join(typo), is(ErrorCode.BadInviteCode));
  // A well-formed code nobody offered.
  await assert.rejects(join(generateInviteCode(seededRandom(8)).code), is(ErrorCode.InviteExpired, 'code-gone'));
  const { inviteId } = parseInviteCode(real);
  stop.abort();
  await assert.rejects(admin, is(ErrorCode.Aborted));
  const fresh = await new SpaceState(spaceId).refresh(remote);
  assert.equal(fresh.m.seq, 1, 'nobody was added');
  assert.equal(await remote.get(inviteKey(inviteId, 'offer')), null, 'the cancelled offer is gone');
});

test('invite flow: an expired code is refused; an admin who never confirms lets the invitee know it expired', async () => {
  const { remote, spaceId, state } = await space();
  // Nobody answers in time.
  const code = later<string>();
  await assert.rejects(
    adminInvite(remote, state, spaceActorOf(alice), { pollMs: POLL, timeoutMs: 50, onCode: code.resolve, confirm: async () => true }, depsOf(10)),
    is(ErrorCode.InviteExpired),
  );
  await assert.rejects(
    joinInvite(remote, await code.promise, spaceActorOf(bob), ownDevices(bob.devices), 'Bob', { pollMs: POLL }, depsOf(11)),
    is(ErrorCode.InviteExpired),
  );
  // The invitee answers; the admin's user never does: the code's time runs out and the invitee is told.
  const { a, j } = await inviteAndJoinWithin(remote, state, 300);
  assert.ok(a.status === 'rejected' && KithError.is(a.reason, ErrorCode.InviteExpired), String((a as PromiseRejectedResult).reason));
  assert.ok(
    j.status === 'rejected' && KithError.is(j.reason, ErrorCode.InviteExpired) && j.reason.reason === 'admin-expired',
    String((j as PromiseRejectedResult).reason),
  );
  assert.equal((await new SpaceState(spaceId).refresh(remote)).m.seq, 1);
});

async function inviteAndJoinWithin(remote: Remote, state: SpaceState, timeoutMs: number) {
  const code = later<string>();
  const admin = adminInvite(
    remote,
    state,
    spaceActorOf(alice),
    { pollMs: POLL, timeoutMs, onCode: code.resolve, confirm: () => new Promise<boolean>(() => undefined) },
    depsOf(12),
  );
  const join = (async () =>
    joinInvite(remote, await code.promise, spaceActorOf(bob), ownDevices(bob.devices), 'Bob', { pollMs: POLL, timeoutMs: 120_000 }, depsOf(13)))();
  const [a, j] = await Promise.allSettled([admin, join]);
  return { a, j };
}

test('invite flow: the admin’s user says no: both sides end declined and nobody is added', async () => {
  const { remote, spaceId, state } = await space();
  const { a, j } = await inviteAndJoin(remote, state, bob, { confirm: async () => false });
  assert.ok(a.status === 'rejected' && KithError.is(a.reason, ErrorCode.InviteDeclined));
  assert.ok(j.status === 'rejected' && KithError.is(j.reason, ErrorCode.InviteDeclined));
  assert.equal((await new SpaceState(spaceId).refresh(remote)).m.seq, 1);
});

const INVITE = { version: 3, domain: 'kith/v1/invite' };

/**
 * A remote that learned the code and sits between the two: the admin gets
 * mallory's answer (mallory's identity, claiming bob's name, with a valid
 * proof over the real offer), bob writes into a shadow the admin never
 * reads, and everything else passes through.
 */
function manInTheMiddle(real: Remote, code: string): Remote {
  const c = parseInviteCode(code);
  const channel = { id: c.inviteId, secret: c.secret };
  const shadow = new Map<string, Uint8Array>();
  const answerKey = inviteKey(c.inviteId, 'answer');
  const forge = async () => {
    const offerBytes = (await real.get(inviteKey(c.inviteId, 'offer')))!;
    // Only a holder of the code opens the offer: this remote learned it.
    await openMessage(INVITE, channel, 'offer', offerBytes, '');
    const m = mallory.keys;
    const body = { personId: m.personId, name: 'Bob', signPub: toBase64url(m.signPub), boxPub: toBase64url(m.boxPub), eph: toBase64url(m.boxPub) };
    const proof = concatBytes(
      utf8('kith/v1/invite/answer'),
      hexToBytes(c.inviteId),
      await sha256(offerBytes),
      utf8(JSON.stringify([body.personId, body.name, body.signPub, body.boxPub, body.eph])),
    );
    const sig = toBase64url(await ed25519Sign(m.sign.seed, proof));
    await real.put(answerKey, await sealMessage(INVITE, channel, 'answer', { v: 1, ...body, sig }, seededRandom(40)), { ifAbsent: true });
  };
  return {
    ...real,
    get: async (key) => shadow.get(key) ?? real.get(key),
    head: async (key) => (shadow.has(key) ? { key, size: shadow.get(key)!.length, etag: 'shadow' } : real.head(key)),
    put: async (key, bytes, o) => {
      if (key !== answerKey) return real.put(key, bytes, o);
      await forge();
      shadow.set(key, bytes);
    },
  };
}

test('invite flow: a man-in-the-middle remote that substitutes keys shows two different strings; confirmation fails closed on both sides', async () => {
  // The admin is shown the substitute's identity; the user says no.
  {
    const { remote, spaceId, state } = await space();
    const seen: string[] = [];
    const { a, j } = await inviteAndJoin(remote, state, bob, {
      inviteeRemote: async (code) => manInTheMiddle(remote, code),
      confirm: async (sas, who) => {
        seen.push(sas, who.personId);
        return false;
      },
    });
    assert.ok(a.status === 'rejected' && KithError.is(a.reason, ErrorCode.InviteDeclined));
    assert.ok(j.status === 'rejected' && KithError.is(j.reason, ErrorCode.InviteDeclined));
    assert.equal(seen[1], mallory.keys.personId, 'the admin was shown the substitute');
    assert.equal((await new SpaceState(spaceId).refresh(remote)).m.seq, 1);
  }
  // A user comparing the screens: the strings differ, so the admin says no.
  {
    const { remote, spaceId, state } = await space();
    const { a, j } = await inviteAndJoin(remote, state, bob, { inviteeRemote: async (code) => manInTheMiddle(remote, code) });
    assert.ok(a.status === 'rejected' && KithError.is(a.reason, ErrorCode.InviteDeclined), 'the strings differ');
    assert.ok(j.status === 'rejected' && KithError.is(j.reason, ErrorCode.InviteDeclined));
    assert.equal((await new SpaceState(spaceId).refresh(remote)).m.seq, 1);
  }
  // Confirmed against the strings: the chain admits mallory's key, and bob's device refuses it.
  {
    const { remote, spaceId, state } = await space();
    const { a, j } = await inviteAndJoin(remote, state, bob, { inviteeRemote: async (code) => manInTheMiddle(remote, code), confirm: async () => true });
    assert.equal(a.status, 'fulfilled');
    assert.ok(j.status === 'rejected' && KithError.is(j.reason, ErrorCode.IntegrityCorrupt), String((j as PromiseRejectedResult).reason));
    const fresh = await new SpaceState(spaceId).refresh(remote);
    assert.equal(fresh.certs(bob.keys.personId), undefined, 'bob certified nothing in a space that did not admit him');
  }
});
