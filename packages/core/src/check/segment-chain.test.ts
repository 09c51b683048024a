/**
 * check/segment-chain: the walk both segment checks share, over stand-in
 * segments (the bytes name a seq and a variant; the decoder is the test's).
 * Gaps, failures, broken links in both of the kinds' ways, segments past
 * the head, and a revoked writer's end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KithError } from '../base/errors.js';
import { CheckLog } from './report.js';
import type { CheckRun } from './run.js';
import { walkSegmentChain, type SegmentChain } from './segment-chain.js';

/** genuine: the segment its writer wrote; altered: fails to decode; other: decodes, but is not the one the next segment and the head name. */
type Variant = 'genuine' | 'altered' | 'other';
const VARIANT = { genuine: 0, altered: 1, other: 2 } as const;
const keyOf = (seq: number): string => `segments/d/${seq}`;
const hashOf = (seq: number, variant = 0): Uint8Array => {
  const h = new Uint8Array(32);
  if (seq > 0) h.set([seq, variant + 1]);
  return h;
};

interface Walked {
  readonly problems: [string, string, ErrorCode][];
  readonly accepted: number[];
  readonly failed: number;
  readonly read: string[];
}

/** Walks a chain whose segment seq is `chain[seq]` (absent: not listed). */
async function walk(
  chain: Record<number, Variant>,
  o: { headSeq?: number; writableUpTo?: number; brokenLink?: 'report' | 'reject'; missingHint?: (seq: number) => string | undefined } = {},
): Promise<Walked> {
  const log = new CheckLog();
  const read: string[] = [];
  const objects = new Map(Object.entries(chain).map(([seq, v]) => [keyOf(Number(seq)), Uint8Array.of(Number(seq), VARIANT[v])]));
  const run = {
    log,
    signal: undefined,
    read: async (key: string) => {
      read.push(key);
      return objects.get(key) ?? null;
    },
  } as unknown as CheckRun;
  const accepted: number[] = [];
  let failed = 0;
  const c: SegmentChain<{ prevHash: Uint8Array; hash: Uint8Array }> = {
    subject: 'device d',
    listed: new Map(Object.keys(chain).map((seq) => [Number(seq), keyOf(Number(seq))])),
    keyOf,
    head: o.headSeq === undefined ? undefined : { seq: o.headSeq, hash: hashOf(o.headSeq) },
    restore: 'restore it',
    ...(o.writableUpTo === undefined ? {} : { writableUpTo: o.writableUpTo }),
    missingHint: o.missingHint ?? (() => 'restore it'),
    decode: async (bytes, seq) => {
      assert.equal(bytes[0], seq, 'read in order');
      if (bytes[1] === VARIANT.altered) throw new KithError(ErrorCode.IntegrityCorrupt, `segment ${seq} is corrupt`);
      return { prevHash: hashOf(seq - 1), hash: hashOf(seq, bytes[1]) };
    },
    brokenLink: o.brokenLink ?? 'report',
    accept: (_seg, seq) => void accepted.push(seq),
    failed: () => void failed++,
  };
  await walkSegmentChain(run, c);
  return { problems: log.problems.map((p) => [p.kind, p.key, p.code]), accepted, failed, read };
}

test('a whole chain up to its head: nothing reported, every segment accepted in order', async () => {
  const w = await walk({ 1: 'genuine', 2: 'genuine', 3: 'genuine' }, { headSeq: 3 });
  assert.deepEqual(w.problems, []);
  assert.deepEqual(w.accepted, [1, 2, 3]);
});

test('a gap is missing (unless the kind expects it) and the segment after it is not judged by its link', async () => {
  const w = await walk({ 1: 'genuine', 3: 'other' }, { headSeq: 4 });
  assert.deepEqual(w.problems, [
    ['missing', keyOf(2), ErrorCode.IntegrityChain],
    ['missing', keyOf(4), ErrorCode.IntegrityChain],
  ]);
  assert.deepEqual(w.accepted, [1, 3]);
  const compacted = await walk({ 3: 'genuine' }, { headSeq: 3, missingHint: (seq) => (seq > 2 ? 'restore it' : undefined) });
  assert.deepEqual(compacted.problems, []);
});

test('a segment that fails to decode is reported with its own code, and the chain goes on unverified', async () => {
  const w = await walk({ 1: 'genuine', 2: 'altered', 3: 'genuine' }, { headSeq: 3 });
  assert.deepEqual(w.problems, [['damaged', keyOf(2), ErrorCode.IntegrityCorrupt]]);
  assert.deepEqual(w.accepted, [1, 3]);
  assert.equal(w.failed, 1);
});

test("replaced segments: a broken link is damaged; 'report' accepts the segment and judges the next one against it, 'reject' does neither", async () => {
  const chain = { 1: 'genuine', 2: 'other', 3: 'other', 4: 'genuine' } as const;
  const reported = await walk(chain, { headSeq: 4, brokenLink: 'report' });
  assert.deepEqual(reported.problems, [
    ['damaged', keyOf(3), ErrorCode.IntegrityChain],
    ['damaged', keyOf(4), ErrorCode.IntegrityChain],
  ]);
  assert.deepEqual(reported.accepted, [1, 2, 3, 4]);
  assert.equal(reported.failed, 0);
  const rejected = await walk(chain, { headSeq: 4, brokenLink: 'reject' });
  assert.deepEqual(rejected.problems, [['damaged', keyOf(3), ErrorCode.IntegrityChain]]);
  assert.deepEqual(rejected.accepted, [1, 2, 4]);
  assert.equal(rejected.failed, 1);
});

test('the segment at the head seq must be the one the head names; those past the head are unreferenced, and none without a head', async () => {
  assert.deepEqual((await walk({ 1: 'genuine', 2: 'other' }, { headSeq: 2 })).problems, [['damaged', keyOf(2), ErrorCode.IntegrityChain]]);
  assert.deepEqual((await walk({ 1: 'genuine', 2: 'genuine', 3: 'genuine' }, { headSeq: 1 })).problems, [
    ['unreferenced', keyOf(2), ErrorCode.UnreferencedObject],
    ['unreferenced', keyOf(3), ErrorCode.UnreferencedObject],
  ]);
  assert.deepEqual((await walk({ 1: 'genuine', 2: 'genuine' })).problems, []);
});

test("a revoked writer's segments past its last are foreign and never read", async () => {
  const w = await walk({ 1: 'genuine', 2: 'genuine', 3: 'genuine' }, { headSeq: 3, writableUpTo: 1 });
  assert.deepEqual(w.problems, [
    ['foreign', keyOf(2), ErrorCode.Revoked],
    ['foreign', keyOf(3), ErrorCode.Revoked],
  ]);
  assert.deepEqual(w.read, [keyOf(1)]);
  assert.deepEqual(w.accepted, [1]);
});
