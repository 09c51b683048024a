/**
 * @module testing/space-segment-scenarios
 * A shared space's segments through a real remote (run by
 * `runSpaceScenarios`): writers write and every member reads them; a
 * reader is refused locally and its forged segment by every member; a
 * removed member's and a revoked device's later segments are refused and
 * the removed member opens nothing of the new epoch; tampered, replayed
 * and rolled-back segments and heads are refused.
 */
import assert from 'node:assert/strict';
import { ErrorCode, KithError } from '../base/errors.js';
import { decodeSegment } from '../format/segment.js';
import { formatLocal } from '../model/hlc.js';
import type { Op } from '../model/ops.js';
import type { Remote } from '../ports/remote.js';
import { openSpaceEpochKey } from '../spaces/epochs.js';
import { startEpoch } from '../spaces/epoch-start.js';
import { membershipKey } from '../spaces/membership-entry.js';
import { appendMembership } from '../spaces/membership.js';
import { spaceHeadKey } from '../spaces/space-head.js';
import {
  pushSpaceSegment,
  readSpaceSegments,
  spaceSegmentKey,
  SPACE_CHAIN_START,
  writeSpaceSegment,
  type SpaceChainPos,
  type SpaceDevice,
  type SpaceReadResult,
} from '../spaces/space-segments.js';
import { SpaceState } from '../spaces/space-state.js';
import { actorOf, certify, type TestDevice, type TestPerson } from './space-people.js';
import { spaceWorld } from './space-world.js';

type Scenario = (title: string, body: (h: { openRemote(): Promise<Remote> }) => Promise<void>) => void;

let clock = 0;
/** A put of one record, with a stamp above every earlier one (helpers exported for spaces/space-segments.test.ts). */
export const op = (text: string): Op => ({
  c: 'notes',
  i: `n${++clock}`,
  t: formatLocal({ wall: 1_767_225_600_000 + clock, counter: 0 }),
  k: 'p',
  s: { text },
  a: true,
});

export const as = (p: TestPerson, d: TestDevice): SpaceDevice => ({ person: p.keys, deviceId: d.deviceId, signSeed: d.sign.seed, boxSecret: d.box.secret });

/** A device's own fresh view of the space, as a separate client would have. */
export const viewOf = (spaceId: string) => new SpaceState(spaceId);

export async function read(remote: Remote, spaceId: string, p: TestPerson, d: TestDevice): Promise<SpaceReadResult> {
  return readSpaceSegments(remote, { state: viewOf(spaceId), me: { personId: p.keys.personId, deviceId: d.deviceId, boxSecret: d.box.secret } });
}

export const texts = (r: SpaceReadResult, deviceId: string): string[] =>
  r.segments.filter((x) => x.deviceId === deviceId).flatMap((x) => x.ops.map((o) => String(o.s!['text'] as string)));
export const refusal = (r: SpaceReadResult, deviceId: string) => r.refused.find((x) => x.deviceId === deviceId);
export const isCode = (code: ErrorCode, reason?: string) => (e: unknown) => KithError.is(e, code) && (reason === undefined || e.reason === reason);

/** Writes as `who` with no local checks, under the key it holds of `epoch` (what a modified client could send). */
export async function forge(
  remote: Remote,
  spaceId: string,
  who: SpaceDevice,
  chain: SpaceChainPos,
  epoch: number,
  epochKey: Uint8Array,
  text: string,
  seed: { random: (n: number) => Uint8Array; now: () => number },
  claim: { membershipSeq?: number; certVersion?: number } = {},
): Promise<SpaceChainPos> {
  const state = await viewOf(spaceId).refresh(remote);
  return writeSpaceSegment(remote, { state, me: who, ops: [op(text)], chain, epoch, epochKey, ...claim }, seed);
}

export function runSpaceSegmentScenarios(scenario: Scenario): void {
  scenario('an admin and a writer write, every member reads them; a reader is refused locally and its forged segment by every member', async (h) => {
    const remote = await h.openRemote();
    try {
      const { d, a, b, c, s } = await spaceWorld(remote, 21);
      const [a0, a1] = a.devices as [TestDevice, TestDevice];
      const [b0, b1] = b.devices as [TestDevice, TestDevice];
      const [c0, c1] = c.devices as [TestDevice, TestDevice];
      await pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(a, a0), ops: [op('from alice')], chain: SPACE_CHAIN_START }, d);
      await pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(b, b0), ops: [op('from bob')], chain: SPACE_CHAIN_START }, d);
      await assert.rejects(
        pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(c, c0), ops: [op('from carol')], chain: SPACE_CHAIN_START }, d),
        isCode(ErrorCode.Forbidden, 'reader'),
      );
      assert.equal(await remote.head(spaceHeadKey(c0.deviceId)), null, 'the refused write sent nothing');
      // Carol's device holds epoch 0's key, so a modified client can encrypt and sign a segment: members refuse it.
      const key = (await openSpaceEpochKey(remote, { m: s.m, epochs: s.epochs, certs: s.certs, epoch: 0, deviceId: c0.deviceId, boxSecret: c0.box.secret }))!;
      await forge(remote, s.spaceId, as(c, c0), SPACE_CHAIN_START, 0, key, 'forged by carol', d);
      for (const [p, dev] of [
        [a, a1],
        [b, b1],
        [c, c1],
        [a, a0],
      ] as const) {
        const r = await read(remote, s.spaceId, p, dev);
        if (dev !== a0) assert.deepEqual(texts(r, a0.deviceId), ['from alice']);
        assert.deepEqual(texts(r, b0.deviceId), ['from bob']);
        assert.deepEqual(texts(r, c0.deviceId), [], 'nothing of the forged segment is returned');
        assert.ok(isCode(ErrorCode.IntegrityUnknownSigner, 'not-a-writer')(refusal(r, c0.deviceId)?.error), `device ${dev.deviceId} refuses carol's segment`);
      }
    } finally {
      await remote.close();
    }
  });

  scenario('after an admin removes a writer, its later segments are refused, it gets KITH_REMOVED and opens nothing of the new epoch', async (h) => {
    const remote = await h.openRemote();
    try {
      const { d, a, b, c, s, epoch0Key } = await spaceWorld(remote, 22);
      const [a0] = a.devices as [TestDevice];
      const [b0] = b.devices as [TestDevice];
      const [c0] = c.devices as [TestDevice];
      const bobs = await pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(b, b0), ops: [op('before removal')], chain: SPACE_CHAIN_START }, d);
      const writerSeq = s.m.seq;
      const seen = await read(remote, s.spaceId, a, a0);
      await appendMembership(remote, s.m, a.keys, { kind: 'remove', personId: b.keys.personId }, d);
      const next = await startEpoch(
        remote,
        { m: s.m, epochs: s.epochs, certs: s.certs, actor: actorOf(a), lastSeqOf: async (dev) => seen.cursors.get(dev)?.seq ?? 0 },
        d,
      );
      assert.equal(next.epoch, 1);
      await pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(a, a0), ops: [op('after removal')], chain: SPACE_CHAIN_START }, d);
      // Locally: bob is told who removed him.
      const removed = (e: unknown) => isCode(ErrorCode.Removed, 'removed')(e) && (e as Error).message.includes(a.keys.personId);
      await assert.rejects(pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(b, b0), ops: [op('x')], chain: bobs }, d), removed);
      await assert.rejects(read(remote, s.spaceId, b, b0), removed);
      // Bob's devices hold no key of epoch 1, and his epoch 0 key does not open alice's new segment.
      for (const x of b.devices)
        assert.equal(
          await openSpaceEpochKey(remote, { m: s.m, epochs: s.epochs, certs: s.certs, epoch: 1, deviceId: x.deviceId, boxSecret: x.box.secret }),
          null,
        );
      await assert.rejects(
        decodeSegment((await remote.get(spaceSegmentKey(a0.deviceId, 1)))!, {
          vaultId: s.spaceId,
          deviceId: a0.deviceId,
          seq: 1,
          space: true,
          signPub: a0.sign.pub,
          epochKey: () => epoch0Key,
          maxPayloadBytes: 1 << 20,
        }),
        (e: unknown) => KithError.is(e) && e.code.startsWith('KITH_INTEGRITY_'),
      );
      // Bob forges on, under epoch 0 (the newest key he holds): at the seq he was a writer (past his cut), or at the newest.
      const late = await forge(remote, s.spaceId, as(b, b0), bobs, 0, epoch0Key, 'after removal, old seq', d, { membershipSeq: writerSeq });
      let r = await read(remote, s.spaceId, c, c0);
      assert.deepEqual(texts(r, b0.deviceId), ['before removal'], 'what bob wrote before his removal stays readable');
      assert.deepEqual(texts(r, a0.deviceId), ['after removal']);
      assert.ok(isCode(ErrorCode.IntegrityUnknownSigner, 'cut')(refusal(r, b0.deviceId)?.error));
      await remote.delete(spaceSegmentKey(b0.deviceId, late.seq));
      await forge(remote, s.spaceId, as(b, b0), bobs, 0, epoch0Key, 'after removal, new seq', d);
      r = await read(remote, s.spaceId, c, c0);
      assert.ok(isCode(ErrorCode.IntegrityUnknownSigner, 'not-a-writer')(refusal(r, b0.deviceId)?.error));
    } finally {
      await remote.close();
    }
  });

  scenario('a member who revokes one of their devices: that device is refused locally, and its later segments by every member', async (h) => {
    const remote = await h.openRemote();
    const bobs = await h.openRemote();
    try {
      const { d, a, b, s, epoch0Key } = await spaceWorld(remote, 23);
      const [a0] = a.devices as [TestDevice];
      const [kept, lost] = b.devices as [TestDevice, TestDevice];
      const lostChain = await pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(b, lost), ops: [op('lost, before')], chain: SPACE_CHAIN_START }, d);
      await certify(bobs, b, d.now(), [kept]);
      const mine = await viewOf(s.spaceId).refresh(bobs);
      const next = await startEpoch(bobs, { m: mine.m, epochs: mine.epochs, certs: mine.certs, actor: actorOf(b, kept), lastSeqOf: async () => 1 }, d);
      assert.equal(next.epoch, 1);
      await pushSpaceSegment(bobs, { state: viewOf(s.spaceId), me: as(b, kept), ops: [op('kept, after')], chain: SPACE_CHAIN_START }, d);
      await assert.rejects(
        pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(b, lost), ops: [op('x')], chain: lostChain }, d),
        isCode(ErrorCode.Revoked),
      );
      await assert.rejects(read(remote, s.spaceId, b, lost), isCode(ErrorCode.Revoked));
      // Its forged segment under the only key it holds, naming the certificate that still listed it.
      await forge(remote, s.spaceId, as(b, lost), lostChain, 0, epoch0Key, 'lost, after', d, { certVersion: 1 });
      const r = await read(remote, s.spaceId, a, a0);
      assert.deepEqual(texts(r, lost.deviceId), ['lost, before']);
      assert.deepEqual(texts(r, kept.deviceId), ['kept, after']);
      assert.ok(isCode(ErrorCode.IntegrityUnknownSigner, 'cut')(refusal(r, lost.deviceId)?.error));
    } finally {
      await remote.close();
      await bobs.close();
    }
  });

  scenario('a space segment or head altered, replayed or rolled back, or a head naming a withheld membership entry, is refused', async (h) => {
    const remote = await h.openRemote();
    try {
      const { d, a, c, s } = await spaceWorld(remote, 24);
      const [a0] = a.devices as [TestDevice];
      const [c0] = c.devices as [TestDevice];
      const me = { personId: c.keys.personId, deviceId: c0.deviceId, boxSecret: c0.box.secret };
      const one = await pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(a, a0), ops: [op('one')], chain: SPACE_CHAIN_START }, d);
      const headAfterOne = (await remote.get(spaceHeadKey(a0.deviceId)))!;
      await pushSpaceSegment(remote, { state: viewOf(s.spaceId), me: as(a, a0), ops: [op('two')], chain: one }, d);
      const first = (await remote.get(spaceSegmentKey(a0.deviceId, 1)))!;
      const second = (await remote.get(spaceSegmentKey(a0.deviceId, 2)))!;
      const replace = async (key: string, bytes: Uint8Array) => {
        await remote.delete(key);
        await remote.put(key, bytes);
      };
      const refusedAt = async (code: ErrorCode, seq: number, cursors?: SpaceReadResult['cursors']) => {
        const r = await readSpaceSegments(remote, { state: viewOf(s.spaceId), me, ...(cursors ? { cursors } : {}) });
        const x = refusal(r, a0.deviceId);
        assert.ok(x && KithError.is(x.error, code) && x.seq === seq, `${code} at ${seq}: ${x?.error.code} at ${x?.seq}`);
        return r;
      };
      const altered = second.slice();
      altered[100]! ^= 1;
      await replace(spaceSegmentKey(a0.deviceId, 2), altered);
      assert.deepEqual(texts(await refusedAt(ErrorCode.IntegrityCorrupt, 2), a0.deviceId), ['one']);
      await replace(spaceSegmentKey(a0.deviceId, 2), first);
      await refusedAt(ErrorCode.IntegrityChain, 2);
      await replace(spaceSegmentKey(a0.deviceId, 2), second);
      const all = await readSpaceSegments(remote, { state: viewOf(s.spaceId), me });
      assert.deepEqual(texts(all, a0.deviceId), ['one', 'two']);
      assert.equal(all.refused.length, 0);
      // An older head to a reader who read further: a rollback; nothing new for a reader who had not.
      const headNow = (await remote.get(spaceHeadKey(a0.deviceId)))!;
      await replace(spaceHeadKey(a0.deviceId), headAfterOne);
      await refusedAt(ErrorCode.IntegrityRollback, 3, all.cursors);
      const fresh = await readSpaceSegments(remote, { state: viewOf(s.spaceId), me });
      assert.deepEqual(texts(fresh, a0.deviceId), ['one']);
      // A head naming a membership entry the remote then withholds (alice reads: the withheld entry admitted carol).
      await replace(spaceHeadKey(a0.deviceId), headNow);
      const lastEntry = membershipKey(s.m.seq);
      const entry = (await remote.get(lastEntry))!;
      await remote.delete(lastEntry);
      const a1 = a.devices[1]!;
      const r = await readSpaceSegments(remote, {
        state: viewOf(s.spaceId),
        me: { personId: a.keys.personId, deviceId: a1.deviceId, boxSecret: a1.box.secret },
      });
      assert.ok(isCode(ErrorCode.IntegrityChain)(refusal(r, a0.deviceId)?.error));
      assert.deepEqual(texts(r, a0.deviceId), []);
      await remote.put(lastEntry, entry);
    } finally {
      await remote.close();
    }
  });
}
