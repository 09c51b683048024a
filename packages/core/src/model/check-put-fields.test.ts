import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkFields, checkPutFields, MAX_RECORD_BYTES, MAX_VALUE_BYTES, putFields, type JsonObject } from './json.js';

/** Names as data brings them: the empty one, `id`, prototype members, lone surrogates, integer-like keys. */
const nameArb = fc.oneof(
  fc.string({ unit: 'binary', minLength: 0, maxLength: 5 }),
  fc.constantFrom('__proto__', 'constructor', 'toString', 'id', '', '0', '10', 'a', '\ud800', 'x\udfff'),
);
/** Values: primitives (good and bad), containers, non-JSON things, and strings whose size bound passes a limit. */
const valueArb = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom<unknown>(undefined, NaN, Infinity, -0, '\ud800', () => 1, Symbol('s'), 10n, new Date(0), [undefined], { a: undefined }, { b: '\udc00' }),
  fc.constantFrom('x'.repeat(Math.ceil(MAX_VALUE_BYTES / 6) + 1), 'y'.repeat(Math.ceil(MAX_RECORD_BYTES / 12))),
);
const fieldsArb = fc.array(fc.tuple(nameArb, valueArb), { maxLength: 6 }).map((entries) => {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o as JsonObject;
});

/** Everything observable of a result or a failure: own keys in order, values, prototype; or the error's code and message. */
function outcome(fn: () => JsonObject): string {
  try {
    const out = fn();
    return JSON.stringify({ keys: Object.keys(out), values: Object.values(out), proto: Object.getPrototypeOf(out) === Object.prototype });
  } catch (e) {
    return JSON.stringify({ code: (e as { code?: string }).code, message: (e as Error).message });
  }
}

test('checkPutFields gives what checkFields then putFields give: the same copy, or the same first problem', () => {
  fc.assert(
    fc.property(fieldsArb, (fields) => {
      const fused = outcome(() => checkPutFields(fields));
      const apart = outcome(() => {
        checkFields(fields);
        return putFields(fields);
      });
      assert.equal(fused, apart);
    }),
    { numRuns: 2000 },
  );
});

test('checkPutFields refuses what is not an object, and copies so that later changes to the input do not show', () => {
  for (const bad of [null, [], 'x', 1]) assert.throws(() => checkPutFields(bad as unknown as JsonObject), { code: 'KITH_BAD_INPUT' });
  const input: JsonObject = { a: 1, b: 'two' };
  const copy = checkPutFields(input);
  input['a'] = 2;
  assert.deepEqual(copy, { a: 1, b: 'two' });
});
