import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesEqual } from '../crypto/index.js';
import type { Remote } from '../ports/remote.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { ownDevices, scheduledRemote, spaceActorOf, testPerson, type TestDevice, type TestPerson } from '../testing/space-people.js';
import { op, texts } from '../testing/space-segment-scenarios.js';
import { spaceDeps } from '../testing/space-world.js';
import { checkEpochSeals, openSpaceEpochKey } from './epochs.js';
import { appendMembership } from './membership.js';
import type { Role } from './membership-entry.js';
import {
  certifyOwnDevices,
  createSharedSpace,
  currentSpaceKey,
  keepSpaceKeys,
  leaveSpace,
  removeMember,
  setMemberRole,
  shareKeysWithNewDevices,
  type SpaceOpsDeps,
} from './space-ops.js';
import { pushSpaceSegment, readSpaceSegments, SPACE_CHAIN_START } from './space-segments.js';
import { SpaceState } from './space-state.js';

const is = (code: ErrorCode, reason?: string) => (e: unknown) => KithError.is(e, code) && (reason === undefined || e.reason === reason);
const alice = testPerson(1, [11, 12]);
const bob = testPerson(2, [21, 22]);
const carol = testPerson(3, [31, 32]);
const dave = testPerson(4, [41]);

/** A device's own view of the space, as a separate client would have. */
const view = (remote: Remote, spaceId: string) => new SpaceState(spaceId).refresh(remote);
const keyOf = async (remote: Remote, spaceId: string, d: TestDevice, epoch: number) => {
  const s = await view(remote, spaceId);
  return openSpaceEpochKey(remote, { m: s.m, epochs: s.epochs, certs: s.certs, epoch, deviceId: d.deviceId, boxSecret: d.box.secret });
};

/** Alice's space with `others` added by her (each certifying their `devices`), the current key sealed to every device. */
type Joining = readonly [TestPerson, Role] | readonly [TestPerson, Role, readonly TestDevice[]];
async function world(others: readonly Joining[], remote: Remote = openMemoryRemote(), seed = 1) {
  const deps = spaceDeps(seed);
  const { spaceId, state } = await createSharedSpace(remote, spaceActorOf(alice), ownDevices(alice.devices), deps);
  for (const [p, role, devices = p.devices] of others as readonly (readonly [TestPerson, Role, (readonly TestDevice[])?])[]) {
    await appendMembership(remote, state.m, alice.keys, { kind: 'add', person: p.keys, role }, deps);
    const own = await view(remote, spaceId);
    assert.equal(await certifyOwnDevices(remote, own, spaceActorOf(p, devices[0]), ownDevices(devices), deps), true);
  }
  const kept = await keepSpaceKeys(remote, state, spaceActorOf(alice), deps);
  assert.equal(kept.started, null, 'adding members starts no epoch');
  return { remote, spaceId, state, deps };
}

test('space ops: founding writes entry 1, the founder’s certificate and epoch 0 sealed to their devices; refused input writes nothing', async () => {
  const remote = openMemoryRemote();
  const deps = spaceDeps(2);
  // The acting device must be among the devices it certifies.
  await assert.rejects(createSharedSpace(remote, spaceActorOf(alice), ownDevices([alice.devices[1]!]), deps), is(ErrorCode.BadInput));
  assert.deepEqual(await remote.list(''), []);
  const { spaceId, state } = await createSharedSpace(remote, spaceActorOf(alice), ownDevices(alice.devices), deps);
  assert.equal(state.m.member(alice.keys.personId)?.role, 'admin');
  assert.equal(state.epochs.count, 1);
  const k0 = await keyOf(remote, spaceId, alice.devices[0]!, 0);
  assert.ok(k0);
  assert.deepEqual(await keyOf(remote, spaceId, alice.devices[1]!, 0), k0);
  // Certifying the same devices again writes nothing.
  assert.equal(await certifyOwnDevices(remote, state, spaceActorOf(alice), ownDevices(alice.devices), deps), false);
  assert.equal(state.certs(alice.keys.personId)!.version, 1);
});

test('space ops: roles change by admins only; removal starts an epoch the removed person’s devices cannot open, cut after their last segment', async () => {
  const { remote, spaceId, state, deps } = await world([
    [bob, 'writer'],
    [carol, 'reader'],
  ]);
  const bobs = await view(remote, spaceId);
  // Bob writes a segment, so his devices' cut is after it.
  await pushSpaceSegment(remote, { state: bobs, me: spaceActorOf(bob), ops: [op('from bob')], chain: SPACE_CHAIN_START }, deps);
  const before = (await remote.list('')).length;
  await assert.rejects(setMemberRole(remote, bobs, spaceActorOf(bob), carol.keys.personId, 'writer', deps), is(ErrorCode.Forbidden, 'not-admin'));
  await assert.rejects(removeMember(remote, bobs, spaceActorOf(bob), carol.keys.personId, deps), is(ErrorCode.Forbidden, 'not-admin'));
  await assert.rejects(setMemberRole(remote, state, spaceActorOf(alice), dave.keys.personId, 'writer', deps), is(ErrorCode.NotFound));
  await assert.rejects(setMemberRole(remote, state, spaceActorOf(alice), alice.keys.personId, 'writer', deps), is(ErrorCode.BadInput));
  await assert.rejects(removeMember(remote, state, spaceActorOf(alice), alice.keys.personId, deps), is(ErrorCode.BadInput));
  await assert.rejects(setMemberRole(remote, state, spaceActorOf(alice), carol.keys.personId, 'owner' as Role, deps), is(ErrorCode.BadInput));
  assert.equal((await remote.list('')).length, before, 'refusals wrote nothing');

  await setMemberRole(remote, state, spaceActorOf(alice), carol.keys.personId, 'writer', deps);
  const seq = state.m.seq;
  await setMemberRole(remote, state, spaceActorOf(alice), carol.keys.personId, 'writer', deps);
  assert.equal(state.m.seq, seq, 'giving the role a member has is a no-op');
  assert.equal((await view(remote, spaceId)).m.member(carol.keys.personId)?.role, 'writer');

  await removeMember(remote, state, spaceActorOf(alice), bob.keys.personId, deps);
  assert.equal(state.epochs.count, 2, 'the removal started epoch 1');
  assert.deepEqual(
    state.epochs.entry(1)!.cuts,
    bob.devices.map((d) => ({ deviceId: d.deviceId, lastSeq: d === bob.devices[0] ? 1 : 0 })),
  );
  for (const d of bob.devices) assert.equal(await keyOf(remote, spaceId, d, 1), null);
  const k1 = (await currentSpaceKey(remote, state, spaceActorOf(alice)))!;
  assert.equal(k1.epoch, 1);
  for (const d of carol.devices) assert.deepEqual(await keyOf(remote, spaceId, d, 1), k1.epochKey);
  const other = await view(remote, spaceId);
  await checkEpochSeals(remote, { m: other.m, epochs: other.epochs, certs: other.certs, epoch: 1 });
  // Bob's devices are told who removed him.
  await assert.rejects(keepSpaceKeys(remote, bobs, spaceActorOf(bob), deps), is(ErrorCode.Removed, 'removed'));
  await assert.rejects(certifyOwnDevices(remote, bobs, spaceActorOf(bob), ownDevices(bob.devices), deps), is(ErrorCode.Removed));
});

test('space ops: a member who leaves cannot start the epoch; the next admin’s sync does, and the leaver’s devices cannot open it', async () => {
  const { remote, spaceId, state, deps } = await world([
    [bob, 'writer'],
    [dave, 'reader'],
  ]);
  const daves = await view(remote, spaceId);
  await leaveSpace(remote, daves, spaceActorOf(dave), deps);
  await assert.rejects(leaveSpace(remote, daves, spaceActorOf(dave), deps), is(ErrorCode.Removed, 'left'));
  // Bob (a writer) cannot start it: he changed nothing of his own.
  const bobs = await view(remote, spaceId);
  assert.deepEqual(await keepSpaceKeys(remote, bobs, spaceActorOf(bob), deps), { started: null, shared: 0 });
  assert.equal((await keepSpaceKeys(remote, state, spaceActorOf(alice), deps)).started, 1);
  assert.equal(await keyOf(remote, spaceId, dave.devices[0]!, 1), null);
  assert.ok(await keyOf(remote, spaceId, bob.devices[1]!, 1));
  // The last admin cannot leave while others remain.
  await assert.rejects(leaveSpace(remote, state, spaceActorOf(alice), deps), is(ErrorCode.BadInput));
});

test('space ops: a member’s second device certified later gets the current key from their first and reads the space', async () => {
  const [b1, b2] = bob.devices as [TestDevice, TestDevice];
  const { remote, spaceId, state, deps } = await world([[bob, 'writer', [b1]]]);
  await pushSpaceSegment(remote, { state, me: spaceActorOf(alice), ops: [op('hello')], chain: SPACE_CHAIN_START }, deps);
  const bobs = await view(remote, spaceId);
  assert.equal(await currentSpaceKey(remote, bobs, spaceActorOf(bob, b2)), null, 'nothing is sealed to the new device yet');
  assert.equal(await certifyOwnDevices(remote, bobs, spaceActorOf(bob, b1), ownDevices([b1, b2]), deps), true);
  assert.equal(bobs.epochs.count, 1, 'a new device starts no epoch');
  const fromB2 = await readSpaceSegments(remote, {
    state: await view(remote, spaceId),
    me: { personId: bob.keys.personId, deviceId: b2.deviceId, boxSecret: b2.box.secret },
  });
  assert.deepEqual(texts(fromB2, alice.devices[0]!.deviceId), ['hello']);
  // Nothing is left to share.
  assert.equal(await shareKeysWithNewDevices(remote, state, spaceActorOf(alice), deps), 0);
});

test('space ops: a member who drops a revoked device publishes a new certificate and starts an epoch the device cannot open', async () => {
  const [c1, c2] = carol.devices as [TestDevice, TestDevice];
  const { remote, spaceId, deps } = await world([[carol, 'writer']]);
  const lost = await view(remote, spaceId);
  await pushSpaceSegment(remote, { state: lost, me: spaceActorOf(carol, c2), ops: [op('a'), op('b')], chain: SPACE_CHAIN_START }, deps);
  const carols = await view(remote, spaceId);
  assert.equal(await certifyOwnDevices(remote, carols, spaceActorOf(carol, c1), ownDevices([c1]), deps), true);
  const entry = carols.epochs.entry(1)!;
  assert.equal(entry.signer, carol.keys.personId, 'carol, a writer, started it herself');
  assert.deepEqual(entry.cuts, [{ deviceId: c2.deviceId, lastSeq: 1 }]);
  assert.equal(await keyOf(remote, spaceId, c2, 1), null);
  assert.ok(await keyOf(remote, spaceId, c1, 1));
  assert.ok(await keyOf(remote, spaceId, alice.devices[1]!, 1));
  // The dropped device can no longer write.
  await assert.rejects(
    pushSpaceSegment(remote, { state: lost, me: spaceActorOf(carol, c2), ops: [op('c')], chain: { seq: 1, hash: new Uint8Array(32) } }, deps),
    is(ErrorCode.Revoked),
  );
});

type Action = { readonly kind: 'role'; readonly who: number; readonly role: Role } | { readonly kind: 'remove'; readonly who: number };
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant('role' as const), who: fc.nat(3), role: fc.constantFrom<Role>('admin', 'writer', 'reader') }),
  fc.record({ kind: fc.constant('remove' as const), who: fc.nat(3) }),
);
/** What a refused change may end with when another admin got there first. */
const expected = (e: unknown) => [ErrorCode.NotFound, ErrorCode.BadInput, ErrorCode.Forbidden, ErrorCode.Removed].some((c) => KithError.is(e, c));

test(
  'space ops: two admins changing membership at once, under any interleaving, converge to one chain and one epoch chain that reaches members only',
  { timeout: 600_000 },
  async () => {
    const people = [alice, bob, carol, dave];
    let races = 0;
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.array(actionArb, { maxLength: 2 }), { minLength: 2, maxLength: 2 }), async (sch, wants) => {
        const base = openMemoryRemote();
        const { spaceId, deps } = await world(
          [
            [bob, 'admin'],
            [carol, 'writer'],
            [dave, 'reader'],
          ],
          base,
          5,
        );
        // Counts the changes that lost their seq to the other admin's (put-if-absent on a taken key).
        const counted: Remote = {
          ...base,
          put: async (key, bytes, o) => {
            if (o?.ifAbsent && /^(members|epochs)\//.test(key) && (await base.head(key))) races++;
            return base.put(key, bytes, o);
          },
        };
        const shared = scheduledRemote(counted, sch);
        const run = async (admin: TestPerson, actions: readonly Action[], d: SpaceOpsDeps) => {
          const s = await view(base, spaceId);
          for (const a of actions) {
            const target = people[a.who]!.keys.personId;
            try {
              if (a.kind === 'role') await setMemberRole(shared, s, spaceActorOf(admin), target, a.role, d);
              else await removeMember(shared, s, spaceActorOf(admin), target, d);
            } catch (e) {
              if (!expected(e)) throw e;
            }
          }
          return s;
        };
        const states = await sch.waitFor(Promise.all([run(alice, wants[0]!, deps), run(bob, wants[1]!, spaceDeps(6))]));
        const reader = await view(base, spaceId);
        for (const s of states) {
          await s.refresh(base);
          assert.ok(bytesEqual(s.m.hash, reader.m.hash) && s.m.seq === reader.m.seq, 'one membership chain');
          assert.ok(bytesEqual(s.epochs.pin.hash, reader.epochs.pin.hash), 'one epoch chain');
        }
        // Whoever is an admin now catches the keys up (what their next sync does): then no device of a non-member holds the current key.
        const keeper = people.find((p) => reader.m.member(p.keys.personId)?.role === 'admin')!;
        await keepSpaceKeys(base, await view(base, spaceId), spaceActorOf(keeper), spaceDeps(7));
        const after = await view(base, spaceId);
        assert.equal(after.epochs.needed(after.m, after.certs), false);
        const epoch = after.epochs.count - 1;
        await checkEpochSeals(base, { m: after.m, epochs: after.epochs, certs: after.certs, epoch });
        for (const p of people) {
          const member = !!after.m.member(p.keys.personId);
          for (const d of p.devices) assert.equal((await keyOf(base, spaceId, d, epoch)) !== null, member, `${p.keys.personId} ${d.deviceId}`);
        }
      }),
      { numRuns: 25 },
    );
    assert.ok(races > 0, 'the interleavings included lost races');
  },
);
