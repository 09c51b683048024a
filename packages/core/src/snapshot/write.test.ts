import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, KithError } from '../base/errors.js';
import { seededRandom } from '../base/deps.js';
import { concatBytes, sha256Sync, utf8 } from '../crypto/index.js';
import type { RecordRow } from '../model/merge.js';
import type { Store, StoreTx } from '../ports/store.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { Vault } from '../vault/vault.js';
import { RowCutter, rowLine, snapshotChunkTarget, streamAllRows, SNAPSHOT_CHUNK_MAX } from './state.js';

const T0 = 1_767_225_600_000;
let tick = 0;
const deps = (seed: number) => ({ random: seededRandom(seed), now: () => T0 + ++tick });

/**
 * A store over `inner` in one of two modes: `history`, a store without
 * `scanRows` and `bulkRead` (the writer then finds deleted rows through
 * the history), or `rows`, where reading the history throws and every
 * history read is counted.
 */
function switchable(inner: Store): { store: Store; mode: { value: 'history' | 'rows' }; historyReads: { n: number } } {
  const mode = { value: 'history' as 'history' | 'rows' };
  const historyReads = { n: 0 };
  const wrap = (tx: StoreTx): StoreTx => {
    const out: StoreTx = Object.create(tx) as StoreTx;
    if (mode.value === 'history') Object.defineProperty(out, 'scanRows', { value: undefined });
    else
      out.readLog = () => {
        historyReads.n++;
        return Promise.reject(new KithError(ErrorCode.Internal, 'the snapshot writer read the history'));
      };
    return out;
  };
  const store: Store = {
    read: (fn) => inner.read((tx) => fn(wrap(tx))),
    write: (fn) => inner.write((tx) => fn(wrap(tx))),
    close: () => inner.close(),
  };
  Object.defineProperty(store, 'bulkRead', {
    get: () => (mode.value === 'rows' ? <T>(fn: (tx: StoreTx) => Promise<T>) => inner.bulkRead!((tx) => fn(wrap(tx))) : undefined),
  });
  return { store, mode, historyReads };
}

/** Ids whose code point and code-unit orders differ, around plain ones, enough for several store pages. */
const ids = (n: number): string[] =>
  Array.from(
    { length: n },
    (_, i) => ['n', 'n\ue000', 'n\u{1f600}', '\uff71', '\u{1f600}', 'z'][i % 6]! + String(i).padStart(4, '0') + (i % 4 === 0 ? '\u{1f601}' : ''),
  );

test('a snapshot reads the rows, never the history, and stores the very chunks the history path cuts from the same state', async () => {
  const objects = new Map<string, Uint8Array>();
  const s = switchable(openMemoryStore());
  const { vault } = await Vault.create({ store: s.store, remote: openMemoryRemote(objects), remoteUrl: 'memory:', deps: deps(1), snapshotEvery: false });
  try {
    const all = ids(1300);
    await vault.batch((b) => all.forEach((id, i) => b.put('notes', id, { title: `note ${i}`, n: i })));
    await vault.batch((b) => all.forEach((id, i) => i % 3 === 0 && b.delete('notes', id)));
    await vault.batch((b) => all.slice(0, 200).forEach((id, i) => i % 3 !== 0 && b.patch('notes', id, { title: `again ${i}` })));
    await vault.put('tags', 'solo', { t: 1 });
    await vault.delete('tags', 'solo');
    await vault.sync();

    const legacy = await vault.snapshot();
    const chunkKeys = (): string[] => [...objects.keys()].filter((k) => !k.startsWith('snapshots/')).sort();
    const before = chunkKeys();
    s.mode.value = 'rows';
    const streamed = await vault.snapshot();
    assert.equal(s.historyReads.n, 0);
    // Chunks are content-addressed: the same keys and no new object means the same bytes.
    assert.deepEqual(chunkKeys(), before);
    assert.equal(streamed.bytes, legacy.bytes);
    assert.equal(streamed.records, legacy.records);
    assert.equal(streamed.records, all.length - Math.ceil(all.length / 3));
    assert.ok(streamed.uploaded < legacy.uploaded);
  } finally {
    await vault.close();
  }
});

test('property: rows stream in (collection, id) code-unit order, deleted ones included, whatever the ids', async () => {
  const id = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 }).filter((x) => x !== '.' && x !== '..' && !/[\u0000-\u001f\u007f/\\]/.test(x));
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.tuple(fc.constantFrom('a', 'b'), id, fc.boolean()), { maxLength: 1200, selector: ([c, i]) => `${c}\u0000${i}` }),
      async (rows) => {
        const store = openMemoryStore();
        const put: RecordRow[] = rows.map(([collection, i, deleted]) => ({
          collection,
          id: i,
          deleted,
          fields: {},
          state: {},
          conflicted: false,
          updated: '1',
        }));
        await store.write((tx) => tx.putRecords(put));
        const got: string[] = [];
        await store.read(async (tx) => {
          for await (const r of streamAllRows(tx)) got.push(`${r.collection}\u0000${r.id}`);
        });
        const want = put.map((r) => `${r.collection}\u0000${r.id}`).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
        assert.deepEqual(got, want);
      },
    ),
    { numRuns: 40, seed: 0x6b697468 },
  );
});

/** What the writer did before it streamed: every line first, the target from the whole state, then the cuts. */
function cutWhole(rows: RecordRow[], key: Uint8Array): Uint8Array[] {
  const lines = rows.map((r) => ({ line: utf8(rowLine(r) + '\n'), r }));
  const average = snapshotChunkTarget(lines.reduce((n, l) => n + l.line.length, 0));
  const chunks: Uint8Array[] = [];
  let parts: Uint8Array[] = [];
  let size = 0;
  const flush = (): void => {
    let all = concatBytes(...parts);
    while (all.length > SNAPSHOT_CHUNK_MAX) {
      chunks.push(all.slice(0, SNAPSHOT_CHUNK_MAX));
      all = all.subarray(SNAPSHOT_CHUNK_MAX);
    }
    if (all.length > 0) chunks.push(all.slice());
    parts = [];
    size = 0;
  };
  for (const { line, r } of lines) {
    parts.push(line);
    size += line.length;
    const h = sha256Sync(concatBytes(key, utf8(r.collection), Uint8Array.of(0), utf8(r.id)));
    const draw = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
    if (draw < (2 ** 32 * line.length) / average || size >= SNAPSHOT_CHUNK_MAX) flush();
  }
  flush();
  return chunks;
}

test('the streaming cutter gives the chunks of cutting the whole state at once, on each side of the 2 and 4 MiB steps, with rows past 1 MiB', () => {
  const key = new Uint8Array(32).fill(7);
  const rand = seededRandom(5);
  for (const [count, size] of [
    [0, 0],
    [3, 100],
    [4000, 500],
    [4200, 500],
    [8000, 500],
    [8600, 500],
    [12, 400_000],
    [3, 1_500_000],
  ] as const) {
    const rows: RecordRow[] = Array.from({ length: count }, (_, i) => ({
      collection: 'c',
      id: `r${String(i).padStart(6, '0')}`,
      deleted: false,
      fields: { body: Buffer.from(rand(size / 2)).toString('hex') },
      state: {},
      conflicted: false,
      updated: '1',
    }));
    const cutter = new RowCutter(key);
    const streamed: Uint8Array[] = [];
    for (const r of rows) streamed.push(...cutter.push(r));
    streamed.push(...cutter.end());
    const whole = cutWhole(rows, key);
    assert.equal(streamed.length, whole.length, `${count} rows of ${size}`);
    assert.ok(
      streamed.every((c, i) => Buffer.compare(c, whole[i]!) === 0),
      `${count} rows of ${size}`,
    );
  }
});
