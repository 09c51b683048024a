/**
 * What a write accepts (docs/FORMAT.md "Field values"): JSON that survives
 * the trip to every device unchanged, or a one-line KITH_BAD_INPUT naming
 * where it is not, with nothing written.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { checkFields, isWellFormed, MAX_DEPTH, MAX_RECORD_BYTES, MAX_VALUE_BYTES, type JsonObject, type JsonValue } from './json.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { PROTOTYPE_NAMES } from '../testing/store-conformance.js';
import { Vault } from '../vault/vault.js';

async function newVault(): Promise<Vault> {
  const { vault } = await Vault.create({
    store: openMemoryStore(),
    remote: openMemoryRemote(new Map()),
    remoteUrl: 'memory:',
    deps: { random: seededRandom(5) },
  });
  return vault;
}

/** `depth` levels of objects, `{"a":{"a":...{}}}`, built without recursion. */
function nested(depth: number): JsonObject {
  let v: JsonObject = {};
  for (let i = 1; i < depth; i++) v = { a: v };
  return v;
}

async function refused(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof KithError, `expected a KithError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.doesNotMatch(e.message, /\n/);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe('field values', () => {
  test('values JSON would change are refused, naming their path, and nothing is written', async () => {
    const v = await newVault();
    await v.put('n', 'r', { keep: 1 });
    const bad: [JsonObject, RegExp][] = [
      [{ x: Infinity }, /"\/x" is Infinity: numbers must be finite/],
      [{ x: { y: [1, -Infinity] } }, /"\/x\/y\/1" is -Infinity/],
      [{ x: NaN }, /is NaN/],
      [{ x: 'a\ud800b' }, /"\/x" holds a lone surrogate/],
      [{ x: { ['\udc00']: 1 } }, /has a key with a lone surrogate/],
      [{ ['k\ud83d']: 1 }, /field name with a lone surrogate/],
      [{ x: nested(MAX_DEPTH + 1) }, /nests deeper than 64 levels/],
      [{ x: nested(5000) }, /nests deeper than 64 levels/],
      [{ x: new Date(0) as unknown as JsonValue }, /is a Date, not a plain JSON object/],
      [{ x: [1, undefined as unknown as JsonValue] }, /"\/x\/1" is undefined, not JSON/],
      [{ x: 10n as unknown as JsonValue }, /is a bigint, not JSON/],
      [{ 'a/b~c': { d: (() => 1) as unknown as JsonValue } }, /"\/a~1b~0c\/d" is a function/],
    ];
    for (const [fields, message] of bad) {
      await refused(v.put('n', 'r', fields), ErrorCode.BadInput, message);
      await refused(v.patch('n', 'r', fields), ErrorCode.BadInput, message);
      await refused(
        v.batch((b) => b.put('n', 'other', fields)),
        ErrorCode.BadInput,
        message,
      );
    }
    await refused(v.put('n', 'id\udc00', { x: 1 }), ErrorCode.BadName, /invalid record id/);
    assert.deepEqual(await v.get('n', 'r'), { keep: 1, id: 'r' });
    assert.equal(await v.get('n', 'other'), undefined);
    assert.equal((await v.log()).length, 1);
    await v.close();
  });

  test('the deepest value allowed and every JSON type are stored exactly', async () => {
    const v = await newVault();
    const fields: JsonObject = {
      deep: nested(MAX_DEPTH),
      n: [0, -1.5, 1e300, -5e-324, Number.MAX_SAFE_INTEGER],
      s: 'é 😀 \u0000 \uffff',
      b: [true, false, null],
      empty: {},
      skipped: undefined as unknown as JsonValue,
    };
    await v.put('n', 'r', fields);
    const { skipped: _, ...expected } = fields;
    assert.deepEqual(await v.get('n', 'r'), { ...expected, id: 'r' });
    await v.close();
  });

  test('any record with well-formed keys (Object.prototype names and __proto__ included) round-trips through put, patch and get (property)', async () => {
    const v = await newVault();
    const key = fc
      .oneof(fc.constantFrom(...PROTOTYPE_NAMES), fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }))
      .filter((k) => k !== 'id' && isWellFormed(k));
    const value = (fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>).filter((x) => isWellFormed(JSON.stringify(x)));
    // Built as JSON.parse builds objects: own properties, even "__proto__".
    const record = fc.uniqueArray(fc.tuple(key, value), { maxLength: 6, selector: ([k]) => k }).map((e) => Object.fromEntries<JsonValue>(e));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(record, record, async (first, change) => {
        const id = `r${n++}`;
        await v.put('p', id, first);
        assert.deepEqual(await v.get('p', id), JSON.parse(JSON.stringify({ ...first, id })));
        await v.patch('p', id, change);
        const merged = Object.fromEntries([...Object.entries(first).filter(([k]) => !Object.hasOwn(change, k)), ...Object.entries(change)]);
        const got = await v.get('p', id);
        assert.deepEqual(got, JSON.parse(JSON.stringify({ ...merged, id })));
        assert.deepEqual(Object.keys(got!).sort(), [...Object.keys(merged), 'id'].sort());
      }),
      { seed: 0x6b697468, numRuns: 150 },
    );
    await v.close();
  });

  test('patch needs a live record: a missing or deleted one is KITH_NOT_FOUND and the batch changes nothing', async () => {
    const v = await newVault();
    await refused(v.patch('n', 'missing', { x: 1 }), ErrorCode.NotFound);
    await v.put('n', 'gone', { x: 1 });
    await v.delete('n', 'gone');
    await refused(v.patch('n', 'gone', { x: 2 }), ErrorCode.NotFound);
    await refused(
      v.batch((b) => {
        b.put('n', 'new', { x: 1 });
        b.patch('n', 'missing', { x: 1 });
      }),
      ErrorCode.NotFound,
    );
    assert.equal(await v.get('n', 'new'), undefined);
    assert.equal(await v.get('n', 'gone'), undefined);
    assert.equal((await v.log()).length, 2);
    // Put creates; a patch in the same batch after it sees the record.
    assert.equal(
      await v.batch((b) => {
        b.put('n', 'new', { x: 1 });
        b.patch('n', 'new', { y: 2 });
      }),
      2,
    );
    assert.deepEqual(await v.get('n', 'new'), { x: 1, y: 2, id: 'new' });
    // An undefined value in a patch removes that field; in a put it is simply absent.
    await v.patch('n', 'new', { x: undefined } as unknown as JsonObject);
    assert.deepEqual(await v.get('n', 'new'), { y: 2, id: 'new' });
    await v.close();
  });

  test('size limits count the exact UTF-8 JSON size of string fields, at and just past each limit', () => {
    const ok = (f: JsonObject): void => assert.doesNotThrow(() => checkFields(f));
    const tooLarge = (f: JsonObject, message: RegExp): void =>
      assert.throws(
        () => checkFields(f),
        (e: unknown) => e instanceof KithError && e.code === ErrorCode.TooLarge && message.test(e.message),
      );
    ok({ a: 'x'.repeat(MAX_VALUE_BYTES - 2) }); // two quotes: exactly the limit
    tooLarge({ a: 'x'.repeat(MAX_VALUE_BYTES - 1) }, new RegExp(`field "a" is ${MAX_VALUE_BYTES + 1} bytes`));
    ok({ a: '\u0001'.repeat((MAX_VALUE_BYTES - 2) / 6) }); // each escaped as \u0001
    tooLarge({ a: '\u0001'.repeat((MAX_VALUE_BYTES - 2) / 6 + 1) }, /field "a" is \d+ bytes/);
    const half = MAX_RECORD_BYTES / 2;
    ok({ a: 'x'.repeat(half - 2), b: 'y'.repeat(half - 2) });
    tooLarge({ a: 'x'.repeat(half - 2), b: 'y'.repeat(half - 1) }, new RegExp(`record is ${MAX_RECORD_BYTES + 1} bytes`));
    tooLarge({ a: 'x'.repeat(half), b: 7, c: 'y'.repeat(half) }, /record is \d+ bytes/);
  });
});
