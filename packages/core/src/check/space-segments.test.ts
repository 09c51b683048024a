/**
 * `vault.check()` of a shared space's heads and segments (check/space-segments.ts):
 * each device's chain from segment 1, its writer's right at the positions
 * it names, its signature and its head, without the space's key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import { sha256 } from '../crypto/index.js';
import { ErrorCode } from '../base/errors.js';
import { formatLocal } from '../model/hlc.js';
import type { Op } from '../model/ops.js';
import { sealEpochKey } from '../format/sealed-key.js';
import { openSpaceEpochKey, spaceSealedKeyKey } from '../spaces/epochs.js';
import { appendMembership } from '../spaces/membership.js';
import { spaceHeadKey } from '../spaces/space-head.js';
import { pushSpaceSegment, spaceSegmentKey, SPACE_CHAIN_START, writeSpaceSegment, type SpaceChainPos, type SpaceDevice } from '../spaces/space-segments.js';
import { SpaceState } from '../spaces/space-state.js';
import { underPrefix, writeEpochSpaceFixture } from '../testing/check-spaces.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { certify, testDevice, testPerson, type TestDevice, type TestPerson } from '../testing/space-people.js';
import { Vault } from '../vault/vault.js';
import type { CheckReport } from './index.js';

const T0 = 1_767_225_600_000;
let stamp = 0;
const op = (text: string): Op => ({ c: 'notes', i: `n${++stamp}`, t: formatLocal({ wall: T0 + stamp, counter: 0 }), k: 'p', s: { text }, a: true });
const as = (p: TestPerson, d: TestDevice = p.devices[0]!): SpaceDevice => ({
  person: p.keys,
  deviceId: d.deviceId,
  signSeed: d.sign.seed,
  boxSecret: d.box.secret,
});
const problems = (r: CheckReport): [string, string, string][] => r.problems.map((p) => [p.kind, p.key, p.code]);

/**
 * A vault whose remote also hosts the epoch fixture's space, with segments:
 * the founder's first device wrote two in epoch 0, bob one before his
 * removal, carol one in epoch 1.
 */
async function vaultWithSpaceSegments() {
  const objects = new Map<string, Uint8Array>();
  const remote = openMemoryRemote(objects);
  let now = T0;
  const deps = { random: seededRandom(7), now: () => ++now };
  const { vault } = await Vault.create({ store: openMemoryStore(), remote, remoteUrl: 'memory:', deps, snapshotEvery: false });
  const ex = await writeEpochSpaceFixture(remote, deps);
  const s = underPrefix(remote, ex.root);
  const state = await new SpaceState(ex.state.spaceId).refresh(s);
  const push = (who: SpaceDevice, chain: SpaceChainPos, text: string) => pushSpaceSegment(s, { state, me: who, ops: [op(text)], chain }, deps);
  const founder = as(ex.founder);
  const first = await push(founder, SPACE_CHAIN_START, 'one');
  const headAfterOne = objects.get(ex.root + spaceHeadKey(founder.deviceId))!.slice();
  await push(founder, first, 'two');
  await push(as(ex.carol), SPACE_CHAIN_START, 'carol');
  // Bob, removed and cut by epoch 1 (after no segment), forges one under epoch 0's key, which he holds.
  const bob = as(ex.bob);
  const epoch0 = await openSpaceEpochKey(s, {
    m: state.m,
    epochs: state.epochs,
    certs: state.certs,
    epoch: 0,
    deviceId: bob.deviceId,
    boxSecret: bob.boxSecret,
  });
  const forge = () =>
    writeSpaceSegment(s, { state, me: bob, ops: [op('late')], chain: SPACE_CHAIN_START, epoch: 0, epochKey: epoch0!, membershipSeq: 3 }, deps);
  return {
    objects,
    vault,
    ex,
    s,
    forge,
    headAfterOne,
    key: (d: SpaceDevice, seq: number) => ex.root + spaceSegmentKey(d.deviceId, seq),
    head: (d: SpaceDevice) => ex.root + spaceHeadKey(d.deviceId),
    founder,
    bob,
  };
}

test("a space's heads and segments verify from any device of the vault, without the space's key", async () => {
  const { vault } = await vaultWithSpaceSegments();
  const r = await vault.check();
  assert.deepEqual(r.problems, []);
  assert.equal(r.checked.spaceSegments, 3);
  assert.equal(r.checked.spaceHeads, 2);
});

test('a flipped bit, a missing middle segment, a replayed segment and a rolled-back head are reported against their objects', async () => {
  const { objects, vault, key, head, founder, headAfterOne } = await vaultWithSpaceSegments();
  const undo = (k: string, bytes: Uint8Array | undefined) => (bytes ? objects.set(k, bytes) : objects.delete(k));
  const [one, two, h] = [key(founder, 1), key(founder, 2), head(founder)];
  const saved = { one: objects.get(one)!, two: objects.get(two)!, h: objects.get(h)! };

  const flipped = saved.two.slice();
  flipped[flipped.length - 3]! ^= 1;
  objects.set(two, flipped);
  assert.deepEqual(problems(await vault.check()), [['damaged', two, ErrorCode.IntegrityCorrupt]]);
  undo(two, saved.two);

  objects.delete(one);
  assert.deepEqual(problems(await vault.check()), [['missing', one, ErrorCode.IntegrityChain]]);
  undo(one, saved.one);

  // Segment 1's bytes at segment 2's place: moved, refused before its signature.
  objects.set(two, saved.one);
  const moved = problems(await vault.check());
  assert.deepEqual(moved, [['damaged', two, ErrorCode.IntegrityChain]]);
  undo(two, saved.two);

  // The head rolled back to the one after segment 1: segment 2 is beyond it, as after an interrupted push.
  objects.set(h, headAfterOne);
  assert.deepEqual(problems(await vault.check()), [['unreferenced', two, ErrorCode.UnreferencedObject]]);
  undo(h, saved.h);
  // Another device's head in its place names a device it is not.
  objects.set(h, objects.get(head(founder).replace(founder.deviceId, '64'.repeat(8)))!);
  assert.deepEqual(problems(await vault.check()), [['damaged', h, ErrorCode.IntegrityCorrupt]]);
  undo(h, saved.h);
  assert.deepEqual(problems(await vault.check()), []);
});

test("a removed member's forged segment (after his device's cut) is foreign, as every member refuses it", async () => {
  const { vault, forge, key, bob } = await vaultWithSpaceSegments();
  await forge();
  assert.deepEqual(problems(await vault.check()), [['foreign', key(bob, 1), ErrorCode.IntegrityUnknownSigner]]);
});

test('an earlier epoch’s key sealed to a person added later is no foreign object (members read the whole history); to a stranger it is', async () => {
  const { vault, ex, s } = await vaultWithSpaceSegments();
  const dan = testPerson(0x54, [0x65]);
  const stranger = testDevice(0x66);
  const state = await new SpaceState(ex.state.spaceId).refresh(s);
  await appendMembership(s, state.m, ex.founder.keys, { kind: 'add', person: dan.keys, role: 'reader' }, { now: () => T0 + 1e6 });
  await certify(s, dan, T0 + 1e6);
  await state.refresh(s);
  const founder = ex.founder.devices[0]!;
  const epoch0 = (await openSpaceEpochKey(s, {
    m: state.m,
    epochs: state.epochs,
    certs: state.certs,
    epoch: 0,
    deviceId: founder.deviceId,
    boxSecret: founder.box.secret,
  }))!;
  const seal = async (to: { deviceId: string; box: { pub: Uint8Array } }) => {
    const key = ex.root + spaceSealedKeyKey(state.epochs.entry(0)!, to.deviceId);
    const bytes = await sealEpochKey({
      vaultId: state.spaceId,
      epoch: 0,
      recipientId: to.deviceId,
      recipientBoxPub: to.box.pub,
      epochKey: epoch0,
      signerId: founder.deviceId,
      signerSeed: founder.sign.seed,
      random: seededRandom(4),
    });
    await s.put(spaceSealedKeyKey(state.epochs.entry(0)!, to.deviceId), bytes);
    return key;
  };
  await seal(dan.devices[0]!);
  assert.deepEqual(problems(await vault.check()), []);
  const strangers = await seal(stranger);
  assert.deepEqual(problems(await vault.check()), [['foreign', strangers, ErrorCode.IntegrityCorrupt]]);
});

test("a demoted writer's back-dated segment past its person cut, and one of a device it paired since, are foreign", async () => {
  const { vault, ex, s, key } = await vaultWithSpaceSegments();
  const deps = { random: seededRandom(9), now: () => T0 + 2e6 };
  const state = await new SpaceState(ex.state.spaceId).refresh(s);
  const writerSeq = state.m.seq;
  // Carol wrote segment 1 under epoch 1; the founder demotes her (the cut names it), and she pairs a device afterwards.
  await appendMembership(s, state.m, ex.founder.keys, { kind: 'role', personId: ex.carol.keys.personId, role: 'reader' }, deps);
  const paired = testDevice(0x67);
  const version = await certify(s, ex.carol, T0 + 2e6, [...ex.carol.devices, paired]);
  await state.refresh(s);
  const carol = as(ex.carol);
  const epochKey = (await openSpaceEpochKey(s, {
    m: state.m,
    epochs: state.epochs,
    certs: state.certs,
    epoch: 1,
    deviceId: carol.deviceId,
    boxSecret: carol.boxSecret,
  }))!;
  const one = (await s.get(spaceSegmentKey(carol.deviceId, 1)))!;
  const chain = { seq: 1, hash: await sha256(one) };
  const back = { ops: [op('back-dated')], epoch: 1, epochKey, membershipSeq: writerSeq };
  await writeSpaceSegment(s, { state, me: carol, chain, ...back }, deps);
  await writeSpaceSegment(s, { state, me: as(ex.carol, paired), chain: SPACE_CHAIN_START, certVersion: version, ...back }, deps);
  assert.deepEqual(problems(await vault.check()), [
    ['foreign', key(carol, 2), ErrorCode.IntegrityUnknownSigner],
    ['foreign', key(as(ex.carol, paired), 1), ErrorCode.IntegrityUnknownSigner],
  ]);
});
