/**
 * @module store-conformance
 * The behaviour every {@link Store} must show, as node:test tests. Each
 * adapter's own test file calls {@link runStoreConformance} once; adapter
 * specific tests (file modes, migrations, quotas) live beside the adapter.
 *
 * Ordering and pagination are checked against an in-memory reference
 * ({@link compareFieldValues}) with fast-check under a fixed seed, so a
 * failure replays identically.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { own } from '../base/data-keys.js';
import type { JsonObject, JsonPrimitive, JsonValue } from '../model/json.js';
import type { LogEntry, RecordQuery, RecordRow, Store, StoreTx } from '../ports/store.js';
import { historyOfOwnOp } from '../sync/apply.js';
import { rowTextConformance } from './row-text-conformance.js';

/** What a store adapter's test gives the suite: a fresh, empty store. */
export interface StoreHarness {
  /** A new empty store, used by one test only. */
  readonly store: Store;
  /**
   * Opens the same data again (the caller has closed the previous store):
   * what a restarted process would see.
   */
  reopen(): Promise<Store>;
  /** Closes every store this harness opened (if still open) and removes the data. */
  cleanup(): Promise<void>;
}

/** Field names that find a member of `Object.prototype` when a plain object is used as a map. */
export const PROTOTYPE_NAMES = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'isPrototypeOf'] as const;

/** Fixed seed: property failures replay identically on every run. */
const SEED = 0x6b697468;

/** Compares strings by Unicode code point (not UTF-16 code unit, which is what `<` does). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Only surrogates (D800–DFFF) disagree with code point order: they encode
    // code points above every BMP character.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** The type rank of {@link RecordQuery} ordering: missing/null, false, true, numbers, strings, arrays/objects. */
export function fieldRank(v: JsonValue | undefined): number {
  if (v === undefined || v === null) return 0;
  if (v === false) return 1;
  if (v === true) return 2;
  if (typeof v === 'number') return 3;
  if (typeof v === 'string') return 4;
  return 5;
}

/** The reference order of field values documented on {@link RecordQuery}. */
export function compareFieldValues(a: JsonValue | undefined, b: JsonValue | undefined): number {
  const ra = fieldRank(a);
  const rb = fieldRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  if (ra === 3) return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
  if (ra === 4) return compareCodePoints(a as string, b as string);
  if (ra === 5) return compareCodePoints(JSON.stringify(a), JSON.stringify(b));
  return 0;
}

/** The reference answer to `query` (all pages together) over `rows`. */
export function referenceQuery(rows: readonly RecordRow[], q: Omit<RecordQuery, 'limit' | 'after'>): RecordRow[] {
  const live = rows.filter(
    (r) =>
      r.collection === q.collection &&
      !r.deleted &&
      (q.where ?? []).every((f) => {
        const v = own(r.fields, f.field);
        return f.value === null ? v === undefined || v === null : v === f.value;
      }),
  );
  const order = q.order;
  const sign = order?.direction === 'desc' ? -1 : 1;
  return live.sort(
    (x, y) => sign * ((order ? compareFieldValues(own(x.fields, order.field), own(y.fields, order.field)) : 0) || compareCodePoints(x.id, y.id)),
  );
}

/** A row with defaults for what a test does not care about. */
function row(collection: string, id: string, fields: JsonObject, extra: Partial<RecordRow> = {}): RecordRow {
  return { collection, id, fields, deleted: false, state: {}, conflicted: false, updated: '000000001000000000000000000a1', ...extra };
}

/** JSON has no -0 and no undefined: what any JSON-backed store gives back. */
function viaJson<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function logEntry(collection: string, id: string, n: number, extra: Partial<LogEntry> = {}): LogEntry {
  return {
    collection,
    id,
    stamp: n.toString(36).padStart(13, '0') + '00000000000000a1',
    device: '00000000000000a1',
    kind: 'put',
    fields: ['title'],
    ...extra,
  };
}

/** Every page of `q`, following `next` to the end; checks page sizes on the way. */
async function allPages(store: Store, q: RecordQuery): Promise<RecordRow[]> {
  const out: RecordRow[] = [];
  let after: string | undefined;
  for (let pages = 0; ; pages++) {
    assert.ok(pages < 10_000, 'pagination does not end');
    const page = await store.read((tx) => tx.query(after === undefined ? q : { ...q, after }));
    if (q.limit !== undefined) assert.ok(page.rows.length <= q.limit, 'page longer than limit');
    out.push(...page.rows);
    if (page.next === null) return out;
    assert.equal(typeof page.next, 'string');
    assert.ok(page.rows.length > 0, 'a page with a next cursor must not be empty');
    after = page.next;
  }
}

/** fast-check's JSON type marks object members optional; ours does not. */
const jsonArb = (c: fc.JsonSharedConstraints): fc.Arbitrary<JsonValue> => fc.jsonValue(c) as fc.Arbitrary<JsonValue>;

const ids = (rows: readonly RecordRow[]): string[] => rows.map((r) => r.id);

/** Record ids as the core allows them (see names.ts), over all of Unicode. */
const idArb = fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }).filter((s) => s !== '.' && s !== '..' && !/[\u0000-\u001f\u007f/\\]/.test(s));

/** Field values with many ties and every type, so order and tie-breaks are exercised. */
const sortValueArb: fc.Arbitrary<JsonValue | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.constantFrom(0, 1, -1, 1.5, 2, 10, -0.25, 1e21, 2 ** 60, -(2 ** 60)),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom('', 'a', 'B', 'b', 'é', '\uff5e', '😀', 'a\u0000', '10', '9'),
  fc.string({ unit: 'binary', maxLength: 4 }),
  fc.constantFrom<JsonValue>([], [1], ['a'], [null], {}, { a: 1 }, { b: [true] }, ['😀'], ['\uff5e']),
  jsonArb({ maxDepth: 2, stringUnit: 'binary' }),
);

/**
 * Registers the Store conformance tests under `describe(name)`. `open` is
 * called once per test and must return an empty store.
 *
 * @example
 * ```ts
 * runStoreConformance('sqlite', async () => {
 *   const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-'));
 *   const file = path.join(dir, 'kith.db');
 *   const opened: Store[] = [];
 *   const openOne = async () => { const s = await openSqliteStore(file); opened.push(s); return s; };
 *   return {
 *     store: await openOne(),
 *     reopen: openOne,
 *     cleanup: async () => { for (const s of opened) await s.close(); fs.rmSync(dir, { recursive: true }); },
 *   };
 * });
 * ```
 */
export function runStoreConformance(name: string, open: () => Promise<StoreHarness>): void {
  /** Runs `fn` on a fresh store and always cleans up. */
  async function withStore(fn: (store: Store, h: StoreHarness) => Promise<void>): Promise<void> {
    const h = await open();
    try {
      await fn(h.store, h);
    } finally {
      await h.cleanup();
    }
  }
  const put = (store: Store, rows: readonly RecordRow[]): Promise<void> => store.write((tx) => tx.putRecords(rows));
  const get = (store: Store, collection: string, list: readonly string[]): Promise<Map<string, RecordRow>> =>
    store.read((tx) => tx.getRecords(collection, list));

  describe(name, () => {
    describe('meta', () => {
      test('set, get, overwrite and delete', async () => {
        await withStore(async (store) => {
          assert.equal(await store.read((tx) => tx.getMeta('missing')), undefined);
          const values: JsonValue[] = ['s', 0, -1.5, true, false, null, [], {}, { nested: [1, 'two', { three: null }] }, '😀 é'];
          await store.write(async (tx) => {
            for (const [i, v] of values.entries()) await tx.setMeta(`k${i}`, v);
          });
          await store.read(async (tx) => {
            for (const [i, v] of values.entries()) assert.deepEqual(await tx.getMeta(`k${i}`), v, `meta k${i}`);
          });
          await store.write((tx) => tx.setMeta('k0', { replaced: true }));
          assert.deepEqual(await store.read((tx) => tx.getMeta('k0')), { replaced: true });
          await store.write((tx) => tx.setMeta('k0', undefined));
          assert.equal(await store.read((tx) => tx.getMeta('k0')), undefined);
          // Deleting a missing key is harmless; a null value is a value, not a delete.
          await store.write((tx) => tx.setMeta('never-set', undefined));
          assert.equal(await store.read((tx) => tx.getMeta('k5')), null);
        });
      });

      test('any JSON value round-trips (property)', async () => {
        await withStore(async (store) => {
          let n = 0;
          await fc.assert(
            fc.asyncProperty(fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }), jsonArb({ stringUnit: 'binary' }), async (key, value) => {
              const k = `${n++}:${key}`;
              await store.write((tx) => tx.setMeta(k, value));
              assert.deepEqual(await store.read((tx) => tx.getMeta(k)), viaJson(value));
            }),
            { seed: SEED, numRuns: 100 },
          );
        });
      });
    });

    describe('records', () => {
      test('put then get returns exactly the rows, keyed by id; missing ids are absent', async () => {
        await withStore(async (store) => {
          const a = row(
            'notes',
            'a',
            { title: 'A', n: 1, tags: ['x', 'y'], nested: { deep: [null, true] } },
            {
              state: { title: { v: 'A', s: 'stamp', preds: [] } },
              updated: '00000000100000000000000000001',
            },
          );
          const b = row('notes', 'b', {}, { deleted: true, conflicted: true, state: { x: [1, 2] } });
          await put(store, [a, b]);
          const got = await get(store, 'notes', ['a', 'b', 'zzz']);
          assert.equal(got.size, 2);
          assert.deepEqual(got.get('a'), a);
          assert.deepEqual(got.get('b'), b);
          assert.equal(got.has('zzz'), false);
          assert.equal((await get(store, 'notes', [])).size, 0);
          await put(store, []);
        });
      });

      test('putRecords replaces whole rows (upsert)', async () => {
        await withStore(async (store) => {
          await put(store, [row('c', 'x', { a: 1, b: 2 }, { state: { a: 1, b: 2 }, conflicted: true })]);
          const replaced = row('c', 'x', { c: 3 }, { state: { c: 3 }, updated: '00000000200000000000000000001' });
          await put(store, [replaced]);
          assert.deepEqual((await get(store, 'c', ['x'])).get('x'), replaced);
          // The same id twice in one batch: the later row wins.
          await put(store, [row('c', 'y', { v: 1 }), row('c', 'y', { v: 2 })]);
          assert.deepEqual((await get(store, 'c', ['y'])).get('y')?.fields, { v: 2 });
          // Also in a large batch (stores may insert many rows per statement).
          const batch = Array.from({ length: 137 }, (_, i) => row('big', `k${i % 41}`, { i }));
          await put(store, batch);
          const got = await get(
            store,
            'big',
            batch.map((r) => r.id),
          );
          assert.equal(got.size, 41);
          for (let k = 0; k < 41; k++) assert.deepEqual(got.get(`k${k}`)?.fields, { i: k + 41 * Math.floor((136 - k) / 41) });
        });
      });

      test('collections are separate name spaces', async () => {
        await withStore(async (store) => {
          await put(store, [row('one', 'same', { from: 'one' }), row('two', 'same', { from: 'two' })]);
          assert.deepEqual((await get(store, 'one', ['same'])).get('same')?.fields, { from: 'one' });
          assert.deepEqual((await get(store, 'two', ['same'])).get('same')?.fields, { from: 'two' });
          assert.equal((await get(store, 'three', ['same'])).size, 0);
        });
      });

      test('deleted rows are returned by getRecords but never by query', async () => {
        await withStore(async (store) => {
          await put(store, [row('c', 'live', { k: 1 }), row('c', 'gone', { k: 1 }, { deleted: true })]);
          assert.equal((await get(store, 'c', ['gone'])).get('gone')?.deleted, true);
          const page = await store.read((tx) => tx.query({ collection: 'c' }));
          assert.deepEqual(ids(page.rows), ['live']);
          const filtered = await store.read((tx) => tx.query({ collection: 'c', where: [{ field: 'k', value: 1 }], order: { field: 'k', direction: 'desc' } }));
          assert.deepEqual(ids(filtered.rows), ['live']);
          // Resurrection: a deleted row put again as live comes back.
          await put(store, [row('c', 'gone', { k: 1 })]);
          assert.deepEqual(ids((await store.read((tx) => tx.query({ collection: 'c' }))).rows), ['gone', 'live']);
        });
      });

      test('getRecords with many ids, duplicates and misses', async () => {
        await withStore(async (store) => {
          const rows = Array.from({ length: 1500 }, (_, i) => row('many', `id-${i}`, { i }));
          await put(store, rows);
          const wanted = [...rows.filter((_, i) => i % 2 === 0).map((r) => r.id), 'nope-1', 'id-0', 'id-2', 'nope-2'];
          const got = await get(store, 'many', wanted);
          assert.equal(got.size, 750);
          for (const [i, r] of rows.entries()) assert.equal(got.has(r.id), i % 2 === 0);
          assert.deepEqual(got.get('id-1498')?.fields, { i: 1498 });
        });
      });

      test('fields, state, ids and stamps round-trip exactly over all of Unicode (property)', async () => {
        await withStore(async (store) => {
          const fieldsArb = fc.dictionary(
            fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }).filter((k) => k !== 'id'),
            jsonArb({ stringUnit: 'binary', maxDepth: 3 }),
            { maxKeys: 6 },
          );
          let n = 0;
          await fc.assert(
            fc.asyncProperty(
              fc.uniqueArray(
                fc.record({
                  id: idArb,
                  fields: fieldsArb,
                  state: fieldsArb,
                  deleted: fc.boolean(),
                  conflicted: fc.boolean(),
                  updated: fc.string({ unit: 'binary', maxLength: 30 }),
                }),
                {
                  selector: (r) => r.id,
                  maxLength: 8,
                },
              ),
              async (specs) => {
                const collection = `rt${n++}`;
                const rows = specs.map((s) => ({ collection, ...s }));
                await put(store, rows);
                const got = await get(
                  store,
                  collection,
                  rows.map((r) => r.id),
                );
                assert.equal(got.size, rows.length);
                for (const r of rows) assert.deepEqual(got.get(r.id), viaJson(r));
              },
            ),
            { seed: SEED, numRuns: 60 },
          );
        });
      });

      test('field names that are Object.prototype members or __proto__ are ordinary names: stored, filtered and ordered', async () => {
        await withStore(async (store) => {
          // As JSON.parse makes them: own properties, "__proto__" included (a literal would set the prototype).
          const fields = (i: number): JsonObject => Object.fromEntries(PROTOTYPE_NAMES.map((n, j) => [n, (i + j) % 3 === 0 ? null : (i + j) % 3]));
          const rows = [
            ...[0, 1, 2, 3].map((i) => row('proto', `r${i}`, fields(i), { state: Object.fromEntries(PROTOTYPE_NAMES.map((n) => [n, { w: `s${i}` }])) })),
            row('proto', 'bare', { other: 1 }),
          ];
          await put(store, rows);
          const got = await get(
            store,
            'proto',
            rows.map((r) => r.id),
          );
          for (const r of rows) {
            assert.deepEqual(got.get(r.id), r);
            assert.deepEqual(Object.keys(got.get(r.id)!.fields), Object.keys(r.fields));
          }
          for (const field of PROTOTYPE_NAMES) {
            for (const value of [1, 2, null]) {
              const want = ids(referenceQuery(rows, { collection: 'proto', where: [{ field, value }] }));
              const page = await store.read((tx) => tx.query({ collection: 'proto', where: [{ field, value }] }));
              assert.deepEqual(ids(page.rows), want, `where ${field} = ${value}`);
            }
            assert.ok(ids(referenceQuery(rows, { collection: 'proto', where: [{ field, value: null }] })).includes('bare'), 'a missing field is null');
            for (const direction of ['asc', 'desc'] as const) {
              const q = { collection: 'proto', order: { field, direction } };
              assert.deepEqual(ids(await allPages(store, { ...q, limit: 2 })), ids(referenceQuery(rows, q)), `order by ${field} ${direction}`);
            }
          }
        });
      });
    });

    describe('query', () => {
      /** Ids matching one `where` over a fixed set of typed values. */
      async function matching(store: Store, where: RecordQuery['where']): Promise<string[]> {
        return ids((await store.read((tx) => tx.query(where === undefined ? { collection: 'q' } : { collection: 'q', where }))).rows);
      }
      const typed: Array<[string, JsonObject]> = [
        ['missing', {}],
        ['null', { v: null }],
        ['false', { v: false }],
        ['true', { v: true }],
        ['zero', { v: 0 }],
        ['one', { v: 1 }],
        ['one-point-five', { v: 1.5 }],
        ['big', { v: 2 ** 60 }],
        ['huge', { v: 1e21 }],
        ['neg', { v: -7.25 }],
        ['str-empty', { v: '' }],
        ['str-one', { v: '1' }],
        ['str-true', { v: 'true' }],
        ['str-null', { v: 'null' }],
        ['str-emoji', { v: 'é😀' }],
        ['arr', { v: [1] }],
        ['obj', { v: { a: 1 } }],
      ];

      test('where: equality per type; booleans never equal numbers; null matches null and missing', async () => {
        await withStore(async (store) => {
          await put(
            store,
            typed.map(([id, fields]) => row('q', id, fields)),
          );
          const cases: Array<[JsonPrimitive, string[]]> = [
            [null, ['missing', 'null']],
            [false, ['false']],
            [true, ['true']],
            [0, ['zero']],
            [1, ['one']],
            [1.0, ['one']],
            [1.5, ['one-point-five']],
            [2 ** 60, ['big']],
            [1e21, ['huge']],
            [-7.25, ['neg']],
            [2, []],
            ['', ['str-empty']],
            ['1', ['str-one']],
            ['true', ['str-true']],
            ['null', ['str-null']],
            ['é😀', ['str-emoji']],
            ['é', []],
          ];
          for (const [value, expected] of cases) {
            assert.deepEqual(
              (await matching(store, [{ field: 'v', value }])).sort(compareCodePoints),
              expected.sort(compareCodePoints),
              `where v == ${JSON.stringify(value)}`,
            );
          }
          // A filter on a field no record has matches only null.
          assert.equal((await matching(store, [{ field: 'nobody', value: null }])).length, typed.length);
          assert.equal((await matching(store, [{ field: 'nobody', value: 0 }])).length, 0);
        });
      });

      test('where: equality matches the reference for values of every type (property)', async () => {
        await withStore(async (store) => {
          let n = 0;
          const primitiveArb = sortValueArb.filter((v): v is JsonPrimitive => v === undefined || v === null || typeof v !== 'object').map((v) => v ?? null);
          await fc.assert(
            fc.asyncProperty(
              fc.uniqueArray(fc.record({ id: idArb, v: sortValueArb }), { selector: (r) => r.id, minLength: 1, maxLength: 25 }),
              fc.nat(),
              primitiveArb,
              fc.boolean(),
              async (specs, pick, random, fromRows) => {
                const collection = `wh${n++}`;
                const rows = specs.map((s) => row(collection, s.id, s.v === undefined ? {} : { v: s.v }));
                await put(store, rows);
                // Half the time look for a value some row holds, so matches are not all empty.
                const stored = viaJson(rows);
                const held = stored[pick % stored.length]!.fields['v'];
                const value: JsonPrimitive = fromRows && (held === undefined || held === null || typeof held !== 'object') ? (held ?? null) : random;
                const q: RecordQuery = { collection, where: [{ field: 'v', value }] };
                const got = ids((await store.read((tx) => tx.query(q))).rows);
                assert.deepEqual(got, ids(referenceQuery(stored, q)), `where v == ${JSON.stringify(value)}`);
              },
            ),
            { seed: SEED, numRuns: 80 },
          );
        });
      });

      test('where: several filters are ANDed; odd field names work', async () => {
        await withStore(async (store) => {
          const odd = ['a.b', 'x"y', 'back\\slash', 'sp ace', '[0]', '$', '😀', 'é', "q'q", '\u0001', 'a\nb', '\u2028', '\ud800', '\\u0041'];
          await put(store, [
            row('q', '1', { kind: 'note', done: true, n: 1 }),
            row('q', '2', { kind: 'note', done: false, n: 1 }),
            row('q', '3', { kind: 'todo', done: true, n: 1 }),
            row('q', '4', { kind: 'note', done: true, n: 2 }),
            row('q', '5', Object.fromEntries(odd.map((f, i) => [f, i]))),
            row('q', '6', Object.fromEntries(odd.map((f) => [f, 'other']))),
          ]);
          assert.deepEqual(
            await matching(store, [
              { field: 'kind', value: 'note' },
              { field: 'done', value: true },
            ]),
            ['1', '4'],
          );
          assert.deepEqual(
            await matching(store, [
              { field: 'kind', value: 'note' },
              { field: 'done', value: true },
              { field: 'n', value: 1 },
            ]),
            ['1'],
          );
          assert.deepEqual(await matching(store, []), ['1', '2', '3', '4', '5', '6']);
          for (const [i, f] of odd.entries()) {
            assert.deepEqual(await matching(store, [{ field: f, value: i }]), ['5'], `field ${JSON.stringify(f)}`);
            const ordered = await store.read((tx) => tx.query({ collection: 'q', order: { field: f, direction: 'desc' } }));
            assert.deepEqual(ids(ordered.rows), ['6', '5', '4', '3', '2', '1'], `order by ${JSON.stringify(f)}`);
          }
        });
      });

      test('default order is by id in code point order', async () => {
        await withStore(async (store) => {
          // UTF-16 order would put the astral '😀' (a surrogate pair) before U+FF5E.
          const list = ['b', 'B', 'a', 'é', '\uff5e', '😀', 'a b', 'ab', '10', '9', '~'];
          await put(
            store,
            list.map((id) => row('ids', id, {})),
          );
          const page = await store.read((tx) => tx.query({ collection: 'ids' }));
          assert.deepEqual(ids(page.rows), [...list].sort(compareCodePoints));
          assert.equal(page.next, null);
          assert.deepEqual(ids(page.rows).slice(-2), ['\uff5e', '😀']);
        });
      });

      test('order by a field with mixed types, asc and desc, ties by id in the same direction', async () => {
        await withStore(async (store) => {
          const rows = [
            ...typed.map(([id, fields]) => row('q', id, fields)),
            row('q', 'null-2', { v: null }),
            row('q', 'arr-2', { v: ['a'] }),
            row('q', 'one-2', { v: 1 }),
            row('q', 'str-a', { v: 'a' }),
            row('q', 'str-astral', { v: '😀' }),
            row('q', 'str-bmp-high', { v: '\uff5e' }),
          ];
          await put(store, rows);
          const asc = ids((await store.read((tx) => tx.query({ collection: 'q', order: { field: 'v', direction: 'asc' } }))).rows);
          const expected = ids(referenceQuery(rows, { collection: 'q', order: { field: 'v', direction: 'asc' } }));
          assert.deepEqual(asc, expected);
          // Spelled out once, so the reference itself is pinned to the documented order.
          assert.deepEqual(asc, [
            'missing',
            'null',
            'null-2',
            'false',
            'true',
            'neg',
            'zero',
            'one',
            'one-2',
            'one-point-five',
            'big',
            'huge',
            'str-empty',
            'str-one',
            'str-a',
            'str-null',
            'str-true',
            'str-emoji',
            'str-bmp-high',
            'str-astral',
            'arr-2',
            'arr',
            'obj',
          ]);
          const desc = ids((await store.read((tx) => tx.query({ collection: 'q', order: { field: 'v', direction: 'desc' } }))).rows);
          assert.deepEqual(desc, [...expected].reverse());
        });
      });

      test('scanRows (where offered): every row of the collection, deleted ones included, by id in code point or code-unit order, in pages after a cursor', async () => {
        await withStore(async (store) => {
          const probe = await store.read(async (tx) => typeof tx.scanRows === 'function');
          if (!probe) return;
          // Ids where code point and code-unit order differ (U+E000 and up against astral characters), and enough for many pages.
          const odd = ['b', 'b\ue000', 'b\u{1f600}', '\uff71', '\u{1f600}x', '\u{10000}', '\uffff', 'z', 'b\ue000\u{1f600}', 'b\u{1f600}\ue000'];
          const ids = [...odd, ...Array.from({ length: 300 }, (_, i) => `r${i}${i % 7 === 0 ? '\u{1f601}' : i % 5 === 0 ? '\uff10' : ''}`)];
          await put(
            store,
            ids.map((id, i) => row('scan', id, { i }, i % 3 === 0 ? { deleted: true, fields: {} } : {})),
          );
          await put(store, [row('other', 'a', {}), row('scan0', 'a', {})]);
          const pages: RecordRow[][] = [];
          await store.read(async (tx) => {
            let after: string | undefined;
            for (;;) {
              const page = await tx.scanRows!('scan', after, 7);
              pages.push(page);
              if (page.length < 7) break;
              after = page[page.length - 1]!.id;
            }
            assert.deepEqual(await tx.scanRows!('missing', undefined, 10), []);
          });
          const got = pages.flat();
          assert.ok(pages.slice(0, -1).every((p) => p.length === 7));
          const byUnits = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
          const byPoints = [...ids].sort(compareCodePoints);
          const order = got.map((r) => r.id);
          assert.ok(JSON.stringify(order) === JSON.stringify(byPoints) || JSON.stringify(order) === JSON.stringify(byUnits), 'ids in one of the two orders');
          const stored = await get(store, 'scan', ids);
          assert.deepEqual(
            got.map((r) => [r.collection, r.deleted, r.fields]),
            order.map((id) => ['scan', stored.get(id)!.deleted, stored.get(id)!.fields]),
          );
          assert.equal(got.filter((r) => r.deleted).length, ids.filter((_, i) => i % 3 === 0).length);
        });
      });

      test('listCollections names every collection with a row, in code point order', async () => {
        await withStore(async (store) => {
          assert.deepEqual(await store.read((tx) => tx.listCollections()), []);
          await put(store, [row('b', 'x', {}), row('a', 'y', {}, { deleted: true }), row('b', 'z', {}), row('B', 'w', {})]);
          assert.deepEqual(await store.read((tx) => tx.listCollections()), ['B', 'a', 'b']);
        });
      });

      test('limit, next cursor, and next null on the last page', async () => {
        await withStore(async (store) => {
          await put(
            store,
            Array.from({ length: 10 }, (_, i) => row('p', `r${i}`, { n: i % 3 })),
          );
          const first = await store.read((tx) => tx.query({ collection: 'p', limit: 4 }));
          assert.deepEqual(ids(first.rows), ['r0', 'r1', 'r2', 'r3']);
          assert.notEqual(first.next, null);
          const second = await store.read((tx) => tx.query({ collection: 'p', limit: 4, after: first.next ?? '' }));
          assert.deepEqual(ids(second.rows), ['r4', 'r5', 'r6', 'r7']);
          const third = await store.read((tx) => tx.query({ collection: 'p', limit: 4, after: second.next ?? '' }));
          assert.deepEqual(ids(third.rows), ['r8', 'r9']);
          assert.equal(third.next, null);
          // A page that ends exactly at the last row is the last page.
          const exact = await store.read((tx) => tx.query({ collection: 'p', limit: 10 }));
          assert.equal(exact.rows.length, 10);
          assert.equal(exact.next, null);
          const empty = await store.read((tx) => tx.query({ collection: 'nothing-here', limit: 3 }));
          assert.deepEqual(empty, { rows: [], next: null });
          const all = await store.read((tx) => tx.query({ collection: 'p', order: { field: 'n', direction: 'desc' } }));
          assert.equal(all.rows.length, 10);
          assert.equal(all.next, null);
        });
      });

      test('a cursor stays valid when its row is deleted or rows are added before it', async () => {
        await withStore(async (store) => {
          await put(
            store,
            ['a', 'b', 'c', 'd', 'e'].map((id, i) => row('k', id, { n: i })),
          );
          const q: RecordQuery = { collection: 'k', order: { field: 'n', direction: 'asc' }, limit: 2 };
          const first = await store.read((tx) => tx.query(q));
          assert.deepEqual(ids(first.rows), ['a', 'b']);
          await put(store, [row('k', 'b', { n: 1 }, { deleted: true }), row('k', 'before', { n: -1 }), row('k', 'late', { n: 10 })]);
          const rest = await allPages(store, { ...q, after: first.next ?? '' });
          assert.deepEqual(ids(rest), ['c', 'd', 'e', 'late']);
        });
      });

      test('many pages over an order field full of ties: no duplicates, no gaps, exact page count', async () => {
        await withStore(async (store) => {
          const rows = Array.from({ length: 1000 }, (_, i) => row('many', `r${(i * 7919) % 1000}`, i % 10 === 0 ? {} : { n: i % 7, t: `t${i % 3}` }));
          await put(store, rows);
          for (const direction of ['asc', 'desc'] as const) {
            for (const where of [undefined, [{ field: 't', value: 't1' }]]) {
              const base: RecordQuery = { collection: 'many', order: { field: 'n', direction }, ...(where ? { where } : {}) };
              const expected = ids(referenceQuery(rows, base));
              let pages = 0;
              let after: string | undefined;
              const seen: string[] = [];
              do {
                const page: { rows: RecordRow[]; next: string | null } = await store.read((tx) =>
                  tx.query({ ...base, limit: 13, ...(after === undefined ? {} : { after }) }),
                );
                seen.push(...ids(page.rows));
                after = page.next ?? undefined;
                pages++;
              } while (after !== undefined);
              assert.equal(new Set(seen).size, seen.length, `duplicates (${direction})`);
              assert.deepEqual(seen, expected, `pages in order (${direction}, ${where ? 'filtered' : 'all'})`);
              assert.equal(pages, Math.ceil(expected.length / 13));
            }
          }
          // Without an order: by id.
          const byId = await allPages(store, { collection: 'many', limit: 37 });
          assert.deepEqual(ids(byId), ids(referenceQuery(rows, { collection: 'many' })));
        });
      });

      test('pagination and ordering match the reference, no duplicates or gaps (property)', async () => {
        await withStore(async (store) => {
          let n = 0;
          await fc.assert(
            fc.asyncProperty(
              fc.uniqueArray(fc.record({ id: idArb, v: sortValueArb, w: fc.constantFrom(undefined, 'x', 'y'), deleted: fc.boolean() }), {
                selector: (r) => r.id,
                maxLength: 40,
              }),
              fc.option(fc.constantFrom('asc' as const, 'desc' as const), { nil: undefined }),
              fc.option(fc.integer({ min: 1, max: 9 }), { nil: undefined }),
              fc.boolean(),
              async (specs, direction, limit, filter) => {
                const collection = `pg${n++}`;
                const rows = specs.map((s) => {
                  const fields: { [k: string]: JsonValue } = {};
                  if (s.v !== undefined) fields.v = s.v;
                  if (s.w !== undefined) fields.w = s.w;
                  return row(collection, s.id, fields, { deleted: s.deleted });
                });
                // A decoy collection with the same ids must never leak in.
                await put(store, [...rows, ...rows.map((r) => ({ ...r, collection: `${collection}-decoy`, deleted: false }))]);
                const base: RecordQuery = {
                  collection,
                  ...(direction === undefined ? {} : { order: { field: 'v', direction } }),
                  ...(filter ? { where: [{ field: 'w', value: 'x' }] } : {}),
                };
                const expected = ids(referenceQuery(viaJson(rows), base));
                const got = await allPages(store, limit === undefined ? base : { ...base, limit });
                assert.deepEqual(ids(got), expected);
                if (limit !== undefined && expected.length > 0) {
                  // Exactly ceil(n / limit) pages: the cursor does not cost an empty extra page.
                  let pages = 0;
                  let after: string | null | undefined;
                  do {
                    const page: { next: string | null } = await store.read((tx) => tx.query(after ? { ...base, limit, after } : { ...base, limit }));
                    after = page.next;
                    pages++;
                  } while (after !== null);
                  assert.equal(pages, Math.ceil(expected.length / limit));
                }
              },
            ),
            { seed: SEED, numRuns: 80 },
          );
        });
      });
    });

    describe('listConflicted', () => {
      test('conflicted rows, deleted or not, by collection then id; optionally one collection', async () => {
        await withStore(async (store) => {
          await put(store, [
            row('b', 'z', {}, { conflicted: true }),
            row('b', 'a', {}, { conflicted: true, deleted: true }),
            row('a', 'm', {}, { conflicted: true }),
            row('a', 'n', {}),
            row('c', 'q', {}, { deleted: true }),
          ]);
          const all = await store.read((tx) => tx.listConflicted());
          assert.deepEqual(
            all.map((r) => `${r.collection}/${r.id}`),
            ['a/m', 'b/a', 'b/z'],
          );
          assert.equal(all[1]?.deleted, true);
          const onlyB = await store.read((tx) => tx.listConflicted('b'));
          assert.deepEqual(ids(onlyB), ['a', 'z']);
          assert.deepEqual(await store.read((tx) => tx.listConflicted('c')), []);
          // Resolving (putting the row back unconflicted) removes it from the list.
          await put(store, [row('a', 'm', {})]);
          assert.deepEqual(ids(await store.read((tx) => tx.listConflicted('a'))), []);
        });
      });
    });

    describe('log', () => {
      test('entries come in stamp order; filters by collection and id; limit keeps the newest, oldest first', async () => {
        await withStore(async (store) => {
          const entries = [
            logEntry('notes', 'a', 5),
            logEntry('notes', 'b', 1, { kind: 'delete', fields: [] }),
            logEntry('todos', 'a', 3, { kind: 'patch', fields: ['done', 'é😀'] }),
            logEntry('notes', 'a', 2, { kind: 'resolve' }),
          ];
          await store.write((tx) => tx.appendLog(entries.slice(0, 2)));
          await store.write((tx) => tx.appendLog(entries.slice(2)));
          await store.write((tx) => tx.appendLog([]));
          const byStamp = [...entries].sort((x, y) => compareCodePoints(x.stamp, y.stamp));
          assert.deepEqual(await store.read((tx) => tx.readLog({})), byStamp);
          assert.deepEqual(
            await store.read((tx) => tx.readLog({ collection: 'notes' })),
            byStamp.filter((e) => e.collection === 'notes'),
          );
          assert.deepEqual(await store.read((tx) => tx.readLog({ collection: 'notes', id: 'a' })), [entries[3], entries[0]]);
          assert.deepEqual(await store.read((tx) => tx.readLog({ limit: 2 })), byStamp.slice(-2));
          assert.deepEqual(await store.read((tx) => tx.readLog({ collection: 'notes', limit: 1 })), [entries[0]]);
          assert.deepEqual(await store.read((tx) => tx.readLog({ limit: 100 })), byStamp);
          assert.deepEqual(await store.read((tx) => tx.readLog({ collection: 'nothing' })), []);
        });
      });

      test('readLog with limit over a long history (property)', async () => {
        await withStore(async (store) => {
          let n = 0;
          await fc.assert(
            fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 0, max: 1e6 }), { maxLength: 60 }), fc.integer({ min: 1, max: 70 }), async (stamps, limit) => {
              const collection = `log${n++}`;
              const entries = stamps.map((s, i) => logEntry(collection, i % 3 === 0 ? 'x' : 'y', s));
              await store.write((tx) => tx.appendLog(entries));
              const sorted = [...entries].sort((x, y) => compareCodePoints(x.stamp, y.stamp));
              assert.deepEqual(await store.read((tx) => tx.readLog({ collection, limit })), sorted.slice(-limit));
              const xs = sorted.filter((e) => e.id === 'x');
              assert.deepEqual(await store.read((tx) => tx.readLog({ collection, id: 'x', limit })), xs.slice(-limit));
            }),
            { seed: SEED, numRuns: 40 },
          );
        });
      });
      test('appendOwnOps (if the store has it): the history of own ops reads as appendLog would have written it, before and after deleteOutbox (property)', async (t) => {
        await withStore(async (store) => {
          if (!(await store.read((tx) => Promise.resolve(typeof tx.appendOwnOps === 'function')))) return t.skip('the store has no appendOwnOps');
          const device = '00000000000000b2';
          const kinds = ['p', 'm', 'd', 'r'] as const;
          const step = fc.oneof(
            fc.record({ own: fc.array(fc.tuple(fc.constantFrom('x', 'y', 'z'), fc.constantFrom(...kinds), fc.boolean()), { minLength: 1, maxLength: 40 }) }),
            fc.record({ log: fc.array(fc.constantFrom('x', 'y'), { minLength: 1, maxLength: 5 }) }),
            fc.record({ push: fc.double({ min: 0, max: 1, noNaN: true }) }),
          );
          let run = 0;
          await fc.assert(
            fc.asyncProperty(fc.array(step, { maxLength: 8 }), fc.integer({ min: 1, max: 30 }), async (steps, limit) => {
              const collection = `own${run++}`;
              const model: LogEntry[] = [];
              let n = 0;
              // Unique stamps, not in append order: own ops and pulled entries interleave by stamp.
              const stamp = (): string => ((((n++ * 7919) % 997) + 1) * 1000 + n).toString(36).padStart(13, '0');
              for (const s of steps) {
                if ('own' in s) {
                  const ops = s.own.map(([id, k, unset]): JsonObject => {
                    const op: JsonObject = { c: collection, i: id, t: stamp(), k, a: k !== 'd' };
                    if (k !== 'd') op['s'] = { title: `v${n}`, 'é😀': n };
                    if (unset) op['u'] = ['gone'];
                    return op;
                  });
                  await store.write((tx) => tx.appendOwnOps!(ops, device));
                  model.push(...ops.map((op) => historyOfOwnOp(op, device)));
                } else if ('log' in s) {
                  const entries = s.log.map((id) => ({ ...logEntry(collection, id, 0), stamp: stamp() + '00000000000000a1' }));
                  await store.write((tx) => tx.appendLog(entries));
                  model.push(...entries);
                } else {
                  const pending = await store.read((tx) => tx.readOutbox(1e6));
                  const cut = pending[Math.floor(s.push * pending.length)];
                  if (cut) await store.write((tx) => tx.deleteOutbox(cut.seq));
                }
                const sorted = [...model].sort((a, b) => compareCodePoints(a.stamp, b.stamp));
                assert.deepEqual(await store.read((tx) => tx.readLog({ collection })), sorted);
                assert.deepEqual(await store.read((tx) => tx.readLog({ collection, limit })), sorted.slice(-limit));
                const xs = sorted.filter((e) => e.id === 'x');
                assert.deepEqual(await store.read((tx) => tx.readLog({ collection, id: 'x', limit })), xs.slice(-limit));
              }
            }),
            { seed: SEED, numRuns: 40 },
          );
          // The ops themselves are in the outbox as appendOutbox would keep them.
          const ops: JsonObject[] = [{ c: 'plain', i: 'a', t: '0000000000001', k: 'p', s: { n: 1 }, a: true }];
          await store.write((tx) => tx.appendOwnOps!(ops, device));
          const last = await store.read((tx) => tx.readOutbox(1e6));
          assert.deepEqual(last.at(-1)?.op, ops[0]);
          return undefined;
        });
      });
    });

    describe('outbox', () => {
      test('append, read oldest first with limit, count, delete through a seq', async () => {
        await withStore(async (store) => {
          const ops: JsonObject[] = Array.from({ length: 7 }, (_, i) => ({ i, op: 'put', payload: { t: `é${i}` } }));
          await store.write((tx) => tx.appendOutbox(ops.slice(0, 3)));
          await store.write((tx) => tx.appendOutbox(ops.slice(3)));
          await store.write((tx) => tx.appendOutbox([]));
          assert.equal(await store.read((tx) => tx.countOutbox()), 7);
          const all = await store.read((tx) => tx.readOutbox(100));
          assert.deepEqual(
            all.map((e) => e.op),
            ops,
          );
          for (let i = 1; i < all.length; i++) assert.ok(all[i]!.seq > all[i - 1]!.seq, 'seqs increase');
          assert.ok(all.every((e) => Number.isSafeInteger(e.seq)));
          assert.deepEqual(await store.read((tx) => tx.readOutbox(2)), all.slice(0, 2));
          await store.write((tx) => tx.deleteOutbox(all[2]!.seq));
          assert.equal(await store.read((tx) => tx.countOutbox()), 4);
          assert.deepEqual(await store.read((tx) => tx.readOutbox(100)), all.slice(3));
          await store.write((tx) => tx.deleteOutbox(all[1]!.seq)); // already gone: harmless
          assert.equal(await store.read((tx) => tx.countOutbox()), 4);
          // A large append keeps its order and gets increasing seqs too.
          const many: JsonObject[] = Array.from({ length: 123 }, (_, i) => ({ many: i }));
          await store.write((tx) => tx.appendOutbox(many));
          const after = await store.read((tx) => tx.readOutbox(1000));
          assert.deepEqual(
            after.map((e) => e.op),
            [...ops.slice(3), ...many],
          );
          for (let i = 1; i < after.length; i++) assert.ok(after[i]!.seq > after[i - 1]!.seq, 'seqs increase');
        });
      });

      test('seqs are never reused after delete, and survive reopen', async () => {
        await withStore(async (store, h) => {
          await store.write((tx) => tx.appendOutbox([{ n: 1 }, { n: 2 }]));
          const before = await store.read((tx) => tx.readOutbox(10));
          const top = before[1]!.seq;
          await store.write((tx) => tx.deleteOutbox(top));
          assert.equal(await store.read((tx) => tx.countOutbox()), 0);
          await store.write((tx) => tx.appendOutbox([{ n: 3 }]));
          const after = await store.read((tx) => tx.readOutbox(10));
          assert.ok(after[0]!.seq > top, 'a seq was reused after deleteOutbox');
          await store.write((tx) => tx.deleteOutbox(after[0]!.seq));
          await store.close();
          const again = await h.reopen();
          await again.write((tx) => tx.appendOutbox([{ n: 4 }]));
          const reopened = await again.read((tx) => tx.readOutbox(10));
          assert.equal(reopened.length, 1);
          assert.ok(reopened[0]!.seq > after[0]!.seq, 'a seq was reused after reopen');
          assert.deepEqual(reopened[0]!.op, { n: 4 });
        });
      });
    });

    describe('own segments', () => {
      test('put, get exactly the kept ones, list ascending, replace, delete through a seq', async () => {
        await withStore(async (store) => {
          const bytesOf = (seq: number, n = 40 + seq): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seq) & 0xff);
          const input = bytesOf(3);
          await store.write(async (tx) => {
            for (const seq of [5, 1, 3]) await tx.putOwnSegment(seq, seq === 3 ? input : bytesOf(seq));
          });
          input.fill(0); // the store kept its own copy
          assert.deepEqual(await store.read((tx) => tx.listOwnSegments()), [1, 3, 5]);
          const got = await store.read((tx) => tx.getOwnSegments([5, 2, 3, 3]));
          assert.deepEqual([...got.keys()].sort(), [3, 5], 'missing seqs are absent');
          assert.deepEqual(got.get(3), bytesOf(3));
          assert.deepEqual(got.get(5), bytesOf(5));
          assert.ok(got.get(3) instanceof Uint8Array);
          await store.write((tx) => tx.putOwnSegment(3, bytesOf(3, 7)));
          assert.deepEqual((await store.read((tx) => tx.getOwnSegments([3]))).get(3), bytesOf(3, 7));
          await store.write((tx) => tx.deleteOwnSegments(3));
          assert.deepEqual(await store.read((tx) => tx.listOwnSegments()), [5]);
          await store.write((tx) => tx.deleteOwnSegments(3)); // already gone: harmless
          assert.equal((await store.read((tx) => tx.getOwnSegments([1, 3]))).size, 0);
        });
      });

      test('any bytes round-trip, empty and large included, and survive reopen (property)', async () => {
        await withStore(async (store, h) => {
          const kept = new Map<number, Uint8Array>();
          await fc.assert(
            fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 40 }), fc.uint8Array({ maxLength: 300 }), async (seq, bytes) => {
              await store.write((tx) => tx.putOwnSegment(seq, bytes));
              kept.set(seq, bytes.slice());
              assert.deepEqual((await store.read((tx) => tx.getOwnSegments([seq]))).get(seq), bytes);
            }),
            { seed: SEED, numRuns: 60 },
          );
          const big = Uint8Array.from({ length: 3 << 20 }, (_, i) => (i * 2654435761) >>> 24);
          await store.write((tx) => tx.putOwnSegment(2 ** 41, big));
          kept.set(2 ** 41, big);
          await store.close();
          const again = await h.reopen();
          const seqs = [...kept.keys()].sort((a, b) => a - b);
          assert.deepEqual(await again.read((tx) => tx.listOwnSegments()), seqs);
          const got = await again.read((tx) => tx.getOwnSegments(seqs));
          for (const seq of seqs) assert.deepEqual(got.get(seq), kept.get(seq));
        });
      });

      test('a failed write keeps no segment; a read transaction cannot keep one', async () => {
        await withStore(async (store) => {
          await assert.rejects(
            store.write(async (tx) => {
              await tx.putOwnSegment(1, new Uint8Array([1]));
              throw new Error('boom');
            }),
            /boom/,
          );
          assert.deepEqual(await store.read((tx) => tx.listOwnSegments()), []);
          await assert.rejects(store.read((tx) => tx.putOwnSegment(1, new Uint8Array([1]))));
          await assert.rejects(store.read((tx) => tx.deleteOwnSegments(1)));
        });
      });
    });

    describe('transactions', () => {
      rowTextConformance(withStore);

      test('bulkLoad (where offered): awaits other I/O between its writes, keeps them all when fn resolves and none when it rejects', async () => {
        await withStore(async (store) => {
          if (!store.bulkLoad) return;
          const elsewhere = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5)); // a network fetch, say
          const batch = (from: number): RecordRow[] => Array.from({ length: 500 }, (_, i) => row('bulk', `r${from + i}`, { i: from + i }));
          const boom = new Error('boom');
          await assert.rejects(
            store.bulkLoad(async (tx) => {
              for (let b = 0; b < 3; b++) {
                await elsewhere();
                await tx.putRecords(batch(b * 500));
                await tx.appendLog([logEntry('bulk', `r${b}`, b)]);
              }
              await tx.setMeta('cursor', 3);
              await elsewhere();
              throw boom;
            }),
            (e) => e === boom,
          );
          await store.read(async (tx) => {
            assert.deepEqual(await tx.listCollections(), []);
            assert.deepEqual(await tx.readLog({}), []);
            assert.equal(await tx.getMeta('cursor'), undefined);
          });
          assert.equal(
            await store.bulkLoad(async (tx) => {
              for (let b = 0; b < 3; b++) {
                await elsewhere();
                await tx.putRecords(batch(b * 500));
              }
              await tx.setMeta('cursor', 3);
              return 'done';
            }),
            'done',
          );
          await store.read(async (tx) => {
            assert.equal((await tx.query({ collection: 'bulk' })).rows.length, 1500);
            assert.equal(await tx.getMeta('cursor'), 3);
          });
        });
      });

      test('bulkRead (where offered): awaits other I/O between its reads and sees one state throughout; a write waits or stays unseen; it cannot write', async () => {
        await withStore(async (store) => {
          if (!store.bulkRead) return;
          const elsewhere = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5)); // an upload, say
          await put(store, [row('c', 'a', { v: 1 })]);
          let writing: Promise<void> | undefined;
          const seen = await store.bulkRead(async (tx) => {
            const first = (await tx.query({ collection: 'c' })).rows.length;
            writing = put(store, [row('c', 'b', { v: 2 })]);
            const counts = [first];
            for (let i = 0; i < 3; i++) {
              await elsewhere();
              counts.push((await tx.query({ collection: 'c' })).rows.length);
            }
            await assert.rejects(tx.putRecords([row('c', 'x', {})]));
            return counts;
          });
          assert.deepEqual(seen, [1, 1, 1, 1]);
          await writing;
          assert.equal((await store.read((tx) => tx.query({ collection: 'c' }))).rows.length, 2);
        });
      });

      test('write and read pass on the value fn returns', async () => {
        await withStore(async (store) => {
          assert.deepEqual(await store.write(async () => ({ ok: 1 })), { ok: 1 });
          assert.equal(await store.read(async () => 'r'), 'r');
        });
      });

      test('a write whose fn throws keeps nothing and rethrows the same error', async () => {
        await withStore(async (store) => {
          await store.write(async (tx) => {
            await tx.setMeta('m', 'before');
            await tx.putRecords([row('c', 'kept', { v: 1 })]);
            await tx.appendOutbox([{ n: 0 }]);
          });
          const boom = new Error('boom');
          for (const when of ['sync', 'late'] as const) {
            await assert.rejects(
              store.write(async (tx) => {
                await tx.setMeta('m', 'after');
                await tx.setMeta('new', 1);
                await tx.putRecords([row('c', 'kept', { v: 2 }), row('c', 'new', { v: 3 })]);
                await tx.appendLog([logEntry('c', 'new', 1)]);
                await tx.appendOutbox([{ n: 1 }]);
                await tx.deleteOutbox(Number.MAX_SAFE_INTEGER);
                if (when === 'late') for (let i = 0; i < 5; i++) await tx.getMeta('m');
                throw boom;
              }),
              (e) => e === boom,
            );
            await store.read(async (tx) => {
              assert.equal(await tx.getMeta('m'), 'before');
              assert.equal(await tx.getMeta('new'), undefined);
              const recs = await tx.getRecords('c', ['kept', 'new']);
              assert.deepEqual([...recs.keys()], ['kept']);
              assert.deepEqual(recs.get('kept')?.fields, { v: 1 });
              assert.deepEqual(await tx.readLog({}), []);
              assert.deepEqual(
                (await tx.readOutbox(10)).map((e) => e.op),
                [{ n: 0 }],
              );
            });
          }
          // The store is still fully usable.
          await store.write((tx) => tx.setMeta('m', 'later'));
          assert.equal(await store.read((tx) => tx.getMeta('m')), 'later');
        });
      });

      test('concurrent writes are serialized, never interleaved', async () => {
        await withStore(async (store) => {
          await store.write((tx) => tx.setMeta('counter', 0));
          const loop = (): Promise<void> =>
            store.write(async (tx) => {
              for (let i = 0; i < 100; i++) {
                const v = (await tx.getMeta('counter')) as number;
                await tx.setMeta('counter', v + 1);
              }
            });
          const single = (): Promise<void> =>
            store.write(async (tx) => {
              const v = (await tx.getMeta('counter')) as number;
              await tx.getRecords('c', ['x']);
              await tx.setMeta('counter', v + 1);
            });
          await Promise.all([loop(), ...Array.from({ length: 50 }, single), loop()]);
          assert.equal(await store.read((tx) => tx.getMeta('counter')), 250);
        });
      });

      test('reads never see a half-applied write', async () => {
        await withStore(async (store) => {
          const writes: Promise<void>[] = [];
          const reads: Promise<number>[] = [];
          for (let round = 0; round < 10; round++) {
            writes.push(
              store.write(async (tx) => {
                await tx.putRecords([row('h', `a${round}`, {})]);
                await tx.setMeta(`m${round}`, round);
                for (let i = 0; i < 3; i++) await tx.getMeta('x');
                await tx.putRecords([row('h', `b${round}`, {})]);
              }),
            );
            for (let i = 0; i < 3; i++) {
              reads.push(
                store.read(async (tx) => {
                  const found = await tx.getRecords('h', [`a${round}`, `b${round}`]);
                  const meta = await tx.getMeta(`m${round}`);
                  assert.equal(meta === undefined ? 0 : 2, found.size, 'meta and records disagree');
                  return found.size;
                }),
              );
            }
          }
          await Promise.all(writes);
          for (const size of await Promise.all(reads)) assert.ok(size === 0 || size === 2, `read saw ${size} of 2 rows`);
        });
      });

      test('a transaction sees its own uncommitted writes in every read', async () => {
        await withStore(async (store) => {
          await store.write(async (tx) => {
            await tx.setMeta('m', { v: 1 });
            assert.deepEqual(await tx.getMeta('m'), { v: 1 });
            await tx.putRecords([row('own', 'a', { n: 2 }, { conflicted: true }), row('own', 'b', { n: 1 })]);
            assert.deepEqual([...(await tx.getRecords('own', ['a', 'b'])).keys()].sort(), ['a', 'b']);
            assert.deepEqual(ids((await tx.query({ collection: 'own', order: { field: 'n', direction: 'asc' } })).rows), ['b', 'a']);
            assert.deepEqual(ids((await tx.query({ collection: 'own', where: [{ field: 'n', value: 2 }] })).rows), ['a']);
            assert.deepEqual(ids(await tx.listConflicted()), ['a']);
            assert.deepEqual(await tx.listCollections(), ['own']);
            await tx.appendLog([logEntry('own', 'a', 1)]);
            assert.equal((await tx.readLog({ collection: 'own' })).length, 1);
            await tx.appendOutbox([{ n: 1 }, { n: 2 }]);
            assert.equal(await tx.countOutbox(), 2);
            const [first] = await tx.readOutbox(1);
            await tx.deleteOutbox(first!.seq);
            assert.deepEqual(
              (await tx.readOutbox(10)).map((e) => e.op),
              [{ n: 2 }],
            );
          });
        });
      });

      test('a write started inside another transaction runs after it commits, not inside it', async () => {
        await withStore(async (store) => {
          let inner: Promise<unknown> | undefined;
          let innerSaw: JsonValue | undefined = 'not run';
          await store.write(async (tx) => {
            await tx.setMeta('outer', 1);
            // Not awaited here (awaiting it would wait for this very transaction to end).
            inner = store.write(async (tx2) => {
              innerSaw = (await tx2.getMeta('outer')) ?? null;
              await tx2.setMeta('inner', 2);
            });
            for (let i = 0; i < 5; i++) await tx.getMeta('outer');
            assert.equal(await tx.getMeta('inner'), undefined, 'the inner write ran inside the outer one');
            assert.equal(innerSaw, 'not run');
          });
          await inner;
          assert.equal(innerSaw, 1, 'the inner write did not see the outer commit');
          assert.equal(await store.read((tx) => tx.getMeta('inner')), 2);
          // The same from inside a read; and a failing outer write does not take the inner one with it.
          let fromRead: Promise<unknown> | undefined;
          await store.read(async () => {
            fromRead = store.write((tx) => tx.setMeta('from-read', true));
          });
          await fromRead;
          let afterFailure: Promise<unknown> | undefined;
          await assert.rejects(
            store.write(async (tx) => {
              await tx.setMeta('doomed', true);
              afterFailure = store.write((tx2) => tx2.setMeta('survivor', true));
              throw new Error('outer fails');
            }),
            /outer fails/,
          );
          await afterFailure;
          await store.read(async (tx) => {
            assert.equal(await tx.getMeta('from-read'), true);
            assert.equal(await tx.getMeta('doomed'), undefined);
            assert.equal(await tx.getMeta('survivor'), true);
          });
        });
      });

      test('any rejection value passes through unchanged', async () => {
        await withStore(async (store) => {
          // Callers may reject with anything; a store must not wrap or replace it.
          for (const thrown of ['a string', 42, null, { custom: true }]) {
            await assert.rejects(
              store.write(async (tx) => {
                await tx.setMeta('x', 1);
                throw thrown; // eslint-disable-line @typescript-eslint/only-throw-error -- the point of the test
              }),
              (e) => e === thrown,
            );
            await assert.rejects(
              // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- likewise
              store.read(() => Promise.reject(thrown)),
              (e) => e === thrown,
            );
          }
          assert.equal(await store.read((tx) => tx.getMeta('x')), undefined);
        });
      });

      test('a read transaction cannot write', async () => {
        await withStore(async (store) => {
          await assert.rejects(store.read((tx) => tx.setMeta('m', 1)));
          await assert.rejects(store.read((tx) => tx.putRecords([row('c', 'x', {})])));
          await assert.rejects(store.read((tx) => tx.appendOutbox([{ n: 1 }])));
          assert.equal(await store.read((tx) => tx.getMeta('m')), undefined);
          assert.equal((await get(store, 'c', ['x'])).size, 0);
          assert.equal(await store.read((tx) => tx.countOutbox()), 0);
        });
      });

      test('a transaction used after it ended rejects', async () => {
        await withStore(async (store) => {
          let leaked: StoreTx | undefined;
          await store.write(async (tx) => {
            leaked = tx;
          });
          await assert.rejects(leaked!.setMeta('m', 1));
          assert.equal(await store.read((tx) => tx.getMeta('m')), undefined);
        });
      });

      test('everything committed survives close and reopen', async () => {
        await withStore(async (store, h) => {
          const rows = Array.from({ length: 300 }, (_, i) =>
            row('d', `r${i}`, { i, text: `é😀${i}` }, { conflicted: i % 7 === 0, deleted: i % 11 === 0, state: { i: [i] } }),
          );
          await store.write(async (tx) => {
            await tx.putRecords(rows);
            await tx.setMeta('config', { vault: 'v', devices: ['a', 'b'] });
            await tx.appendLog([logEntry('d', 'r1', 1), logEntry('d', 'r2', 2)]);
            await tx.appendOutbox([{ op: 1 }, { op: 2 }]);
          });
          const outbox = await store.read((tx) => tx.readOutbox(10));
          await store.close();
          const again = await h.reopen();
          await again.read(async (tx) => {
            const got = await tx.getRecords(
              'd',
              rows.map((r) => r.id),
            );
            assert.equal(got.size, rows.length);
            for (const r of rows) assert.deepEqual(got.get(r.id), r);
            assert.deepEqual(await tx.getMeta('config'), { vault: 'v', devices: ['a', 'b'] });
            assert.equal((await tx.readLog({})).length, 2);
            assert.deepEqual(await tx.readOutbox(10), outbox);
            assert.equal((await tx.listConflicted('d')).length, rows.filter((r) => r.conflicted).length);
            assert.equal((await tx.query({ collection: 'd' })).rows.length, rows.filter((r) => !r.deleted).length);
          });
        });
      });
    });
  });
}
