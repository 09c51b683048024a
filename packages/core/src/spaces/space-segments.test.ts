import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, KithError } from '../base/errors.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { as, op, refusal, texts } from '../testing/space-segment-scenarios.js';
import { spaceDeps, spaceWorld } from '../testing/space-world.js';
import { spaceEpochKey } from './epoch-entry.js';
import { membershipKey } from './membership-entry.js';
import type { TestDevice } from '../testing/space-people.js';
import { appendMembership } from './membership.js';
import { spaceHeadKey } from './space-head.js';
import { pushSpaceSegment, readSpaceSegments, SPACE_CHAIN_START, writeSpaceSegment, type SpaceChainPos } from './space-segments.js';
import { SpaceState } from './space-state.js';

type Step = 'role' | 'admin writes' | 'bob writes';

test(
  'space segments: under any interleaving of role changes and writes, a writer’s segment is accepted iff they were a writer at the seq it names; a reader is refused locally',
  { timeout: 600_000 },
  async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom<Step>('role', 'admin writes', 'bob writes'), { minLength: 1, maxLength: 8 }), async (steps) => {
        const remote = openMemoryRemote();
        const { d, a, b, c, s, epoch0Key } = await spaceWorld(remote, 31);
        const [a0, b0, c0] = [a.devices[0], b.devices[0], c.devices[0]] as [TestDevice, TestDevice, TestDevice];
        let role: 'writer' | 'reader' = 'writer';
        let aChain: SpaceChainPos = SPACE_CHAIN_START;
        let bChain: SpaceChainPos = SPACE_CHAIN_START;
        const fromA: string[] = [];
        const fromB: string[] = [];
        let forged = false;
        for (const [i, step] of steps.entries()) {
          const text = `${step} ${i}`;
          if (step === 'role') {
            role = role === 'writer' ? 'reader' : 'writer';
            await appendMembership(remote, s.m, a.keys, { kind: 'role', personId: b.keys.personId, role }, d);
          } else if (step === 'admin writes') {
            aChain = await pushSpaceSegment(remote, { state: new SpaceState(s.spaceId), me: as(a, a0), ops: [op(text)], chain: aChain }, d);
            fromA.push(text);
          } else {
            const push = pushSpaceSegment(remote, { state: new SpaceState(s.spaceId), me: as(b, b0), ops: [op(text)], chain: bChain }, d);
            if (role === 'writer') {
              bChain = await push;
              // A device's chain is read up to its first refused segment and no further.
              if (!forged) fromB.push(text);
              continue;
            }
            await assert.rejects(push, (e: unknown) => KithError.is(e, ErrorCode.Forbidden));
            // The same write by a modified client, at the newest membership seq: every member refuses it.
            const state = await new SpaceState(s.spaceId).refresh(remote);
            bChain = await writeSpaceSegment(remote, { state, me: as(b, b0), ops: [op(text)], chain: bChain, epoch: 0, epochKey: epoch0Key }, d);
            forged = true;
          }
        }
        const r = await readSpaceSegments(remote, {
          state: new SpaceState(s.spaceId),
          me: { personId: c.keys.personId, deviceId: c0.deviceId, boxSecret: c0.box.secret },
        });
        assert.deepEqual(texts(r, a0.deviceId), fromA);
        assert.deepEqual(texts(r, b0.deviceId), fromB);
        const refused = refusal(r, b0.deviceId);
        assert.equal(refused !== undefined, forged);
        if (refused) assert.ok(KithError.is(refused.error, ErrorCode.IntegrityUnknownSigner) && refused.error.reason === 'not-a-writer');
        assert.equal(refusal(r, a0.deviceId), undefined);
      }),
      { numRuns: 25 },
    );
  },
);

test('space segments: a push from a chain position behind the remote is refused and leaves the head as it was', async () => {
  const remote = openMemoryRemote();
  const { d, a, s } = await spaceWorld(remote, 32);
  const me = as(a, a.devices[0]!);
  await pushSpaceSegment(remote, { state: new SpaceState(s.spaceId), me, ops: [op('first')], chain: SPACE_CHAIN_START }, d);
  const head = await remote.get(spaceHeadKey(me.deviceId));
  await assert.rejects(pushSpaceSegment(remote, { state: new SpaceState(s.spaceId), me, ops: [op('again')], chain: SPACE_CHAIN_START }, d), (e: unknown) =>
    KithError.is(e, ErrorCode.BadInput),
  );
  assert.deepEqual(await remote.get(spaceHeadKey(me.deviceId)), head);
});

test('space segments: a reader holding pins refuses a membership chain or key epochs the remote rolled back', async () => {
  const remote = openMemoryRemote();
  const { a, c, s } = await spaceWorld(remote, 33);
  const c0 = c.devices[0]!;
  const me = { personId: c.keys.personId, deviceId: c0.deviceId, boxSecret: c0.box.secret };
  const first = await readSpaceSegments(remote, { state: new SpaceState(s.spaceId), me });
  assert.equal(first.refused.length, 0);
  const pins = { membership: s.m.pin, epochs: s.epochs.pin };
  // An entry after carol's admission, then withheld: the reader who saw it refuses the shorter chain.
  await appendMembership(remote, s.m, a.keys, { kind: 'role', personId: c.keys.personId, role: 'writer' }, spaceDeps(34));
  const later = { membership: s.m.pin, epochs: pins.epochs };
  await remote.delete(membershipKey(s.m.seq));
  await assert.rejects(readSpaceSegments(remote, { state: new SpaceState(s.spaceId), me, pins: later }), (e: unknown) =>
    KithError.is(e, ErrorCode.IntegrityRollback),
  );
  await readSpaceSegments(remote, { state: new SpaceState(s.spaceId), me, pins });
  await remote.delete(spaceEpochKey(0));
  await assert.rejects(readSpaceSegments(remote, { state: new SpaceState(s.spaceId), me, pins }), (e: unknown) => KithError.is(e, ErrorCode.IntegrityRollback));
});
