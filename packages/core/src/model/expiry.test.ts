/**
 * Expiry as a merge operation, and the payload version of ops on reserved
 * collections (docs/FORMAT.md "Retention").
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, KithError } from '../base/errors.js';
import { DAY_MS, EXPIRY_DEVICE, expireView, expiryFloor, floorOf } from './expiry.js';
import { formatLocal, stampTime } from './hlc.js';
import { patchOp, putOp } from './local-writes.js';
import { applyOp, rowOf, viewOf, type RecordView } from './merge.js';
import { decodePayload, encodePayload, PAYLOAD_VERSION, RESERVED_PAYLOAD_VERSION, type Op } from './ops.js';

const A = 'a'.repeat(16);
const B = 'b'.repeat(16);
const t = (ms: number): string => formatLocal({ wall: ms, counter: 0 });
const never = (): boolean => false;

/** Applies ops (each with its device) to a fresh view in the given order, expiring at `floor` after `expireAfter` ops. */
function run(ops: readonly (readonly [Op, string])[], floor: string, expireAfter: number): RecordView {
  const v = viewOf(undefined, 'msgs', 'm');
  const seen = new Set<string>();
  const isApplied = (s: string): boolean => seen.has(s);
  ops.forEach(([op, device], i) => {
    if (i === expireAfter) expireView(v, floor);
    applyOp(v, op, device, isApplied);
    seen.add(op.t + device);
  });
  if (expireAfter >= ops.length) expireView(v, floor);
  return v;
}

describe('expiry', () => {
  test('the floor is the newest write plus the days, at the reserved device', () => {
    const floor = expiryFloor(t(5000) + A, 30);
    assert.equal(stampTime(floor), 5000 + 30 * DAY_MS);
    assert.ok(floor.endsWith(EXPIRY_DEVICE));
  });

  test('expiring kills older heads; an older write arriving later is dropped; a newer write wins', () => {
    const base = viewOf(undefined, 'msgs', 'm');
    const w1 = putOp(base, t(1000), { text: 'old', n: 1 });
    applyOp(base, w1, A, never);
    const floor = expiryFloor(w1.t + A, 1);
    assert.equal(expireView(base, floor), true);
    assert.equal(base.deleted, true);
    assert.deepEqual({ ...base.fields }, {});
    assert.equal(floorOf(base), floor);
    assert.equal(expireView(base, floor), false, 'the same floor again changes nothing');
    // A concurrent write from before the floor, received late: lost to the expiry.
    const late = patchOp(viewOf(undefined, 'msgs', 'm'), t(2000), { n: 2 });
    assert.equal(applyOp(base, late, B, never), false);
    assert.equal(base.deleted, true);
    // A write after the floor brings the record back with only what it wrote.
    const after = putOp(base, t(stampTime(floor) + 1), { text: 'new' });
    assert.equal(applyOp(base, after, B, never), true);
    assert.equal(base.deleted, false);
    assert.deepEqual({ ...base.fields }, { text: 'new' });
    assert.equal(rowOf(base).conflicted, false);
  });

  test('property: the state after expiring at a floor does not depend on when, in the arrival order, the expiry came', () => {
    const DAY = 10_000;
    const write = fc.record({ dev: fc.constantFrom(A, B), at: fc.integer({ min: 1, max: 3 * DAY }), field: fc.constantFrom('x', 'y'), value: fc.integer() });
    fc.assert(
      fc.property(fc.array(write, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 3 * DAY }), fc.nat(), fc.nat(), (writes, floorAt, i, j) => {
        // Each device's ops are written on its own view (so predecessors are real), with increasing stamps per device.
        const views = new Map([A, B].map((d) => [d, viewOf(undefined, 'msgs', 'm')] as const));
        const last = new Map<string, number>();
        const ops: [Op, string][] = [];
        for (const w of writes) {
          const at = Math.max(w.at, (last.get(w.dev) ?? 0) + 1);
          last.set(w.dev, at);
          const v = views.get(w.dev)!;
          const op = putOp(v, t(at), { [w.field]: w.value });
          applyOp(v, op, w.dev, (s) => s !== op.t + w.dev);
          ops.push([op, w.dev]);
        }
        const floor = t(floorAt) + EXPIRY_DEVICE;
        // Two arrival orders that keep each device's own order, and two points of expiry.
        const byDevice = (first: string) => [...ops.filter(([, d]) => d === first), ...ops.filter(([, d]) => d !== first)];
        const x = run(byDevice(A), floor, i % (ops.length + 1));
        const y = run(byDevice(B), floor, j % (ops.length + 1));
        assert.equal(x.deleted, y.deleted);
        assert.deepEqual({ ...x.fields }, { ...y.fields });
      }),
      { numRuns: 300 },
    );
  });
});

describe('payload version of reserved collections', () => {
  const op = (c: string): Op => ({ c, i: 'msgs', t: t(1000), k: 'p', s: { days: 3 }, a: true });
  const decoded = (v: number, c: string) => decodePayload(new TextEncoder().encode(JSON.stringify({ v, ops: [op(c)] })), undefined);

  test('ops on _kith. collections are written as version 2; app ops stay version 1', () => {
    assert.equal(JSON.parse(new TextDecoder().decode(encodePayload([op('notes')]))).v, PAYLOAD_VERSION);
    assert.equal(JSON.parse(new TextDecoder().decode(encodePayload([op('notes'), op('_kith.retention')]))).v, RESERVED_PAYLOAD_VERSION);
    assert.equal(decodePayload(encodePayload([op('_kith.retention')]), undefined)[0]!.c, '_kith.retention');
  });

  test('a reserved name in a version 1 payload is corrupt; version 2 still refuses names that are not valid', () => {
    const refused = (v: number, c: string, code: ErrorCode): void =>
      assert.throws(
        () => decoded(v, c),
        (e) => e instanceof KithError && e.code === code,
      );
    refused(1, '_kith.retention', ErrorCode.IntegrityCorrupt);
    refused(2, '_kith.', ErrorCode.IntegrityCorrupt);
    refused(2, '_other', ErrorCode.IntegrityCorrupt);
    refused(3, 'notes', ErrorCode.UnsupportedFormat);
    assert.equal(decoded(2, 'notes')[0]!.c, 'notes');
  });
});
