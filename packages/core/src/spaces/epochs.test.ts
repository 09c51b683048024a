import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { sealEpochKey } from '../format/sealed-key.js';
import type { Remote } from '../ports/remote.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { actorOf, certify, scheduledRemote, testDevice, testPerson, type TestDevice, type TestPerson } from '../testing/space-people.js';
import { encodeSpaceEpoch, spaceEpochKey, type SpaceEpochEntry } from './epoch-entry.js';
import { checkEpochSeals, openSpaceEpochKey, shareEpochKey, spaceSealedKeyKey } from './epochs.js';
import { startEpoch } from './epoch-start.js';
import { appendMembership, createSpace, type MembershipIntent } from './membership.js';
import { SpaceState } from './space-state.js';
import { checkSpaceWriter } from './writer.js';

const is = (code: ErrorCode, reason?: string) => (e: unknown) => KithError.is(e, code) && (reason === undefined || e.reason === reason);
const alice = testPerson(1, [11, 12]);
const bob = testPerson(2, [21, 22]);
const carol = testPerson(3, [31, 32]);
const dave = testPerson(4, [41]);

function clock(start = 1_767_225_600_000): () => number {
  let t = start;
  return () => t++;
}
type Deps = { random: (n: number) => Uint8Array; now: () => number };
const noSegments = async (_deviceId: string): Promise<number> => 0;

const start = (remote: Remote, s: SpaceState, who: TestPerson, deps: Deps, lastSeqOf = noSegments, device?: TestDevice) =>
  startEpoch(remote, { m: s.m, epochs: s.epochs, certs: s.certs, actor: actorOf(who, device), lastSeqOf }, deps);
const open = (remote: Remote, s: SpaceState, epoch: number, d: TestDevice) =>
  openSpaceEpochKey(remote, { m: s.m, epochs: s.epochs, certs: s.certs, epoch, deviceId: d.deviceId, boxSecret: d.box.secret });
const share = async (remote: Remote, s: SpaceState, who: TestPerson, deps: Deps) => {
  const epochKey = (await open(remote, s, s.epochs.count - 1, who.devices[0]!))!;
  return shareEpochKey(remote, { m: s.m, epochs: s.epochs, certs: s.certs, epochKey, actor: actorOf(who) }, deps);
};
const change = (remote: Remote, s: SpaceState, who: TestPerson, intent: MembershipIntent, deps: Deps) => appendMembership(remote, s.m, who.keys, intent, deps);
const fresh = (remote: Remote, spaceId: string) => new SpaceState(spaceId).refresh(remote);

/** Alice's space: epoch 0 sealed to her two devices; bob a writer, carol a writer, dave a reader, all with the key of epoch 0. */
async function world(objects = new Map<string, Uint8Array>()) {
  const remote = openMemoryRemote(objects);
  const deps = { random: seededRandom(7), now: clock() };
  const m = await createSpace(remote, alice.keys, deps);
  await certify(remote, alice, deps.now());
  const s = await fresh(remote, m.spaceId);
  const first = await start(remote, s, alice, deps);
  assert.equal(first.epoch, 0);
  for (const [p, role] of [
    [bob, 'writer'],
    [carol, 'writer'],
    [dave, 'reader'],
  ] as const) {
    await change(remote, s, alice, { kind: 'add', person: p.keys, role }, deps);
    await certify(remote, p, deps.now());
  }
  await s.refresh(remote);
  assert.equal(s.epochs.needed(s.m, s.certs), false, 'adding members needs no epoch');
  assert.deepEqual((await share(remote, s, alice, deps)).sort(), ['21', '22', '31', '32', '41'].map((n) => testDevice(Number(n)).deviceId).sort());
  return { remote, objects, deps, s, key0: first.epochKey! };
}

test('space epochs: epoch 0 reaches the founder; members added later get its key; removing one starts an epoch none of their devices can open', async () => {
  const { remote, deps, s, key0 } = await world();
  for (const d of [...alice.devices, ...bob.devices, ...dave.devices]) assert.deepEqual(await open(remote, s, 0, d), key0);
  await change(remote, s, alice, { kind: 'remove', personId: bob.keys.personId }, deps);
  assert.ok(s.epochs.needed(s.m, s.certs));
  const lastSeqs = new Map(bob.devices.map((d, i) => [d.deviceId, 7 + i]));
  const next = await start(remote, s, alice, deps, async (d) => lastSeqs.get(d) ?? 0);
  assert.equal(next.epoch, 1);
  assert.notDeepEqual(next.epochKey, key0);
  assert.deepEqual(
    s.epochs.entry(1)!.cuts,
    bob.devices.map((d, i) => ({ deviceId: d.deviceId, lastSeq: 7 + i })),
  );
  // Another device reads it all from the remote alike.
  const other = await fresh(remote, s.spaceId);
  assert.deepEqual(other.epochs.pin, s.epochs.pin);
  for (const d of bob.devices) assert.equal(await open(remote, other, 1, d), null, 'nothing of epoch 1 is sealed to bob');
  for (const d of [...alice.devices, ...carol.devices, ...dave.devices]) assert.deepEqual(await open(remote, other, 1, d), next.epochKey);
  await checkEpochSeals(remote, { m: other.m, epochs: other.epochs, certs: other.certs, epoch: 1 });
  // Nothing more is due, and a second start changes nothing.
  assert.equal((await start(remote, s, alice, deps)).epoch, null);
  // Leaving starts one too (by an admin: the leaver is gone).
  await change(remote, s, dave, { kind: 'leave' }, deps);
  assert.equal((await start(remote, s, alice, deps)).epoch, 2);
  for (const d of dave.devices) assert.equal(await open(remote, s, 2, d), null);
});

test('space epochs: a member who revokes a device starts the epoch; the device is cut after its last segment', async () => {
  const { remote, objects, deps, s } = await world();
  const [kept, lost] = carol.devices as [TestDevice, TestDevice];
  const before = s.certs(carol.keys.personId)!;
  await certify(remote, carol, deps.now(), [kept]);
  await before.refresh(remote);
  assert.ok(s.epochs.needed(s.m, s.certs));
  // Bob (a writer) changed nothing of his: not his to start.
  await assert.rejects(start(remote, s, bob, deps), is(ErrorCode.BadInput));
  const next = await start(remote, s, carol, deps, async (d) => (d === lost.deviceId ? 5 : 0), kept);
  assert.equal(next.epoch, 1);
  assert.deepEqual(s.epochs.entry(1)!.cuts, [{ deviceId: lost.deviceId, lastSeq: 5 }]);
  assert.equal(await open(remote, s, 1, lost), null);
  assert.deepEqual(await open(remote, s, 1, kept), next.epochKey);
  const other = await fresh(remote, s.spaceId);
  // An entry that drops the revoked device without cutting it is refused.
  await refusedVariant(objects, s, ErrorCode.IntegrityCorrupt, (e) => ({ ...e, cuts: [] }), carol);
  const certs = other.certs(carol.keys.personId)!;
  const claim = { personId: carol.keys.personId, deviceId: lost.deviceId, signPub: lost.sign.pub, membershipSeq: 4, certVersion: 1, epoch: 0 };
  checkSpaceWriter(other.m, certs, other.epochs, { ...claim, segmentSeq: 5 });
  assert.throws(() => checkSpaceWriter(other.m, certs, other.epochs, { ...claim, segmentSeq: 6 }), is(ErrorCode.IntegrityUnknownSigner, 'cut'));
  assert.throws(
    () => checkSpaceWriter(other.m, certs, other.epochs, { ...claim, epoch: 1, segmentSeq: 6 }),
    is(ErrorCode.IntegrityUnknownSigner, 'stale-certificate'),
  );
  assert.throws(
    () => checkSpaceWriter(other.m, certs, other.epochs, { ...claim, certVersion: 2, epoch: 1, segmentSeq: 6 }),
    is(ErrorCode.IntegrityUnknownSigner, 'not-certified'),
  );
  checkSpaceWriter(other.m, certs, other.epochs, { ...claim, deviceId: kept.deviceId, signPub: kept.sign.pub, certVersion: 2, epoch: 1, segmentSeq: 100 });
  // A later epoch may not go back to the certificate that still listed the revoked device.
  await change(remote, s, alice, { kind: 'remove', personId: dave.keys.personId }, deps);
  assert.equal((await start(remote, s, alice, deps)).epoch, 2);
  const v1 = { certVersion: 1, certHash: s.certs(carol.keys.personId)!.hashAt(1)! };
  await refusedVariant(
    objects,
    s,
    ErrorCode.IntegrityRollback,
    (e) => ({ ...e, members: e.members.map((x) => (x.personId === carol.keys.personId ? { ...x, ...v1 } : x)) }),
    alice,
    2,
  );
  // A reader's device, a write under an epoch the space lacks, or before its epoch began.
  const d = dave.devices[0]!;
  const daves = other.certs(dave.keys.personId)!;
  const reader = { personId: dave.keys.personId, deviceId: d.deviceId, signPub: d.sign.pub, membershipSeq: 4, certVersion: 1, epoch: 1, segmentSeq: 1 };
  assert.throws(() => checkSpaceWriter(other.m, daves, other.epochs, reader), is(ErrorCode.IntegrityUnknownSigner, 'not-a-writer'));
  const kc = { ...claim, deviceId: kept.deviceId, signPub: kept.sign.pub, certVersion: 2 };
  assert.throws(
    () => checkSpaceWriter(other.m, certs, other.epochs, { ...kc, epoch: 2, segmentSeq: 1 }),
    is(ErrorCode.IntegrityUnknownSigner, 'unknown-epoch'),
  );
  assert.throws(
    () => checkSpaceWriter(other.m, certs, other.epochs, { ...kc, membershipSeq: 1, epoch: 1, segmentSeq: 1 }),
    is(ErrorCode.IntegrityUnknownSigner),
  );
});

/** Signs a variant of epoch 1 and puts it in place of the real one on a copy of the remote; a fresh reader must refuse it. */
async function refusedVariant(
  objects: Map<string, Uint8Array>,
  s: SpaceState,
  code: ErrorCode,
  edit: (e: SpaceEpochEntry) => SpaceEpochEntry,
  signer = alice,
  epoch = 1,
) {
  const copy = new Map(objects);
  const { bytes } = await encodeSpaceEpoch(s.spaceId, edit(s.epochs.entry(epoch)!), signer.keys.sign.seed);
  copy.set(spaceEpochKey(epoch), bytes);
  await assert.rejects(fresh(openMemoryRemote(copy), s.spaceId), is(code));
}

test('space epochs: altered, replayed, forged, withheld or rolled-back epoch entries and substituted sealed keys are refused', async () => {
  const { remote, objects, deps, s } = await world();
  await change(remote, s, alice, { kind: 'remove', personId: bob.keys.personId }, deps);
  await start(remote, s, alice, deps);
  const pin = s.epochs.pin;
  const entry1 = objects.get(spaceEpochKey(1))!;
  // One flipped bit.
  const altered = new Map(objects);
  const flipped = entry1.slice();
  flipped[40]! ^= 1;
  altered.set(spaceEpochKey(1), flipped);
  await assert.rejects(fresh(openMemoryRemote(altered), s.spaceId), is(ErrorCode.IntegrityChain));
  const resigned = entry1.slice();
  resigned[resigned.length - 1]! ^= 1;
  altered.set(spaceEpochKey(1), resigned);
  await assert.rejects(fresh(openMemoryRemote(altered), s.spaceId), is(ErrorCode.IntegrityCorrupt));
  // Epoch 0 replayed as epoch 1.
  const replayed = new Map(objects);
  replayed.set(spaceEpochKey(1), objects.get(spaceEpochKey(0))!);
  await assert.rejects(fresh(openMemoryRemote(replayed), s.spaceId), is(ErrorCode.IntegrityChain));
  // Withheld: the chain ends before what a device saw.
  const withheld = new Map(objects);
  withheld.delete(spaceEpochKey(1));
  const behind = await fresh(openMemoryRemote(withheld), s.spaceId);
  assert.equal(behind.epochs.count, 1);
  assert.throws(() => behind.epochs.checkPin(pin), is(ErrorCode.IntegrityRollback));
  // Signed by a writer who changed none of their devices.
  await refusedVariant(objects, s, ErrorCode.IntegrityUnknownSigner, (e) => ({ ...e, signer: carol.keys.personId, sealer: carol.devices[0]!.deviceId }), carol);
  // Signed by the removed person, at a seq where they are no member.
  await refusedVariant(objects, s, ErrorCode.IntegrityUnknownSigner, (e) => ({ ...e, signer: bob.keys.personId, sealer: bob.devices[0]!.deviceId }), bob);
  // Sealed by a device that is not the signer's.
  await refusedVariant(objects, s, ErrorCode.IntegrityUnknownSigner, (e) => ({ ...e, sealer: carol.devices[0]!.deviceId }));
  // The members at that seq, wrong: bob kept on.
  const bobListed = { personId: bob.keys.personId, certVersion: 1, certHash: s.certs(bob.keys.personId)!.hashAt(1)! };
  const withBob = (e: SpaceEpochEntry) => [...e.members, bobListed].sort((x, y) => (x.personId < y.personId ? -1 : 1));
  await refusedVariant(objects, s, ErrorCode.IntegrityCorrupt, (e) => ({ ...e, members: withBob(e), cuts: [] }));
  // A membership entry of another chain at that seq, or one the chain does not hold.
  await refusedVariant(objects, s, ErrorCode.IntegrityChain, (e) => ({ ...e, membershipHash: new Uint8Array(32).fill(9) }));
  await refusedVariant(objects, s, ErrorCode.IntegrityChain, (e) => ({ ...e, membershipSeq: 99 }));
  // Back in the membership chain, behind epoch 0.
  await refusedVariant(objects, s, ErrorCode.IntegrityChain, (e) => ({ ...e, membershipSeq: 0 }));
  // Cutting a device it reaches.
  const aliceCut = { deviceId: alice.devices[0]!.deviceId, lastSeq: 0 };
  await refusedVariant(objects, s, ErrorCode.IntegrityCorrupt, (e) => ({
    ...e,
    cuts: [...e.cuts, aliceCut].sort((x, y) => (x.deviceId < y.deviceId ? -1 : 1)),
  }));
  // A certificate the reader never saw, or an older one than epoch 0 named.
  await refusedVariant(objects, s, ErrorCode.IntegrityChain, (e) => ({ ...e, members: e.members.map((x) => ({ ...x, certVersion: 2 })) }));
  // The sealed key substituted by a member's device: another key than the one the entry commits to.
  const other = await fresh(remote, s.spaceId);
  const e1 = other.epochs.entry(1)!;
  const d = carol.devices[0]!;
  const swapped = await sealEpochKey({
    vaultId: s.spaceId,
    epoch: 1,
    recipientId: d.deviceId,
    recipientBoxPub: d.box.pub,
    epochKey: new Uint8Array(32).fill(3),
    signerId: alice.devices[0]!.deviceId,
    signerSeed: alice.devices[0]!.sign.seed,
    random: deps.random,
  });
  const subst = openMemoryRemote(new Map(objects));
  await subst.put(spaceSealedKeyKey(e1, d.deviceId), swapped);
  await assert.rejects(open(subst, other, 1, d), is(ErrorCode.IntegrityCorrupt));
  // Sealed to a device of nobody (bob's, after his removal), or one missing.
  const leak = openMemoryRemote(new Map(objects));
  await leak.put(spaceSealedKeyKey(e1, bob.devices[0]!.deviceId), swapped);
  await assert.rejects(checkEpochSeals(leak, { m: other.m, epochs: other.epochs, certs: other.certs, epoch: 1 }), is(ErrorCode.IntegrityCorrupt));
  const gone = openMemoryRemote(new Map(objects));
  await gone.delete(spaceSealedKeyKey(e1, d.deviceId));
  await assert.rejects(checkEpochSeals(gone, { m: other.m, epochs: other.epochs, certs: other.certs, epoch: 1 }), is(ErrorCode.IntegrityWithheld));
});

test('space epochs: two admins removing members and starting epochs at once converge to one epoch chain that reaches none of the removed', async () => {
  let races = 0;
  const targets = [carol, dave, testPerson(5, [51, 52])];
  await fc.assert(
    fc.asyncProperty(fc.scheduler(), fc.array(fc.array(fc.nat(2), { maxLength: 2 }), { minLength: 2, maxLength: 2 }), async (sch, wants) => {
      const objects = new Map<string, Uint8Array>();
      const base = openMemoryRemote(objects);
      const deps = { random: seededRandom(11), now: clock() };
      const m = await createSpace(base, alice.keys, deps);
      await certify(base, alice, deps.now());
      const s0 = await fresh(base, m.spaceId);
      await start(base, s0, alice, deps);
      await change(base, s0, alice, { kind: 'add', person: bob.keys, role: 'admin' }, deps);
      await certify(base, bob, deps.now());
      for (const p of targets) {
        await change(base, s0, alice, { kind: 'add', person: p.keys, role: 'writer' }, deps);
        await certify(base, p, deps.now());
      }
      const shared = scheduledRemote(base, sch);
      const replicas = await Promise.all([0, 1].map(() => fresh(base, m.spaceId)));
      const run = async (i: number, admin: TestPerson, picks: number[]) => {
        let lost = 0;
        for (const n of picks) {
          await change(shared, replicas[i]!, admin, { kind: 'remove', personId: targets[n]!.keys.personId }, deps);
          lost += (await start(shared, replicas[i]!, admin, deps)).lost;
        }
        return lost;
      };
      const lost = await sch.waitFor(Promise.all([run(0, alice, wants[0]!), run(1, bob, wants[1]!)]));
      races += lost[0] + lost[1];
      const reader = await fresh(base, m.spaceId);
      for (const r of replicas) {
        await r.refresh(base);
        assert.deepEqual(r.epochs.pin, reader.epochs.pin);
      }
      assert.equal(reader.epochs.needed(reader.m, reader.certs), false, 'the last epoch reaches only members');
      // No epoch's sealed keys (the losers' included) reach someone who was not a member at its start.
      for (let e = 0; e < reader.epochs.count; e++) {
        const entry = reader.epochs.entry(e)!;
        const members = new Set(reader.m.membersAt(entry.membershipSeq));
        for (const p of [alice, bob, ...targets]) {
          for (const d of p.devices) assert.equal(objects.has(spaceSealedKeyKey(entry, d.deviceId)), members.has(p.keys.personId));
        }
      }
      const keysLeft = [...objects.keys()].filter((k) => k.startsWith('keys/'));
      const expected = Array.from({ length: reader.epochs.count }, (_, e) => reader.epochs.reached(e).size).reduce((a, b) => a + b, 0);
      assert.equal(keysLeft.length, expected, 'the losers removed their sealed keys');
    }),
    { numRuns: 40 },
  );
  assert.ok(races > 0, 'the interleavings included lost races');
});

type Op =
  | { kind: 'add'; who: number; role: 'admin' | 'writer' | 'reader' }
  | { kind: 'remove'; who: number }
  | { kind: 'leave'; who: number }
  | { kind: 'revoke'; who: number; self: boolean }
  | { kind: 'pair'; who: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), who: fc.nat(2), role: fc.constantFrom('admin' as const, 'writer' as const, 'reader' as const) }),
  fc.record({ kind: fc.constant('remove' as const), who: fc.nat(2) }),
  fc.record({ kind: fc.constant('leave' as const), who: fc.nat(2) }),
  fc.record({ kind: fc.constant('revoke' as const), who: fc.nat(2), self: fc.boolean() }),
  fc.record({ kind: fc.constant('pair' as const), who: fc.nat(2) }),
);

test('space epochs: after any history of adds, removals, leaves, pairings and revocations, no device holds a key of an epoch it had no right to', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { maxLength: 10 }), async (ops) => {
      const objects = new Map<string, Uint8Array>();
      const remote = openMemoryRemote(objects);
      const deps = { random: seededRandom(5), now: clock() };
      const people = [2, 3, 4].map((n) => testPerson(n, [n * 10 + 1, n * 10 + 2]));
      const everyDevice = () => [alice, ...people].flatMap((p) => p.devices);
      const m = await createSpace(remote, alice.keys, deps);
      await certify(remote, alice, deps.now());
      const s = await fresh(remote, m.spaceId);
      await start(remote, s, alice, deps);
      // Model: the devices that had a right to each epoch's key at some moment of it.
      const allowed: Set<string>[] = [];
      const note = () => {
        const e = s.epochs.count - 1;
        allowed[e] ??= new Set();
        for (const p of [alice, ...people]) if (s.m.member(p.keys.personId)) for (const d of p.devices) allowed[e].add(d.deviceId);
      };
      const revoked = new Set<string>();
      let next = 0;
      note();
      for (const op of ops) {
        const p = people[op.who]!;
        const member = !!s.m.member(p.keys.personId);
        let starter: TestPerson = alice;
        if (op.kind === 'add') {
          const r = await change(remote, s, alice, { kind: 'add', person: p.keys, role: op.role }, deps);
          if (r.seq !== null) await certify(remote, p, deps.now());
        } else if (op.kind === 'remove') await change(remote, s, alice, { kind: 'remove', personId: p.keys.personId }, deps);
        else if (op.kind === 'leave') await change(remote, s, p, { kind: 'leave' }, deps);
        else if (member && op.kind === 'pair') {
          p.devices.push(testDevice(200 + next++));
          await certify(remote, p, deps.now());
        } else if (member && op.kind === 'revoke' && p.devices.length > 1) {
          revoked.add(p.devices.pop()!.deviceId);
          await certify(remote, p, deps.now());
          if (op.self) starter = p;
        }
        await s.refresh(remote);
        if (s.epochs.needed(s.m, s.certs)) assert.notEqual((await start(remote, s, starter, deps)).epoch, null);
        await share(remote, s, alice, deps);
        note();
      }
      const reader = await fresh(remote, m.spaceId);
      assert.equal(reader.epochs.count, allowed.length);
      for (let e = 0; e < reader.epochs.count; e++) {
        const entry = reader.epochs.entry(e)!;
        for (const d of [...everyDevice(), ...[...revoked].map((id) => ({ deviceId: id }))]) {
          if (objects.has(spaceSealedKeyKey(entry, d.deviceId))) assert.ok(allowed[e]!.has(d.deviceId), `device ${d.deviceId} holds epoch ${e}`);
        }
      }
      // Every device of a member opens the current key; a revoked device no key after its revocation.
      const now = reader.epochs.count - 1;
      for (const p of [alice, ...people]) {
        if (!reader.m.member(p.keys.personId)) continue;
        for (const d of p.devices) assert.ok(await open(remote, reader, now, d), `device ${d.deviceId} opens epoch ${now}`);
      }
      for (const id of revoked) assert.ok(!allowed[now]!.has(id));
      await checkEpochSeals(remote, { m: reader.m, epochs: reader.epochs, certs: reader.certs, epoch: now });
    }),
    { numRuns: 40 },
  );
});
