/**
 * The query evaluation of the IndexedDB store, in Node (no browser needed:
 * it is plain JavaScript over rows): pages match the reference order of
 * `@kith/core/testing` under a fixed seed, and bad cursors are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, KithError, type JsonObject, type JsonValue } from '@kith/core';
import { type RecordQuery, type RecordRow } from '@kith/core/adapter';
import { compareCodePoints as referenceCompare, referenceQuery } from '@kith/core/testing';
import { compareCodePoints, decodeCursor, encodeCursor, idKey, pageOf } from './idb-query.js';

const SEED = 0x69646221;

test('compareCodePoints agrees with the reference over all of Unicode (property)', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
      assert.equal(Math.sign(compareCodePoints(a, b)), Math.sign(referenceCompare(a, b)));
    }),
    { seed: SEED, numRuns: 2000 },
  );
});

test("idKey: the UTF-16 order of the keys (IndexedDB's) is the code point order of the ids (property)", () => {
  const utf16 = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 6 }), (a, b) => {
      assert.equal(utf16(idKey(a), idKey(b)), Math.sign(referenceCompare(a, b)));
    }),
    { seed: SEED, numRuns: 3000 },
  );
  // The characters where UTF-16 and code point order disagree, spelled out.
  assert.deepEqual(
    ['😀', '\uff5e', '\ue000', 'z'].sort((a, b) => utf16(idKey(a), idKey(b))),
    ['z', '\ue000', '\uff5e', '😀'],
  );
});

test('every page of every query matches the reference, no duplicates or gaps (property)', () => {
  const value: fc.Arbitrary<JsonValue | undefined> = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom<JsonValue>(null, false, true, 0, 1, -1.5, 1e21, '', 'a', 'é', '\uff5e', '😀', [], [1], {}, { a: 1 }),
    fc.jsonValue({ maxDepth: 1 }) as fc.Arbitrary<JsonValue>,
  );
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.record({ id: fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }), v: value, w: fc.constantFrom(undefined, 'x') }), {
        selector: (r) => r.id,
        maxLength: 30,
      }),
      fc.option(fc.constantFrom('asc' as const, 'desc' as const), { nil: undefined }),
      fc.integer({ min: 1, max: 7 }),
      fc.boolean(),
      (specs, direction, limit, filter) => {
        const rows: RecordRow[] = specs.map((s) => {
          const fields: JsonObject = JSON.parse(JSON.stringify({ v: s.v, w: s.w })) as JsonObject;
          return { collection: 'c', id: s.id, fields, deleted: false, state: {}, conflicted: false, updated: '0' };
        });
        const base: RecordQuery = {
          collection: 'c',
          ...(direction === undefined ? {} : { order: { field: 'v', direction } }),
          ...(filter ? { where: [{ field: 'w', value: 'x' }] } : {}),
        };
        const got: string[] = [];
        let after: string | undefined;
        for (let pages = 0; ; pages++) {
          assert.ok(pages <= rows.length, 'pagination does not end');
          const page = pageOf(rows, { ...base, limit, ...(after === undefined ? {} : { after }) });
          assert.ok(page.rows.length <= limit);
          got.push(...page.rows.map((r) => r.id));
          if (page.next === null) break;
          after = page.next;
        }
        assert.deepEqual(
          got,
          referenceQuery(rows, base).map((r) => r.id),
        );
      },
    ),
    { seed: SEED, numRuns: 300 },
  );
});

test('a cursor of another order, or not a cursor at all, is KITH_BAD_INPUT', () => {
  const byTitle: RecordQuery = { collection: 'c', order: { field: 'title', direction: 'asc' } };
  const cursor = encodeCursor(byTitle, { rank: 4, value: 'é😀', id: 'x' });
  assert.deepEqual(decodeCursor(cursor, byTitle), { rank: 4, value: 'é😀', id: 'x' });
  const bad = (c: string, q: RecordQuery): void =>
    assert.throws(
      () => decodeCursor(c, q),
      (e) => KithError.is(e, ErrorCode.BadInput),
    );
  bad(cursor, { ...byTitle, order: { field: 'title', direction: 'desc' } });
  bad(cursor, { collection: 'c' });
  for (const junk of [
    '',
    'not a cursor!',
    'e30',
    Buffer.from('["i1",null,"asc",9,0,"x"]').toString('base64url'),
    Buffer.from('["i1",null,"asc",4,0,"x"]').toString('base64url'),
  ]) {
    bad(junk, { collection: 'c' });
  }
});
