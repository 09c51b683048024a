import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { SnapshotManifest } from '../format/index.js';
import type { RecordRow } from '../model/merge.js';
import { parseInOrder, type RowsAhead } from './prefetch.js';
import { readSnapshotRows } from './read.js';
import { RowReader } from './row-reader.js';
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
    assert.deepEqual(counts, { rows: 2000, live: 2000, collections: ['notes'] });
  } finally {
    ticking = false;
  }
  // The first window is asked for at once; from then on one chunk a turn.
  const later = seen.slice(-(chunks.length - 12));
  assert.ok(new Set(later).size === later.length, `chunks asked for at turns ${seen.join(' ')}`);
});

/** A manifest naming `chunks` (ids c0, c1, …) in rows format `version`, counting `n` live rows. */
function manifestOf(chunks: Uint8Array[], n: number, version: 1 | 2): SnapshotManifest {
  return { version, rows: n, live: n, chunks: chunks.map((c, i) => ({ id: `c${i}`, size: c.length })) } as unknown as SnapshotManifest;
}

/** Reads `m` whole, as rows in plain objects (a one-write row's state is a getter), or the refusal as `code: message`. */
async function readAll(chunks: Uint8Array[], m: SnapshotManifest, parsed?: RowsAhead, asked: string[] = [], textRows = false): Promise<unknown> {
  const out: RecordRow[] = [];
  try {
    await readSnapshotRows(
      { getChunk: (id) => (asked.push(id), Promise.resolve(chunks[Number(id.slice(1))]!)) },
      'k',
      m,
      async (rows) => void out.push(...rows),
      { parsed, output: textRows ? 'text' : 'objects' },
    );
  } catch (e) {
    return `${(e as { code: string }).code}: ${(e as Error).message}`;
  }
  return out.map(({ collection, id, deleted, updated, fields, state, conflicted }) => ({ collection, id, deleted, updated, fields, state, conflicted }));
}

test('rows a restore parsed ahead stand for their chunks, which are not read again; from the first chunk it could not read, the bootstrap reads and parses the rest with the same reader', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 50, max: 600 }), fc.constantFrom<1 | 2>(1, 2), fc.nat(), fc.nat(), async (n, version, plannedSeed, missingSeed) => {
      const chunks = cutRows(rows(n), KEY, 4096, undefined, version);
      const m = manifestOf(chunks, n, version);
      const planned = plannedSeed % (chunks.length + 1);
      // One chunk of the planned ones was not read ahead (or none, when the index falls past them).
      const missing = missingSeed % (planned + 1);
      const ids = m.chunks.slice(0, planned).map((c) => c.id);
      const plain = new Map(ids.map((id, i) => [id, Promise.resolve(i === missing ? undefined : chunks[i])]));
      // Parsed ahead as the bulk load reads them: text rows, whose fields and registers are parsed again when read.
      const parsed = parseInOrder(new RowReader('snapshot k', version, { output: 'text' }), ids, plain);
      const asked: string[] = [];
      const whole = await readAll(chunks, m);
      assert.deepEqual(await readAll(chunks, m, parsed, asked), whole);
      assert.deepEqual(await readAll(chunks, m, undefined, [], true), whole);
      // Only the chunks from the first one not read ahead are read by the bootstrap (each once, in any order).
      const byIndex = (a: string, b: string): number => Number(a.slice(1)) - Number(b.slice(1));
      assert.deepEqual(
        asked.sort(byIndex),
        m.chunks.slice(Math.min(missing, planned)).map((c) => c.id),
      );
    }),
    { numRuns: 40 },
  );
});

test('a refusal met while parsing ahead (a malformed row, a wrong size) is the bootstrap’s refusal at that chunk, word for word', async () => {
  const enc = new TextEncoder();
  const good = cutRows(rows(300), KEY, 4096, undefined, 2);
  assert.ok(good.length >= 4, `${good.length} chunks`);
  const line = (id: string, fields: string): string => `["notes","${id}",0,"${STAMP}"]\t${fields}\n`;
  const cases: { what: string; chunks: Uint8Array[]; m: (c: Uint8Array[]) => SnapshotManifest }[] = [
    {
      what: 'fields that are not an object',
      chunks: [...good.slice(0, 2), enc.encode(line('n999998', '[1]')), ...good.slice(2)],
      m: (c) => manifestOf(c, 301, 2),
    },
    { what: 'rows out of order', chunks: [...good.slice(0, 2), enc.encode(line('n000000', '{}')), ...good.slice(2)], m: (c) => manifestOf(c, 301, 2) },
    {
      what: 'a chunk of the wrong size',
      chunks: good,
      m: (c) => {
        const m = manifestOf(c, 300, 2);
        return { ...m, chunks: m.chunks.map((x, i) => (i === 1 ? { ...x, size: x.size + 1 } : x)) };
      },
    },
  ];
  for (const { what, chunks, m: manifest } of cases) {
    const m = manifest(chunks);
    const ids = m.chunks.slice(0, 3).map((c) => c.id);
    const parsed = parseInOrder(new RowReader('snapshot k', 2), ids, new Map(ids.map((id, i) => [id, Promise.resolve(chunks[i])])));
    const plainly = await readAll(chunks, m);
    assert.match(String(plainly), /^KITH_INTEGRITY_CORRUPT: /, what);
    assert.equal(await readAll(chunks, m, parsed), plainly, what);
  }
});

test('each batch comes with its deleted rows, in order, and the counts name the collections in order', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ collection: fc.constantFrom('a', 'notes', 'tasks', 'z_2'), deleted: fc.boolean() }), { minLength: 1, maxLength: 5000 }),
      fc.constantFrom<1 | 2>(1, 2),
      async (drawn, version) => {
        // Sorted by collection, then id: the order a snapshot holds its rows in.
        const all = drawn
          .map(({ collection, deleted }, i) => ({ ...rows(1)[0]!, collection, id: `n${String(i).padStart(6, '0')}`, deleted, fields: deleted ? {} : { i } }))
          .sort((a, b) => (a.collection === b.collection ? (a.id < b.id ? -1 : 1) : a.collection < b.collection ? -1 : 1));
        const chunks = cutRows(all, KEY, 4096, undefined, version);
        const live = all.filter((r) => !r.deleted).length;
        const m = { ...manifestOf(chunks, all.length, version), live } as SnapshotManifest;
        const handed: { rows: string[]; deleted: string[] }[] = [];
        const key = (r: RecordRow): string => `${r.collection}/${r.id}`;
        const counts = await readSnapshotRows(
          { getChunk: (id) => Promise.resolve(chunks[Number(id.slice(1))]!) },
          'k',
          m,
          async (batch, deleted) => void handed.push({ rows: batch.map(key), deleted: deleted.map(key) }),
        );
        assert.deepEqual(counts, { rows: all.length, live, collections: [...new Set(all.map((r) => r.collection))] });
        assert.deepEqual(
          handed.flatMap((h) => h.rows),
          all.map(key),
        );
        const deletedOf = new Set(all.filter((r) => r.deleted).map(key));
        for (const h of handed)
          assert.deepEqual(
            h.deleted,
            h.rows.filter((k) => deletedOf.has(k)),
          );
      },
    ),
    { numRuns: 30 },
  );
});
