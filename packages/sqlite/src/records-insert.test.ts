import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { oneWriteRow, oneWriteState, type JsonObject, type JsonValue, type RecordRow } from '@kith/core/adapter';
import { openSqliteStore } from './index.js';
import { inTempDir } from './sqlite-store.test.support.js';

/** Every column of every row as stored, fields as their JSONB bytes, in the order the rows went in. */
function stored(file: string): unknown[] {
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare('SELECT collection, id, typeof(fields) AS kind, hex(fields) AS fields, deleted, state, conflicted, updated FROM records ORDER BY rowid')
      .all();
  } finally {
    db.close();
  }
}

/** The records table after writing `rows`: all in one putRecords, or one putRecords per row (bound values only). */
async function written(dir: string, name: string, rows: readonly RecordRow[], oneByOne: boolean): Promise<unknown[]> {
  const file = join(dir, `${name}.db`);
  const store = await openSqliteStore(file);
  try {
    await store.write(async (tx) => {
      if (oneByOne) for (const r of rows) await tx.putRecords([r]);
      else await tx.putRecords(rows);
    });
  } finally {
    await store.close();
  }
  return stored(file);
}

const nameArb = fc.oneof(
  fc.constantFrom('title', 'body', 'constructor', '__proto__', 'a"b', 'a\\b', 'é', '😀', 'x\ud800'),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
);
const fieldsArb: fc.Arbitrary<JsonObject> = fc
  .uniqueArray(fc.tuple(nameArb, fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>), { selector: ([k]) => k, maxLength: 5 })
  .map((entries) => {
    const out: JsonObject = {};
    // defineProperty: a field named __proto__ stays an own field, as the engine's copies keep it.
    for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    return out;
  });
// Lone surrogates too: a remote device's rows may hold them (new writes refuse them), and both ways must store the same.
const idArb = fc.oneof(fc.constantFrom('r1', 'r2', 'r3', 'a\ud800', '\udc00b'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }));
const updatedArb = fc.constantFrom('0000000001000000000dev', '0000000002000000000dev', '00000000030000000a0other');
const rowArb: fc.Arbitrary<RecordRow> = fc
  .record({
    collection: fc.constantFrom('notes', 'todos', 'x"y'),
    id: idArb,
    fields: fieldsArb,
    deleted: fc.boolean(),
    conflicted: fc.boolean(),
    updated: updatedArb,
    shape: fc.constantFrom('plain', 'one-write state', 'one-write row', 'one-write row with its text'),
  })
  .map(({ shape, ...r }): RecordRow => {
    if (shape === 'one-write row') return oneWriteRow(r.collection, r.id, r.updated, r.fields, undefined, r.deleted);
    // A call whose first row comes with its text goes in bound, one without as JSON rounds: both ways meet every shape.
    if (shape === 'one-write row with its text') return oneWriteRow(r.collection, r.id, r.updated, r.fields, JSON.stringify(r.fields), r.deleted);
    const state: JsonObject = shape === 'plain' ? { n: { t: r.updated, v: 1 } } : oneWriteState(r.fields, r.updated);
    return { ...r, state };
  });

test('rows written 50 or more at a time (as JSON rounds, or bound when the first comes with its text) are stored byte for byte as rows written one at a time', async () => {
  await inTempDir(async (dir) => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(rowArb, { minLength: 50, maxLength: 160 }), async (rows) => {
        run++;
        const together = await written(dir, `together${run}`, rows, false);
        const oneByOne = await written(dir, `one${run}`, rows, true);
        assert.deepEqual(together, oneByOne);
      }),
      { numRuns: 40 },
    );
  });
});

test('a call mixing rows without their text and with it stores what rows put one at a time store, the later row with a key winning', async () => {
  await inTempDir(async (dir) => {
    const rows: RecordRow[] = [];
    for (let k = 0; k < 120; k++) rows.push(oneWriteRow('notes', `r${k % 70}`, `00000000010000000${String(k).padStart(3, '0')}dev`, { k }));
    const text = JSON.stringify({ from: 'text' });
    for (let k = 0; k < 60; k++) rows.push(oneWriteRow('notes', `r${k}`, '0000000002000000000dev', { from: 'text' }, text));
    const together = await written(dir, 'together', rows, false);
    assert.deepEqual(together, await written(dir, 'one', rows, true));
    assert.equal(together.length, 70);
  });
});

test('runs of a snapshot’s plain rows (live, one-write, with their text, one collection: 3 values bound a row) are stored byte for byte as rows put one at a time, other rows among them too', async () => {
  await inTempDir(async (dir) => {
    let run = 0;
    const plain = fc
      .record({ id: idArb, fields: fieldsArb, updated: updatedArb })
      .map((r) => oneWriteRow('notes', r.id, r.updated, r.fields, JSON.stringify(r.fields)));
    const other = fc.oneof(
      rowArb,
      fc.record({ id: idArb, fields: fieldsArb }).map((r) => oneWriteRow('todos', r.id, '0000000002000000000dev', r.fields, JSON.stringify(r.fields))),
    );
    const row = fc.oneof({ arbitrary: plain, weight: 30 }, { arbitrary: other, weight: 1 });
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 50, maxLength: 220 }), async (rows) => {
        run++;
        const together = await written(dir, `together${run}`, rows, false);
        assert.deepEqual(together, await written(dir, `one${run}`, rows, true));
      }),
      { numRuns: 40 },
    );
  });
});
