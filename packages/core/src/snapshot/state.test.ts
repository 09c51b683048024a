import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { RecordRow } from '../model/merge.js';
import { cutRows, RowReader, snapshotChunkTarget } from './state.js';

const KEY = new Uint8Array(32).fill(7);
const STAMP = '0mjve0w0000000102030405060708';

/** `n` one-write rows of about `bytes` bytes each, in id order. */
function rows(n: number, bytes: number): RecordRow[] {
  return Array.from({ length: n }, (_, i) => ({
    collection: 'notes',
    id: `n${String(i).padStart(7, '0')}`,
    fields: { title: `note ${i}`, body: 'x'.repeat(bytes - 150) },
    deleted: false,
    state: { title: { w: STAMP }, body: { w: STAMP }, '': { w: STAMP } },
    conflicted: false,
    updated: STAMP,
  }));
}

const total = (chunks: Uint8Array[]): number => chunks.reduce((n, c) => n + c.length, 0);

test('snapshot chunks: 32 KiB on average for a small state, doubling from 2 MiB and again from 4 MiB, no further', () => {
  const KiB = 1024;
  const MiB = 1024 * KiB;
  assert.deepEqual([0, 100 * KiB, 2 * MiB - 1, 2 * MiB, 4 * MiB - 1, 4 * MiB, 1024 * MiB].map(snapshotChunkTarget), [
    32 * KiB,
    32 * KiB,
    32 * KiB,
    64 * KiB,
    64 * KiB,
    128 * KiB,
    128 * KiB,
  ]);
  // A state of about 6 MiB is read in chunks of about 128 KiB; one of about 200 KiB in chunks of about 32 KiB.
  const large = cutRows(rows(12_000, 520), KEY);
  const mean = total(large) / large.length;
  assert.ok(mean > 90 * KiB && mean < 180 * KiB, `large state: ${large.length} chunks of ${Math.round(mean)} bytes on average`);
  const small = cutRows(rows(300, 700), KEY);
  assert.ok(small.length >= 3, `small state: ${small.length} chunks`);
  // Whatever the cut, the chunks are the state.
  const back = new RowReader('t');
  const read = large.flatMap((c) => back.push(c));
  back.end();
  assert.equal(read.length, 12_000);
  assert.equal(read[11_999]!.id, 'n0011999');
});

test('property: a change to one row of a large state changes at most two chunks, the others are stored as they were', () => {
  const base = rows(12_000, 520);
  const before = new Set(cutRows(base, KEY).map((c) => Buffer.from(c).toString('base64')));
  fc.assert(
    fc.property(fc.integer({ min: 0, max: base.length - 1 }), fc.string({ maxLength: 40 }), (i, title) => {
      const changed = base.map((r, j) => (j === i ? { ...r, fields: { ...r.fields, title } } : r));
      const after = cutRows(changed, KEY);
      // The state stays within the same doubling, so only the chunk that holds row i (and at most its neighbour) differs.
      assert.ok(after.filter((c) => !before.has(Buffer.from(c).toString('base64'))).length <= 2);
    }),
    { numRuns: 8 },
  );
});
