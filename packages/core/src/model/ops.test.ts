import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HybridClock } from './hlc.js';
import { isWellFormed, type JsonValue } from './json.js';
import { deleteOp, patchOp, putOp } from './local-writes.js';
import { applyOp, viewOf } from './merge.js';
import { decodePayload, encodePayload, type Op } from './ops.js';
import { PROTOTYPE_NAMES } from '../testing/store-conformance.js';

const DEVICE = '00000000000000a1';

/** Object keys as JSON.parse makes them: own properties, "__proto__" included. */
const keyArb = fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES), fc.string({ unit: 'binary', minLength: 1, maxLength: 5 })).filter(isWellFormed);
const valueArb = (fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>).filter((v) => isWellFormed(JSON.stringify(v)));
const fieldsArb = fc.uniqueArray(fc.tuple(keyArb, valueArb), { maxLength: 5, selector: ([k]) => k }).map((e) => Object.fromEntries<JsonValue>(e));

describe('segment payload codec', () => {
  test('ops with any field names (Object.prototype members, __proto__) decode to exactly what was encoded (property)', () => {
    const step = fc.record({ kind: fc.constantFrom('put', 'patch', 'delete'), fields: fieldsArb });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 8 }), (steps) => {
        // Real local writes, so predecessors name earlier values of the same fields.
        const clock = new HybridClock(() => 1_000_000);
        const view = viewOf(undefined, 'c', 'r');
        const ops: Op[] = [];
        for (const s of steps) {
          const t = clock.next();
          const op = s.kind === 'put' ? putOp(view, t, s.fields) : s.kind === 'patch' ? patchOp(view, t, s.fields) : deleteOp(view, t);
          applyOp(view, op, DEVICE, (stamp) => stamp !== op.t + DEVICE);
          ops.push(op);
        }
        const decoded = decodePayload(encodePayload(ops), undefined);
        assert.deepEqual(decoded, JSON.parse(JSON.stringify(ops)));
        for (const [i, op] of ops.entries()) {
          assert.deepEqual(Object.keys(decoded[i]!.s ?? {}), Object.keys(op.s ?? {}));
          assert.deepEqual(Object.keys(decoded[i]!.r ?? {}), Object.keys(op.r ?? {}));
        }
        // Applied on another device, the ops give the writer's fields.
        const other = viewOf(undefined, 'c', 'r');
        const seen = new Set<string>();
        for (const op of decoded) {
          assert.equal(
            applyOp(other, op, DEVICE, (stamp) => seen.has(stamp)),
            true,
          );
          seen.add(op.t + DEVICE);
        }
        assert.deepEqual(other.fields, view.fields);
        assert.equal(other.deleted, view.deleted);
      }),
      { seed: 0x6b697468, numRuns: 300 },
    );
  });

  test('a null predecessor, as builds before the fix wrote for a field named constructor, means "replaced nothing"', () => {
    const t = new HybridClock(() => 1_000_000).next();
    const old = { c: 'c', i: 'r', t, k: 'p', s: { constructor: 1, toString: 't' }, a: true, r: { constructor: [null], toString: [null] } };
    const [op] = decodePayload(new TextEncoder().encode(JSON.stringify({ v: 1, ops: [old] })), undefined);
    assert.deepEqual(op!.r, { constructor: [], toString: [] });
    const view = viewOf(undefined, 'c', 'r');
    assert.equal(
      applyOp(view, op!, DEVICE, () => false),
      true,
    );
    assert.deepEqual({ ...view.fields }, { constructor: 1, toString: 't' });
    // Anything else in a predecessor list is still refused.
    const bad = { ...old, r: { constructor: ['not a stamp'] } };
    assert.throws(() => decodePayload(new TextEncoder().encode(JSON.stringify({ v: 1, ops: [bad] })), undefined), /bad predecessor stamp/);
  });
});
