import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import type { Remote } from '../ports/remote.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { scheduledRemote } from '../testing/space-people.js';
import { encodeMembershipEntry, membershipKey, type MembershipChange, type Role } from './membership-entry.js';
import { appendMembership, createSpace, Membership, type MembershipIntent } from './membership.js';
import { personKeysFromSecret, type PersonKeys } from './person.js';

const is = (code: ErrorCode) => (e: unknown) => KithError.is(e, code);
const person = (n: number): PersonKeys => personKeysFromSecret(new Uint8Array(32).fill(n));
const [alice, bob, carol, dave, erin] = [1, 2, 3, 4, 5].map(person) as [PersonKeys, PersonKeys, PersonKeys, PersonKeys, PersonKeys];
const names = new Map([alice, bob, carol, dave, erin].map((p, i) => [p.personId, ['alice', 'bob', 'carol', 'dave', 'erin'][i]!]));

function clock(start = 1_767_225_600_000): () => number {
  let t = start;
  return () => t++;
}

/** A space founded by alice with bob as a second admin, carol a writer, dave a reader. */
async function space(seed = 1, remote = openMemoryRemote()) {
  const deps = { random: seededRandom(seed), now: clock() };
  const m = await createSpace(remote, alice, deps);
  await appendMembership(remote, m, alice, { kind: 'add', person: bob, role: 'admin' }, deps);
  await appendMembership(remote, m, alice, { kind: 'add', person: carol, role: 'writer' }, deps);
  await appendMembership(remote, m, bob, { kind: 'add', person: dave, role: 'reader' }, deps);
  return { remote, m, deps };
}

async function entries(remote: Remote): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let b; (b = await remote.get(membershipKey(out.length + 1)));) out.push(b);
  return out;
}

const roster = (m: Membership): string[] => m.members().map((x) => `${names.get(x.personId)}:${x.role}`);

test('membership: create, add, role, remove and leave; the role at every seq is kept', async () => {
  const { remote, m, deps } = await space();
  assert.deepEqual(roster(m).sort(), ['alice:admin', 'bob:admin', 'carol:writer', 'dave:reader']);
  assert.equal((await appendMembership(remote, m, alice, { kind: 'role', personId: dave.personId, role: 'writer' }, deps)).seq, 5);
  assert.equal((await appendMembership(remote, m, bob, { kind: 'remove', personId: carol.personId }, deps)).seq, 6);
  assert.equal((await appendMembership(remote, m, dave, { kind: 'leave' }, deps)).seq, 7);
  assert.deepEqual(roster(m).sort(), ['alice:admin', 'bob:admin']);
  // Role at a point of the chain: what a segment naming that seq is checked against.
  assert.equal(m.roleAt(dave.personId, 3), null);
  assert.equal(m.roleAt(dave.personId, 4), 'reader');
  assert.equal(m.roleAt(dave.personId, 5), 'writer');
  assert.equal(m.roleAt(dave.personId, 7), null);
  assert.equal(m.canWriteAt(dave.personId, 4), false);
  assert.equal(m.canWriteAt(dave.personId, 5), true);
  assert.equal(m.canWriteAt(carol.personId, 5), true);
  assert.equal(m.canWriteAt(carol.personId, 6), false);
  assert.equal(m.canWriteAt(carol.personId, 99), false, 'a seq beyond the verified chain proves nothing');
  // Every replica verifying the bytes reaches the same state.
  const again = await Membership.verify(m.spaceId, await entries(remote), m.pin);
  assert.deepEqual(roster(again), roster(m));
  assert.deepEqual(again.hash, m.hash);
});

test('membership rules: only admins change membership; the last admin can neither be demoted nor leave while others remain', async () => {
  const remote = openMemoryRemote();
  const deps = { random: seededRandom(2), now: clock() };
  const m = await createSpace(remote, alice, deps);
  await appendMembership(remote, m, alice, { kind: 'add', person: carol, role: 'writer' }, deps);
  const dropped = async (signer: PersonKeys, intent: MembershipIntent) => assert.equal((await appendMembership(remote, m, signer, intent, deps)).seq, null);
  await dropped(carol, { kind: 'add', person: dave, role: 'reader' });
  await dropped(carol, { kind: 'remove', personId: alice.personId });
  await dropped(alice, { kind: 'role', personId: alice.personId, role: 'writer' });
  await dropped(alice, { kind: 'leave' });
  await dropped(alice, { kind: 'remove', personId: alice.personId });
  await dropped(alice, { kind: 'add', person: carol, role: 'reader' });
  await dropped(alice, { kind: 'role', personId: carol.personId, role: 'writer' });
  await dropped(alice, { kind: 'remove', personId: dave.personId });
  await dropped(dave, { kind: 'leave' });
  assert.equal(m.seq, 2);
  // Promote first, then the former last admin may leave.
  await appendMembership(remote, m, alice, { kind: 'role', personId: carol.personId, role: 'admin' }, deps);
  assert.equal((await appendMembership(remote, m, alice, { kind: 'leave' }, deps)).seq, 4);
  // The last member leaving closes the space.
  assert.equal((await appendMembership(remote, m, carol, { kind: 'leave' }, deps)).seq, 5);
  assert.equal(m.closed, true);
  await dropped(carol, { kind: 'add', person: carol, role: 'admin' });
});

const deps = () => ({ random: seededRandom(9), now: clock() });

/** Signs `change` as `signer` at the end of `m` without any rule check: what a hostile member could write. */
async function forge(m: Membership, signer: PersonKeys, change: MembershipChange, signWith: PersonKeys = signer, spaceId = m.spaceId) {
  return (await encodeMembershipEntry(spaceId, { seq: m.seq + 1, prevHash: m.hash, at: 1, signer: signer.personId, change }, signWith.sign.seed)).bytes;
}

test('membership verification refuses forged signers and entries that break the rules', async () => {
  const { remote, m } = await space();
  const bytes = await entries(remote);
  const fresh = () => Membership.verify(m.spaceId, bytes);
  const add = (p: PersonKeys, role: Role): MembershipChange => ({ kind: 'add', personId: p.personId, signPub: p.signPub, boxPub: p.boxPub, role });
  // A writer, a reader, and a stranger adding someone: unauthorized signers.
  await assert.rejects((await fresh()).accept(await forge(m, carol, add(erin, 'admin'))), is(ErrorCode.IntegrityUnknownSigner));
  await assert.rejects(
    (await fresh()).accept(await forge(m, dave, { kind: 'role', personId: dave.personId, role: 'admin' })),
    is(ErrorCode.IntegrityUnknownSigner),
  );
  await assert.rejects((await fresh()).accept(await forge(m, erin, add(erin, 'admin'))), is(ErrorCode.IntegrityUnknownSigner));
  // An admin's personId with another key's signature: a forged signature.
  await assert.rejects((await fresh()).accept(await forge(m, alice, add(erin, 'admin'), erin)), is(ErrorCode.IntegrityCorrupt));
  // Signed by an admin, but against the rules.
  await assert.rejects((await fresh()).accept(await forge(m, alice, add(carol, 'reader'))), is(ErrorCode.IntegrityCorrupt));
  await assert.rejects((await fresh()).accept(await forge(m, alice, { kind: 'remove', personId: alice.personId })), is(ErrorCode.IntegrityCorrupt));
  await assert.rejects((await fresh()).accept(await forge(m, alice, { kind: 'remove', personId: erin.personId })), is(ErrorCode.IntegrityCorrupt));
  await assert.rejects(
    (await fresh()).accept(await forge(m, alice, { kind: 'role', personId: carol.personId, role: 'writer' })),
    is(ErrorCode.IntegrityCorrupt),
  );
  // An added person whose id is not their key's.
  await assert.rejects(
    (await fresh()).accept(await forge(m, alice, { ...(add(erin, 'reader') as Extract<MembershipChange, { kind: 'add' }>), personId: dave.personId })),
    is(ErrorCode.IntegrityCorrupt),
  );
  // A second create, and a first entry that is not a create.
  await assert.rejects(
    (await fresh()).accept(await forge(m, alice, { kind: 'create', nonce: new Uint8Array(16), signPub: alice.signPub, boxPub: alice.boxPub })),
    is(ErrorCode.IntegrityCorrupt),
  );
  await assert.rejects(
    Membership.empty(m.spaceId).accept(await forge(Membership.empty(m.spaceId), alice, add(erin, 'reader'))),
    is(ErrorCode.IntegrityCorrupt),
  );
  // The last admin demoted, or leaving others behind, by a forged entry.
  const soloRemote = openMemoryRemote();
  const solo = await createSpace(soloRemote, alice, { random: seededRandom(5), now: clock() });
  await appendMembership(soloRemote, solo, alice, { kind: 'add', person: carol, role: 'writer' }, deps());
  const soloBytes = await entries(soloRemote);
  const soloFresh = () => Membership.verify(solo.spaceId, soloBytes);
  await assert.rejects(
    (await soloFresh()).accept(await forge(solo, alice, { kind: 'role', personId: alice.personId, role: 'reader' })),
    is(ErrorCode.IntegrityCorrupt),
  );
  await assert.rejects((await soloFresh()).accept(await forge(solo, alice, { kind: 'leave' })), is(ErrorCode.IntegrityCorrupt));
});

test('membership verification refuses tampering, replay, reordering, rollback, forks and another space', async () => {
  const { remote, m } = await space();
  const bytes = await entries(remote);
  // Any flipped bit of any entry.
  await fc.assert(
    fc.asyncProperty(fc.nat(bytes.length - 1), fc.nat(), fc.integer({ min: 0, max: 7 }), async (i, at, bit) => {
      const t = bytes.map((b) => b.slice());
      t[i]![at % t[i]!.length]! ^= 1 << bit;
      await assert.rejects(
        Membership.verify(m.spaceId, t),
        (e: unknown) => e instanceof KithError && (e.code.startsWith('KITH_INTEGRITY_') || e.code === ErrorCode.UnsupportedFormat),
      );
    }),
    { numRuns: 200 },
  );
  // Truncated or extended.
  await assert.rejects(Membership.verify(m.spaceId, [bytes[0]!, bytes[1]!.subarray(0, 100)]), is(ErrorCode.IntegrityCorrupt));
  await assert.rejects(Membership.verify(m.spaceId, [bytes[0]!, Uint8Array.of(...bytes[1]!, 0)]), is(ErrorCode.IntegrityCorrupt));
  // Replayed (an entry served again at the next seq) and reordered.
  await assert.rejects(Membership.verify(m.spaceId, [...bytes, bytes[3]!]), is(ErrorCode.IntegrityChain));
  await assert.rejects(Membership.verify(m.spaceId, [bytes[0]!, bytes[2]!, bytes[1]!]), is(ErrorCode.IntegrityChain));
  // Rolled back behind a position seen before, or forked at it.
  await assert.rejects(Membership.verify(m.spaceId, bytes.slice(0, 3), m.pin), is(ErrorCode.IntegrityRollback));
  const upTo3 = await Membership.verify(m.spaceId, bytes.slice(0, 3));
  const otherFourth = await forge(upTo3, bob, { kind: 'add', personId: erin.personId, signPub: erin.signPub, boxPub: erin.boxPub, role: 'reader' });
  await assert.rejects(Membership.verify(m.spaceId, [...bytes.slice(0, 3), otherFourth], m.pin), is(ErrorCode.IntegrityChain));
  const other = await space(2);
  // Another space's chain, even one with the same people.
  await assert.rejects(Membership.verify(m.spaceId, await entries(other.remote)), is(ErrorCode.IntegrityCorrupt));
  await assert.rejects(Membership.verify(other.m.spaceId, bytes), is(ErrorCode.IntegrityCorrupt));
  // The untouched chain still verifies at its pin.
  assert.equal((await Membership.verify(m.spaceId, bytes, m.pin)).seq, 4);
});

const people = [alice, bob, carol, dave, erin];
const roleArb = fc.constantFrom<Role>('admin', 'writer', 'reader');
const intentArb: fc.Arbitrary<MembershipIntent> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), person: fc.constantFrom(...people), role: roleArb }),
  fc.record({ kind: fc.constant('role' as const), personId: fc.constantFrom(...people.map((p) => p.personId)), role: roleArb }),
  fc.record({ kind: fc.constant('remove' as const), personId: fc.constantFrom(...people.map((p) => p.personId)) }),
  fc.constant({ kind: 'leave' as const }),
);

test('membership: any interleaving of admins changing membership concurrently converges to one chain on every replica', async () => {
  let races = 0;
  await fc.assert(
    // Three writers: alice, bob, and bob again on a second device (the same person racing themselves).
    fc.asyncProperty(fc.scheduler(), fc.array(fc.array(intentArb, { maxLength: 4 }), { minLength: 3, maxLength: 3 }), async (s, wants) => {
      const base = openMemoryRemote();
      const deps = { random: seededRandom(3), now: clock() };
      const founded = await createSpace(base, alice, deps);
      await appendMembership(base, founded, alice, { kind: 'add', person: bob, role: 'admin' }, deps);
      const shared = scheduledRemote(base, s);
      const replicas = await Promise.all([0, 1, 2].map(async () => Membership.verify(founded.spaceId, await entries(base))));
      const run = async (i: number, admin: PersonKeys, intents: MembershipIntent[]) => {
        let applied = 0;
        let lost = 0;
        for (const intent of intents) {
          const r = await appendMembership(shared, replicas[i]!, admin, intent, deps);
          if (r.seq !== null) applied++;
          lost += r.lost;
        }
        return { applied, lost };
      };
      const applied = await s.waitFor(Promise.all([run(0, alice, wants[0]!), run(1, bob, wants[1]!), run(2, bob, wants[2]!)]));
      // Each replica catches up; a third reads the chain from scratch.
      for (const r of replicas) await r.refresh(base);
      const reader = await Membership.verify(founded.spaceId, await entries(base));
      for (const r of replicas) {
        assert.deepEqual(roster(r), roster(reader));
        assert.deepEqual(r.hash, reader.hash);
      }
      // One entry per applied intent, none lost and none doubled.
      assert.equal(reader.seq, 2 + applied.reduce((n, a) => n + a.applied, 0));
      races += applied.reduce((n, a) => n + a.lost, 0);
    }),
    { numRuns: 60 },
  );
  assert.ok(races > 0, 'the interleavings included lost races');
});

test('membership: bad input is refused before anything is written', async () => {
  const { remote, m, deps } = await space(4);
  const before = await entries(remote);
  const bad = async (intent: MembershipIntent) => assert.rejects(appendMembership(remote, m, alice, intent, deps), is(ErrorCode.BadInput));
  await bad({ kind: 'add', person: { ...erin, personId: dave.personId }, role: 'reader' });
  await bad({ kind: 'add', person: erin, role: 'owner' as Role });
  await bad({ kind: 'role', personId: carol.personId, role: 'superuser' as Role });
  await bad({ kind: 'remove', personId: 'not-a-person' });
  await bad({ kind: 'rename' } as unknown as MembershipIntent);
  assert.deepEqual(await entries(remote), before);
  assert.equal(m.seq, before.length);
  assert.throws(() => Membership.empty('not-a-space'), is(ErrorCode.BadInput));
});

/** The role rules written plainly, apart from the chain's code: what the chain must agree with. */
function referenceStep(members: Map<string, Role>, signer: string, intent: MembershipIntent): boolean {
  const self = members.get(signer);
  const admins = [...members.values()].filter((r) => r === 'admin').length;
  if (self === undefined) return false;
  if (intent.kind === 'leave') {
    if (self === 'admin' && admins === 1 && members.size > 1) return false;
    members.delete(signer);
    return true;
  }
  if (self !== 'admin') return false;
  if (intent.kind === 'add') {
    if (members.has(intent.person.personId)) return false;
    members.set(intent.person.personId, intent.role);
    return true;
  }
  const target = members.get(intent.personId);
  if (target === undefined) return false;
  if (intent.kind === 'remove') {
    if (intent.personId === signer) return false;
    members.delete(intent.personId);
    return true;
  }
  if (target === intent.role || (target === 'admin' && admins === 1)) return false;
  members.set(intent.personId, intent.role);
  return true;
}

test('membership: any sequence of changes by anyone gives the members and refusals of the plainly written rules', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...people), intentArb), { maxLength: 25 }), async (steps) => {
      const remote = openMemoryRemote();
      const deps = { random: seededRandom(6), now: clock() };
      const m = await createSpace(remote, alice, deps);
      const model = new Map<string, Role>([[alice.personId, 'admin']]);
      for (const [signer, intent] of steps) {
        const applied = (await appendMembership(remote, m, signer, intent, deps)).seq !== null;
        assert.equal(applied, model.size > 0 && referenceStep(model, signer.personId, intent), `${names.get(signer.personId)} ${JSON.stringify(intent.kind)}`);
        assert.deepEqual(
          m.members().map((x) => [x.personId, x.role]),
          [...model].sort(([a], [b]) => (a < b ? -1 : 1)),
        );
      }
      // Every replica reading the bytes agrees, and every seq answers the role it had.
      const again = await Membership.verify(m.spaceId, await entries(remote));
      assert.deepEqual(roster(again), roster(m));
    }),
    { numRuns: 80 },
  );
});
