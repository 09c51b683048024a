import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesToHex, hexToBytes } from '../crypto/index.js';
import type { Remote } from '../ports/remote.js';
import { committed } from '../format/vectors.test.support.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { buildCutVectors, CUT_VECTOR_INPUTS, cutVectorChain } from '../testing/space-cut-vectors.js';
import { SPACE_VECTOR_INPUTS } from '../testing/space-vectors.js';
import { certify, scheduledRemote, testPerson } from '../testing/space-people.js';
import { decodeMembershipEntry, encodeMembershipEntry, membershipKey, spaceIdOf } from './membership-entry.js';
import { appendMembership, createSpace, Membership, type MembershipIntent } from './membership.js';
import { personKeysFromSecret } from './person.js';

const is = (code: ErrorCode) => (e: unknown) => KithError.is(e, code);
const cutVectors = (committed as unknown as { spacesCut: { inputs: unknown; outputs: Awaited<ReturnType<typeof buildCutVectors>> } }).spacesCut;

function clock(start = 1_767_225_600_000): () => number {
  let t = start;
  return () => t++;
}

async function entries(remote: Remote): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let b; (b = await remote.get(membershipKey(out.length + 1)));) out.push(b);
  return out;
}

test('person cut vectors: the fixed inputs encode to exactly the committed bytes (version 2 only where a right to write ends)', async () => {
  assert.deepEqual(cutVectors.inputs, JSON.parse(JSON.stringify(CUT_VECTOR_INPUTS)));
  const out = await buildCutVectors();
  assert.deepEqual(out, cutVectors.outputs);
  assert.deepEqual(
    out.membership.map((hex) => hexToBytes(hex)[5]),
    [1, 1, 2, 1, 2],
  );
});

test('person cut vectors: the committed bytes verify as a chain and give each ending of the member’s right to write its cut', async () => {
  const V = SPACE_VECTOR_INPUTS;
  const founder = personKeysFromSecret(hexToBytes(V.founderSecret));
  const member = personKeysFromSecret(hexToBytes(V.memberSecret));
  const spaceId = spaceIdOf(founder.signPub, hexToBytes(V.spaceNonce));
  const m = Membership.empty(spaceId);
  const chain = cutVectorChain();
  for (const [i, hex] of cutVectors.outputs.membership.entries()) {
    const e = await m.accept(hexToBytes(hex));
    assert.deepEqual(e.change, chain[i]!.change);
    assert.deepEqual(e.cut, chain[i]!.cut);
    assert.equal(bytesToHex(m.hashAt(i + 1)!), cutVectors.outputs.membershipHashes[i]);
  }
  const [b, c] = CUT_VECTOR_INPUTS.memberDevices as [string, string];
  assert.deepEqual(m.writeEnd(member.personId, 2), {
    seq: 3,
    cut: [
      { deviceId: b, lastSeq: 5 },
      { deviceId: c, lastSeq: 0 },
    ],
  });
  assert.deepEqual(m.writeEnd(member.personId, 4), {
    seq: 5,
    cut: [
      { deviceId: b, lastSeq: 7 },
      { deviceId: c, lastSeq: 2 },
    ],
  });
  assert.equal(m.writeEnd(member.personId, 5), undefined);
  assert.equal(m.writeEnd(founder.personId, 1), undefined);
});

test('person cut: a cut on an entry that ends no one’s right to write is corrupt; a cut out of order too; a version 1 demotion carries none', async () => {
  const V = SPACE_VECTOR_INPUTS;
  const founder = personKeysFromSecret(hexToBytes(V.founderSecret));
  const spaceId = spaceIdOf(founder.signPub, hexToBytes(V.spaceNonce));
  const bytes = cutVectors.outputs.membership.map(hexToBytes);
  const m = await Membership.verify(spaceId, bytes.slice(0, 3));
  // Entry 4 (the member made a writer again) with a cut: signed properly, yet it cuts someone whose right it does not end.
  const chain = cutVectorChain();
  const four = { seq: 4, prevHash: m.hash, at: V.at + 4, signer: founder.personId, change: chain[3]!.change, cut: [] };
  await assert.rejects(m.accept((await encodeMembershipEntry(spaceId, four, founder.sign.seed)).bytes), is(ErrorCode.IntegrityCorrupt));
  // A create or an add never carries one.
  await assert.rejects(encodeMembershipEntry(spaceId, { ...four, change: chain[1]!.change }, founder.sign.seed), is(ErrorCode.Internal));
  // Devices out of order, signed: refused when read.
  const three = await decodeMembershipEntry(bytes[2]!, { spaceId, seq: 3, prevHash: m.hashAt(2)! }, () => founder.signPub);
  const reversed = { ...three.entry, cut: [...three.entry.cut!].reverse() };
  await assert.rejects(encodeMembershipEntry(spaceId, reversed, founder.sign.seed), is(ErrorCode.Internal));
  // A reader's version 1 entry 3 (what an older build wrote): no cut, the demotion still counts.
  const legacy = await Membership.verify(spaceId, bytes.slice(0, 2));
  const { cut: _, ...v1 } = three.entry;
  await legacy.accept((await encodeMembershipEntry(spaceId, v1, founder.sign.seed)).bytes);
  assert.deepEqual(legacy.writeEnd(personKeysFromSecret(hexToBytes(V.memberSecret)).personId, 2), { seq: 3, cut: undefined });
});

const alice = testPerson(1, [11]);
const bob = testPerson(2, [21]);
const carol = testPerson(3, [31, 32]);
const intentArb: fc.Arbitrary<MembershipIntent> = fc.oneof(
  fc.record({
    kind: fc.constant('role' as const),
    personId: fc.constant(carol.keys.personId),
    role: fc.constantFrom('admin' as const, 'writer' as const, 'reader' as const),
  }),
  fc.constant({ kind: 'remove' as const, personId: carol.keys.personId }),
  fc.constant({ kind: 'add' as const, person: carol.keys, role: 'writer' as const }),
);

test('person cut: two admins changing a writer’s role at once end with one chain whose every ending of the right to write carries the same cut on every replica', async () => {
  await fc.assert(
    fc.asyncProperty(fc.scheduler(), fc.array(fc.array(intentArb, { maxLength: 3 }), { minLength: 2, maxLength: 2 }), async (s, wants) => {
      const base = openMemoryRemote();
      const deps = { random: seededRandom(5), now: clock() };
      const founded = await createSpace(base, alice.keys, deps);
      await appendMembership(base, founded, alice.keys, { kind: 'add', person: bob.keys, role: 'admin' }, deps);
      await appendMembership(base, founded, alice.keys, { kind: 'add', person: carol.keys, role: 'writer' }, deps);
      await certify(base, carol, deps.now());
      // Carol's first device wrote 3 segments (only their names matter to the cut).
      for (const seq of [1, 2, 3]) await base.put(`segments/${carol.devices[0]!.deviceId}/${String(seq).padStart(12, '0')}`, new Uint8Array(1));
      const shared = scheduledRemote(base, s);
      const replicas = await Promise.all([0, 1].map(async () => Membership.verify(founded.spaceId, await entries(base))));
      const run = async (i: number, admin: typeof alice, intents: MembershipIntent[]) => {
        for (const intent of intents) await appendMembership(shared, replicas[i]!, admin.keys, intent, deps);
      };
      await s.waitFor(Promise.all([run(0, alice, wants[0]!), run(1, bob, wants[1]!)]));
      for (const r of replicas) await r.refresh(base);
      const reader = await Membership.verify(founded.spaceId, await entries(base));
      const ends = (m: Membership) => [...Array(m.seq + 1).keys()].map((seq) => m.writeEnd(carol.keys.personId, seq));
      for (const r of replicas) assert.deepEqual(ends(r), ends(reader));
      // Each entry that took carol's right away names both her devices, with what her first one wrote.
      const expected = [
        { deviceId: carol.devices[0]!.deviceId, lastSeq: 3 },
        { deviceId: carol.devices[1]!.deviceId, lastSeq: 0 },
      ].sort((x, y) => (x.deviceId < y.deviceId ? -1 : 1));
      for (let seq = 1; seq <= reader.seq; seq++) {
        const was = reader.canWriteAt(carol.keys.personId, seq - 1);
        const end = reader.writeEnd(carol.keys.personId, seq - 1);
        if (was && !reader.canWriteAt(carol.keys.personId, seq)) assert.deepEqual(end, { seq, cut: expected });
      }
    }),
    { numRuns: 40 },
  );
});

test('person cut: a writer leaving cuts their own devices; a reader leaving or removed, or a promotion, writes version 1', async () => {
  const remote = openMemoryRemote();
  const deps = { random: seededRandom(8), now: clock() };
  const m = await createSpace(remote, alice.keys, deps);
  await appendMembership(remote, m, alice.keys, { kind: 'add', person: carol.keys, role: 'writer' }, deps);
  await appendMembership(remote, m, alice.keys, { kind: 'add', person: bob.keys, role: 'reader' }, deps);
  await certify(remote, carol, deps.now());
  await remote.put(`segments/${carol.devices[1]!.deviceId}/000000000002`, new Uint8Array(1));
  const version = async (seq: number) => (await remote.get(membershipKey(seq)))![5];
  await appendMembership(remote, m, carol.keys, { kind: 'leave' }, deps);
  assert.equal(await version(m.seq), 2);
  assert.deepEqual(m.writeEnd(carol.keys.personId, m.seq - 1), {
    seq: m.seq,
    cut: [
      { deviceId: carol.devices[0]!.deviceId, lastSeq: 0 },
      { deviceId: carol.devices[1]!.deviceId, lastSeq: 2 },
    ],
  });
  await appendMembership(remote, m, alice.keys, { kind: 'role', personId: bob.keys.personId, role: 'writer' }, deps);
  assert.equal(await version(m.seq), 1, 'a promotion ends nothing');
  await appendMembership(remote, m, alice.keys, { kind: 'role', personId: bob.keys.personId, role: 'admin' }, deps);
  assert.equal(await version(m.seq), 1, 'nor does writer to admin');
  await appendMembership(remote, m, alice.keys, { kind: 'role', personId: bob.keys.personId, role: 'reader' }, deps);
  assert.equal(await version(m.seq), 2, 'admin to reader does');
  await appendMembership(remote, m, bob.keys, { kind: 'leave' }, deps);
  assert.equal(await version(m.seq), 1, 'a reader leaving ends nothing');
  assert.deepEqual((await Membership.verify(m.spaceId, await entries(remote))).hash, m.hash);
});
