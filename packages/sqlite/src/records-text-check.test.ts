import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { ErrorCode, KithError } from '@kith/core';
import type { RecordRow } from '@kith/core/adapter';
import { textRow } from '@kith/core/testing';
import { openSqliteStore } from './index.js';
import { inTempDir } from './sqlite-store.test.support.js';

const STAMP = '0000000001000000000dev';

/** What JavaScript makes of a text: the object it holds, or undefined when it is not an object's JSON. */
function objectOf(text: string): object | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** A valid object's text changed by one character: often no longer JSON, sometimes JSON5 or another value. */
const mutated = fc
  .tuple(fc.jsonValue({ maxDepth: 2 }), fc.nat(), fc.constantFrom('del', 'ins', 'set'), fc.constantFrom(...',{}[]":\\ 0aeE+-.\tx\'/'.split('')))
  .map(([v, at, how, c]) => {
    const text = JSON.stringify({ v });
    const i = at % (text.length + 1);
    if (how === 'del') return text.slice(0, i) + text.slice(i + 1);
    if (how === 'ins') return text.slice(0, i) + c + text.slice(i);
    return text.slice(0, i) + c + text.slice(i + 1);
  });
// Texts as a snapshot line can hold them (no newline, no lone surrogate: a fatal UTF-8 decode made them).
const candidate = fc.oneof(
  fc.json({ maxDepth: 3 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ v })),
  mutated,
  fc.constantFrom('{a:1}', '{"a":1,}', "{'a':1}", '{"a":0x1}', '{"a":Infinity}', '{"a":NaN}', '{"a":1}//c', '{"a":.5}', '{"a":+1}'),
  fc.constantFrom(' {"a":1}', '{"a":1}\t', '{"a":"\\u0000"}', '{"a":"\\ud800"}', '{"a":1e999}', '{"a":1}\f', '\u00a0{"a":1}', '{"a":"x\u0001"}'),
);

test('property: a row carrying its fields text goes in when the text is an object’s JSON (as JavaScript reads it) and is refused as KITH_INTEGRITY_CORRUPT otherwise, the write keeping nothing', async () => {
  await inTempDir(async (dir) => {
    const store = await openSqliteStore(join(dir, 'kith.db'));
    assert.equal(store.checksRowText, true);
    try {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(candidate, fc.nat(59), fc.boolean(), async (text, at, alone) => {
          const id = `t${run++}`;
          // Alone: a one-row statement. Else among 59 good rows, the first with its text: 50-row statements.
          const rows: RecordRow[] = alone ? [] : Array.from({ length: 59 }, (_, i) => textRow('notes', `${id}-${i}`, STAMP, false, `{"i":${i}}`));
          rows.splice(alone ? 0 : at, 0, textRow('notes', id, STAMP, false, text));
          const expected = objectOf(text);
          const written = store.write((tx) => tx.putRecords(rows));
          if (expected === undefined) {
            await assert.rejects(
              written,
              (e: unknown) => KithError.is(e, ErrorCode.IntegrityCorrupt) && e.message === `record notes/${id} has fields that are not a JSON object`,
            );
            const ids = rows.map((r) => r.id);
            assert.equal((await store.read((tx) => tx.getRecords('notes', ids))).size, 0);
            return;
          }
          await written;
          const got = await store.read((tx) => tx.getRecords('notes', [id]));
          // JSON.stringify on both sides: a text's -0 or 1e999 reads back as the numbers JSON.parse makes of them.
          assert.equal(JSON.stringify(got.get(id)?.fields), JSON.stringify(expected));
        }),
        { numRuns: 400 },
      );
    } finally {
      await store.close();
    }
  });
});

test('a bad text in a bulk load rolls back the rows loaded before it, in earlier calls too', async () => {
  await inTempDir(async (dir) => {
    const store = await openSqliteStore(join(dir, 'kith.db'));
    try {
      const good = Array.from({ length: 120 }, (_, i) => textRow('notes', `g${String(i).padStart(3, '0')}`, STAMP, false, `{"i":${i}}`));
      await assert.rejects(
        store.bulkLoad(async (tx) => {
          await tx.putRecords(good);
          await tx.putRecords([textRow('notes', 'h1', STAMP, false, '{"i":1}'), textRow('notes', 'h2', STAMP, false, '{i:2}')]);
        }),
        { code: 'KITH_INTEGRITY_CORRUPT', message: 'record notes/h2 has fields that are not a JSON object' },
      );
      assert.deepEqual(await store.read((tx) => tx.listCollections()), []);
    } finally {
      await store.close();
    }
  });
});
