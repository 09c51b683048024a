/**
 * @module testing/space-demote-scenarios
 * The person cut through a real remote (run by `runSpaceScenarios`): a
 * writer demoted to reader, a demoted writer's newly paired device, and a
 * removed member's device paired after the removal all hold a key of the
 * space, so a modified client can sign segments naming a membership seq
 * from before; every other member refuses them past the cut the demoting
 * or removing entry carries, while what they wrote before still applies,
 * and a re-promoted writer writes again.
 */
import assert from 'node:assert/strict';
import { ErrorCode } from '../base/errors.js';
import type { Remote } from '../ports/remote.js';
import { removeMember, setMemberRole } from '../spaces/space-ops.js';
import { pushSpaceSegment, SPACE_CHAIN_START, type SpaceReadResult } from '../spaces/space-segments.js';
import { as, forge, isCode, op, read, refusal, texts, viewOf } from './space-segment-scenarios.js';
import { certify, spaceActorOf, testDevice, type TestDevice, type TestPerson } from './space-people.js';
import { spaceWorld } from './space-world.js';

type Scenario = (title: string, body: (h: { openRemote(): Promise<Remote> }) => Promise<void>) => void;

const personCut = isCode(ErrorCode.IntegrityUnknownSigner, 'person-cut');

/** Every reader in `readers` applies `kept` of `device` and refuses it from `seq` on as past its person's cut. */
async function refusedByAll(
  remote: Remote,
  spaceId: string,
  readers: readonly (readonly [TestPerson, TestDevice])[],
  device: TestDevice,
  kept: string[],
  seq: number,
  also: (r: SpaceReadResult, reader: TestDevice) => void = () => undefined,
): Promise<void> {
  for (const [p, dev] of readers) {
    const r = await read(remote, spaceId, p, dev);
    assert.deepEqual(texts(r, device.deviceId), kept, `device ${dev.deviceId} applies what was written before the cut`);
    const x = refusal(r, device.deviceId);
    assert.ok(
      personCut(x?.error) && x?.seq === seq,
      `device ${dev.deviceId} refuses ${device.deviceId}/${seq}: ${x?.error.code} ${x?.error.reason} at ${x?.seq}`,
    );
    also(r, dev);
  }
}

export function runSpaceDemoteScenarios(scenario: Scenario): void {
  scenario(
    'a writer demoted to reader: its back-dated segments are refused by every member past the cut, its earlier ones apply; re-promoted, it writes again',
    async (h) => {
      const remote = await h.openRemote();
      try {
        const { d, a, b, c, s, epoch0Key } = await spaceWorld(remote, 31);
        const [a0, a1] = a.devices as [TestDevice, TestDevice];
        const [b0, b1] = b.devices as [TestDevice, TestDevice];
        const [c0, c1] = c.devices as [TestDevice, TestDevice];
        const before = await pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(b, b0), ops: [op('bob, before')], chain: SPACE_CHAIN_START }, d);
        const writerSeq = s.m.seq;
        await setMemberRole(remote, s, spaceActorOf(a), b.keys.personId, 'reader', d);
        assert.deepEqual(s.m.writeEnd(b.keys.personId, writerSeq), {
          seq: writerSeq + 1,
          cut: [
            { deviceId: b0.deviceId, lastSeq: 1 },
            { deviceId: b1.deviceId, lastSeq: 0 },
          ],
        });
        await assert.rejects(
          pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(b, b0), ops: [op('x')], chain: before }, d),
          isCode(ErrorCode.Forbidden, 'reader'),
        );
        // A modified client: bob's real keys, the current epoch's key, the next seq of his chain, the seq where he was a writer.
        await forge(remote, s.spaceId, as(b, b0), before, 0, epoch0Key, 'bob, back-dated', d, { membershipSeq: writerSeq });
        await pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(a, a0), ops: [op('alice, after')], chain: SPACE_CHAIN_START }, d);
        const readers = [
          [a, a1],
          [c, c0],
          [c, c1],
          [b, b1],
        ] as const;
        await refusedByAll(remote, s.spaceId, readers, b0, ['bob, before'], 2, (r) => assert.deepEqual(texts(r, a0.deviceId), ['alice, after']));
        // Re-promoted: bob writes again (at a seq where he is a writer); the back-dated segment stays refused.
        await setMemberRole(remote, s, spaceActorOf(a), b.keys.personId, 'writer', d);
        await pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(b, b1), ops: [op('bob, promoted again')], chain: SPACE_CHAIN_START }, d);
        await refusedByAll(remote, s.spaceId, [[a, a1] as const, [c, c0] as const], b0, ['bob, before'], 2, (r) =>
          assert.deepEqual(texts(r, b1.deviceId), ['bob, promoted again']),
        );
      } finally {
        await remote.close();
      }
    },
  );

  scenario('a demoted writer pairs a new device: its back-dated segment is refused by every member (no cut names it)', async (h) => {
    const remote = await h.openRemote();
    try {
      const { d, a, b, c, s, epoch0Key } = await spaceWorld(remote, 32);
      const [, a1] = a.devices as [TestDevice, TestDevice];
      const [b0] = b.devices as [TestDevice, TestDevice];
      const [c0] = c.devices as [TestDevice];
      await pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(b, b0), ops: [op('bob, before')], chain: SPACE_CHAIN_START }, d);
      const writerSeq = s.m.seq;
      await setMemberRole(remote, s, spaceActorOf(a), b.keys.personId, 'reader', d);
      const paired = testDevice(125);
      const version = await certify(remote, b, d.now(), [...b.devices, paired]);
      await forge(remote, s.spaceId, as(b, paired), SPACE_CHAIN_START, 0, epoch0Key, 'new device, back-dated', d, {
        membershipSeq: writerSeq,
        certVersion: version,
      });
      await refusedByAll(remote, s.spaceId, [[a, a1] as const, [c, c0] as const], paired, [], 1, (r) =>
        assert.deepEqual(texts(r, b0.deviceId), ['bob, before']),
      );
    } finally {
      await remote.close();
    }
  });

  scenario('a removed member pairs a device after the removal: its segment under the old epoch, back-dated, is refused by every member', async (h) => {
    const remote = await h.openRemote();
    try {
      const { d, a, b, c, s, epoch0Key } = await spaceWorld(remote, 33);
      const [a0, a1] = a.devices as [TestDevice, TestDevice];
      const [b0] = b.devices as [TestDevice, TestDevice];
      const [c0] = c.devices as [TestDevice];
      await pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(b, b0), ops: [op('bob, before')], chain: SPACE_CHAIN_START }, d);
      const writerSeq = s.m.seq;
      await removeMember(remote, s, spaceActorOf(a), b.keys.personId, d);
      assert.equal(s.epochs.count, 2, 'the removal started epoch 1');
      const paired = testDevice(126);
      const version = await certify(remote, b, d.now(), [...b.devices, paired]);
      await forge(remote, s.spaceId, as(b, paired), SPACE_CHAIN_START, 0, epoch0Key, 'removed, new device, back-dated', d, {
        membershipSeq: writerSeq,
        certVersion: version,
      });
      await pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(a, a0), ops: [op('alice, after')], chain: SPACE_CHAIN_START }, d);
      await refusedByAll(remote, s.spaceId, [[a, a1] as const, [c, c0] as const], paired, [], 1, (r, dev) => {
        assert.deepEqual(texts(r, b0.deviceId), ['bob, before']);
        if (dev !== a0) assert.deepEqual(texts(r, a0.deviceId), ['alice, after']);
      });
    } finally {
      await remote.close();
    }
  });

  scenario(
    'a writer writing while an admin demotes it: its segment past the cut is refused, the one the admin saw applies; its device is told, and takes it back once promoted again',
    async (h) => {
      const remote = await h.openRemote();
      try {
        const { d, a, b, c, s } = await spaceWorld(remote, 34);
        const [, a1] = a.devices as [TestDevice, TestDevice];
        const [b0] = b.devices as [TestDevice, TestDevice];
        const [c0] = c.devices as [TestDevice];
        const seen = await pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(b, b0), ops: [op('seen')], chain: SPACE_CHAIN_START }, d);
        // Bob's second segment lands while the admin demotes him, after the admin looked: the cut names only the first.
        const raced = await pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(b, b0), ops: [op('raced')], chain: seen }, d);
        await setMemberRole(remote, s, spaceActorOf(a), b.keys.personId, 'reader', { ...d, lastSeqOf: async (dev) => (dev === b0.deviceId ? 1 : 0) });
        await refusedByAll(remote, s.spaceId, [[a, a1] as const, [c, c0] as const], b0, ['seen'], 2);
        // Bob's device is told that its own segment 2 is refused by the others (its change stays on it alone).
        const own = refusal(await read(remote, s.spaceId, b, b0), b0.deviceId);
        assert.ok(personCut(own?.error) && own?.seq === 2, `bob's device is told: ${own?.error.message}`);
        assert.match(own.error.message, /segments 2–2 after membership entry \d+ ended your right to write/);
        // Promoted again, its device takes the refused segment back before writing on, so its new writes reach everyone.
        await setMemberRole(remote, s, spaceActorOf(a), b.keys.personId, 'writer', d);
        const after = await pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(b, b0), ops: [op('promoted again')], chain: raced }, d);
        assert.equal(after.seq, 2);
        for (const [p, dev] of [
          [a, a1],
          [c, c0],
          [b, b0],
        ] as const) {
          const r = await read(remote, s.spaceId, p, dev);
          if (dev !== b0) assert.deepEqual(texts(r, b0.deviceId), ['seen', 'promoted again']);
          assert.equal(refusal(r, b0.deviceId), undefined);
        }
      } finally {
        await remote.close();
      }
    },
  );
}
