import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyOp, rowOf, viewOf, type RecordView } from './merge.js';
import { emptyPutOp, isEmptyPutOp, putFields, putOnEmpty, putOp } from './local-writes.js';
import { copyFields, type JsonObject, type JsonValue } from './json.js';

const DEVICE = '0123456789abcdef';
const T = '0mxbx3vvz0000';

/** Field names as data brings them, prototype members among them. */
const nameArb = fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }), fc.constantFrom('__proto__', 'constructor', 'toString', '0', '10', 'a'));
const fieldsArb = fc
  .uniqueArray(fc.tuple(nameArb, fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>), { selector: ([k]) => k, maxLength: 6 })
  .map((entries) => copyFields(Object.fromEntries<JsonValue>(entries), false));

/** Everything observable of a view, key order included. */
const snapshot = (v: RecordView): string => JSON.stringify({ ...rowOf(v), fields: Object.entries(v.fields), state: Object.entries(v.state) });

describe('putOnEmpty', () => {
  test('on a record the device holds nothing of, it makes the op and the view that putOp then applyOp make (property)', () => {
    fc.assert(
      fc.property(fieldsArb, (fields) => {
        const general = viewOf(undefined, 'c', 'r');
        const op = putOp(general, T, fields);
        const stamp = T + DEVICE;
        assert.equal(
          applyOp(general, op, DEVICE, (s) => s !== stamp),
          true,
        );
        const fast = viewOf(undefined, 'c', 'r');
        const quick = putOnEmpty(fast, T, DEVICE, fields);
        assert.ok(quick !== undefined);
        assert.deepEqual(quick, op);
        assert.equal(JSON.stringify(quick), JSON.stringify(op));
        assert.equal(snapshot(fast), snapshot(general));
        assert.equal(Object.getPrototypeOf(fast.fields), null);
        assert.equal(Object.getPrototypeOf(fast.state), null);
      }),
    );
  });

  test('declines (and changes nothing) when the record exists, even as a tombstone or with no fields', () => {
    const written = viewOf(undefined, 'c', 'r');
    assert.ok(putOnEmpty(written, T, DEVICE, copyFields({ a: 1 }, false)));
    const tombstone = viewOf({ ...rowOf(written), deleted: true, fields: {} }, 'c', 'r');
    const bare = viewOf({ collection: 'c', id: 'r', fields: {}, deleted: false, state: { '': { w: 'x' } }, conflicted: false, updated: 'x' }, 'c', 'r');
    for (const v of [written, tombstone, bare]) {
      const before = snapshot(v);
      assert.equal(putOnEmpty(v, '0mxbx3vvz0001', DEVICE, copyFields({ b: 2 }, false)), undefined);
      assert.equal(snapshot(v), before);
    }
  });
});

describe('putFields', () => {
  test('copies what copyFields copies, keys and their order included, `__proto__` as an own field, without touching any prototype (property)', () => {
    const entryArb = fc.tuple(nameArb, fc.option(fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>, { nil: undefined }));
    fc.assert(
      fc.property(fc.uniqueArray(entryArb, { selector: ([k]) => k, maxLength: 6 }), (entries) => {
        const given = Object.create(null) as Record<string, JsonValue>;
        for (const [k, v] of entries) given[k] = v as JsonValue;
        const copy = putFields(given);
        const reference = copyFields(given, false);
        assert.deepEqual(Object.entries(copy), Object.entries(reference));
        assert.equal(JSON.stringify(copy), JSON.stringify(reference));
        assert.equal(Object.getPrototypeOf(copy), Object.prototype);
        assert.equal(Object.hasOwn(copy, '__proto__'), Object.hasOwn(reference, '__proto__'));
        assert.equal(Object.getPrototypeOf({}), Object.prototype);
        // As the merge reads them: a put on an empty record makes the same op and view from either copy.
        const a = viewOf(undefined, 'c', 'r');
        const b = viewOf(undefined, 'c', 'r');
        assert.equal(JSON.stringify(putOnEmpty(a, T, DEVICE, copy)), JSON.stringify(putOnEmpty(b, T, DEVICE, reference)));
        assert.equal(snapshot(a), snapshot(b));
      }),
    );
  });
});

describe('isEmptyPutOp', () => {
  const opArb = fc.record({ c: fc.string(), i: fc.string(), t: fc.string(), s: fc.dictionary(fc.string(), fc.integer()) });
  test('accepts what emptyPutOp builds, and its JSON parsed back', () => {
    fc.assert(
      fc.property(opArb, ({ c, i, t, s }) => {
        const op = emptyPutOp(c, i, t, s) as unknown as JsonObject;
        assert.equal(isEmptyPutOp(op), true);
        assert.equal(isEmptyPutOp(JSON.parse(JSON.stringify(op)) as JsonObject), true);
      }),
    );
  });
  test('refuses a key more, less or out of order, other constants, and an inherited key', () => {
    fc.assert(
      fc.property(opArb, fc.string({ minLength: 1 }), ({ c, i, t, s }, extra) => {
        const op = emptyPutOp(c, i, t, s) as unknown as JsonObject;
        const entries = Object.entries(op);
        if (!['c', 'i', 't', 'k', 's', 'a'].includes(extra)) assert.equal(isEmptyPutOp({ ...op, [extra]: 1 }), false);
        for (let k = 0; k < entries.length; k++) {
          assert.equal(isEmptyPutOp(Object.fromEntries(entries.filter((_, j) => j !== k))), false);
        }
        assert.equal(isEmptyPutOp(Object.fromEntries([...entries].reverse())), false);
        assert.equal(isEmptyPutOp({ ...op, k: 'm' }), false);
        assert.equal(isEmptyPutOp({ ...op, a: false }), false);
        assert.equal(isEmptyPutOp({ ...op, s: [1] }), false);
        // Own keys right, one more inherited and enumerable: not the op emptyPutOp builds.
        assert.equal(isEmptyPutOp(Object.assign(Object.create({ u: ['x'] }) as JsonObject, op)), false);
      }),
    );
  });
});
