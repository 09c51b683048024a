import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SnapshotManifest } from '../format/index.js';
import type { RecordRow } from '../model/merge.js';
import { readSnapshotRows } from './read.js';
import { cutRows } from './state.js';

const KEY = new Uint8Array(32).fill(3);
const STAMP = '0mjve0w0000000102030405060708';

function rows(n: number): RecordRow[] {
  return Array.from({ length: n }, (_, i) => ({
    collection: 'notes',
    id: `n${String(i).padStart(6, '0')}`,
    fields: { title: `note ${i}`, body: 'y'.repeat(300) },
    deleted: false,
    state: { title: { w: STAMP }, body: { w: STAMP }, '': { w: STAMP } },
    conflicted: false,
    updated: STAMP,
  }));
}

test('reading a snapshot gives the event loop a turn after each chunk, so the fetches ahead advance while rows are parsed and stored', async () => {
  const chunks = cutRows(rows(2000), KEY);
  assert.ok(chunks.length >= 8, `${chunks.length} chunks`);
  const m = {
    rows: 2000,
    live: 2000,
    chunks: chunks.map((c, i) => ({ id: `c${i}`, size: c.length })),
  } as unknown as SnapshotManifest;
  // A counter that only a task of the event loop advances (microtasks never do).
  let turns = 0;
  let ticking = true;
  const tick = (): void => {
    turns++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  // Every chunk is at hand at once: without a turn after each, the whole state would be read in one task.
  const seen: number[] = [];
  try {
    const counts = await readSnapshotRows({ getChunk: (id) => (seen.push(turns), Promise.resolve(chunks[Number(id.slice(1))]!)) }, 'k', m, async () => {});
    assert.deepEqual(counts, { rows: 2000, live: 2000 });
  } finally {
    ticking = false;
  }
  // The first window is asked for at once; from then on one chunk a turn.
  const later = seen.slice(-(chunks.length - 12));
  assert.ok(new Set(later).size === later.length, `chunks asked for at turns ${seen.join(' ')}`);
});
