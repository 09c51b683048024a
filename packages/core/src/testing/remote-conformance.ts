/**
 * @module remote-conformance
 * The behaviour every {@link Remote} must show, as node:test tests. The
 * folder, S3 and relay remotes (and the in-memory reference) call
 * {@link runRemoteConformance}; adapter-specific tests live beside them.
 *
 * A refused put-if-absent (the key already exists) resolves without
 * writing: `put` returns `Promise<void>`, so the caller cannot tell a
 * refusal from a write and, where it matters, reads the object back. The
 * suite checks exactly that: the first object survives, and no error.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, KithError } from '../base/errors.js';
import type { Remote } from '../ports/remote.js';
import { countingRemote, type CountingRemote } from '../ports/counting.js';

/** What `open` gives {@link runRemoteConformance} for one test. */
export interface RemoteHarness {
  /** A remote over a fresh, empty location, used by one test only. */
  readonly remote: Remote;
  /** Closes the remote and removes what it stored. */
  cleanup(): Promise<void>;
}

const bytes = (n: number, seed = 1): Uint8Array => {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) b[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return b;
};
const isCode = (code: ErrorCode) => (e: unknown) => KithError.is(e, code);
const keysOf = async (r: Remote, prefix: string, o: { after?: string; limit?: number } = {}): Promise<string[]> => (await r.list(prefix, o)).map((i) => i.key);

/** Switches for remotes (or test servers) that cannot show every behaviour. */
export interface RemoteConformanceOptions {
  /** Include the 9 MiB object (default true). */
  readonly bigObjects?: boolean;
  /**
   * Byte order between keys that differ by `-`/`.` versus `/` at one level
   * (`a-b` < `a/b`). Real S3 services and the folder remote list in byte
   * order; s3rver, the test server, walks directories instead. Kith's own
   * keys never mix these at one level, so the engine does not depend on it.
   */
  readonly mixedSeparatorOrder?: boolean;
  /**
   * Run the test where several puts of one key race and one whole object
   * must remain (default false). The folder, relay and in-memory remotes
   * and real S3 pass it; s3rver, the S3 test server, writes an object's
   * body and metadata separately and can tear them, so it is opt-in. It
   * also gates racing put-if-absent writers on remotes without an atomic
   * put-if-absent (they are racing overwrites there).
   */
  readonly racingOverwrites?: boolean;
  /**
   * The remote answers a put-if-absent that created its object with a
   * `PutOutcome` (default false: it may answer nothing, and callers
   * read back). Set by the folder, relay, S3 and in-memory remotes.
   */
  readonly tellsStored?: boolean;
}

/**
 * Registers the Remote conformance tests under `describe(name)`; `open` is
 * called once per test (and once per property-test run) and must give a
 * remote over a fresh, empty location.
 *
 * @example
 * runRemoteConformance('folder', async () => {
 *   const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-'));
 *   const remote = await openFolderRemote(dir);
 *   return { remote, cleanup: async () => { await remote.close(); fs.rmSync(dir, { recursive: true }); } };
 * }, { racingOverwrites: true });
 */
export function runRemoteConformance(name: string, open: () => Promise<RemoteHarness>, options: RemoteConformanceOptions = {}): void {
  const mixed = options.mixedSeparatorOrder !== false;
  async function withRemote(fn: (r: CountingRemote) => Promise<void>): Promise<void> {
    const h = await open();
    try {
      await fn(countingRemote(h.remote));
    } finally {
      await h.cleanup();
    }
  }

  describe(`remote conformance: ${name}`, () => {
    test('put/get round trip of 0 bytes, 1 byte, 1 MiB and (unless disabled) 9 MiB; overwrite replaces whole', async () => {
      await withRemote(async (r) => {
        const sizes = [0, 1, 1 << 20, ...(options.bigObjects === false ? [] : [9 << 20])];
        for (const n of sizes) {
          const b = bytes(n, n + 1);
          await r.put(`objs/o${n}`, b);
          assert.deepEqual(await r.get(`objs/o${n}`), b, `${n} bytes`);
        }
        await r.put('objs/o1', Uint8Array.of(7, 8, 9));
        assert.deepEqual(await r.get('objs/o1'), Uint8Array.of(7, 8, 9));
        await r.put('objs/o1', Uint8Array.of(1));
        assert.deepEqual(await r.get('objs/o1'), Uint8Array.of(1));
      });
    });

    test('missing keys: get and head give null; delete is idempotent', async () => {
      await withRemote(async (r) => {
        assert.equal(await r.get('nope/x'), null);
        assert.equal(await r.head('nope/x'), null);
        await r.delete('nope/x');
        await r.put('a/b', Uint8Array.of(1));
        await r.delete('a/b');
        await r.delete('a/b');
        assert.equal(await r.get('a/b'), null);
        assert.deepEqual(await keysOf(r, ''), []);
      });
    });

    test('head: size, and an etag that changes with the bytes and stays when untouched', async () => {
      await withRemote(async (r) => {
        await r.put('h/x', bytes(100));
        const a = await r.head('h/x');
        assert.equal(a?.size, 100);
        assert.equal(a?.key, 'h/x');
        assert.equal((await r.head('h/x'))?.etag, a?.etag);
        assert.equal((await r.list('h/'))[0]?.etag, a?.etag, 'listing and head agree');
        await r.put('h/x', bytes(100, 9));
        assert.notEqual((await r.head('h/x'))?.etag, a?.etag);
      });
    });

    test('ranged get: start, middle, and past the end', async () => {
      await withRemote(async (r) => {
        const b = bytes(1000);
        await r.put('r/x', b);
        assert.deepEqual(await r.get('r/x', { range: { offset: 0, length: 10 } }), b.subarray(0, 10));
        assert.deepEqual(await r.get('r/x', { range: { offset: 500, length: 100 } }), b.subarray(500, 600));
        assert.deepEqual(await r.get('r/x', { range: { offset: 990, length: 100 } }), b.subarray(990));
        assert.deepEqual(await r.get('r/x', { range: { offset: 999, length: 1 } }), b.subarray(999));
        assert.deepEqual(await r.get('r/x', { range: { offset: 2000, length: 10 } }), new Uint8Array(0), 'wholly past the end: no bytes');
        assert.equal(await r.get('r/missing', { range: { offset: 0, length: 10 } }), null);
        assert.deepEqual(await r.get('r/x', { range: { offset: 10, length: 0 } }), new Uint8Array(0), 'an empty range of an object: no bytes');
        assert.equal(await r.get('r/missing', { range: { offset: 0, length: 0 } }), null, 'an empty range of a missing object: still missing');
      });
    });

    test('list: plain string prefixes, byte order across nesting, after and limit', async () => {
      await withRemote(async (r) => {
        const keys = ['heads/a', 'heads/b', 'head', 'headsx/y', 'a-b', 'a.b', 'a/b', 'a/c/d', 'a0', 'segments/d/000000000002', 'segments/d/000000000010'];
        for (const k of keys) await r.put(k, Uint8Array.of(1));
        assert.deepEqual(await keysOf(r, 'heads/'), ['heads/a', 'heads/b']);
        assert.deepEqual(await keysOf(r, 'heads'), ['heads/a', 'heads/b', 'headsx/y']);
        assert.deepEqual(await keysOf(r, 'head'), ['head', 'heads/a', 'heads/b', 'headsx/y']);
        if (mixed) assert.deepEqual(await keysOf(r, 'a'), ['a-b', 'a.b', 'a/b', 'a/c/d', 'a0']);
        else assert.deepEqual(new Set(await keysOf(r, 'a')), new Set(['a-b', 'a.b', 'a/b', 'a/c/d', 'a0']));
        if (mixed) assert.deepEqual(await keysOf(r, ''), [...keys].sort());
        assert.deepEqual(await keysOf(r, 'heads/', { after: 'heads/a' }), ['heads/b']);
        if (mixed) assert.deepEqual(await keysOf(r, 'a', { after: 'a.b', limit: 2 }), ['a/b', 'a/c/d']);
        assert.deepEqual(await keysOf(r, 'segments/d/', { after: 'segments/d/000000000002' }), ['segments/d/000000000010']);
        // `after` inside a directory the listing walks from above.
        assert.deepEqual(await keysOf(r, 'heads', { after: 'heads/a' }), ['heads/b', 'headsx/y']);
        assert.deepEqual(await keysOf(r, 'se', { after: 'segments/d/000000000002' }), ['segments/d/000000000010']);
        assert.deepEqual(await keysOf(r, 'se', { after: 'segments/c' }), ['segments/d/000000000002', 'segments/d/000000000010']);
        assert.deepEqual(await keysOf(r, 'se', { after: 'segments/d/000000000010' }), []);
        if (mixed)
          assert.deepEqual(
            await keysOf(r, '', { after: 'a/b' }),
            [...keys].sort().filter((k) => k > 'a/b'),
          );
        assert.deepEqual(await keysOf(r, 'zzz'), []);
      });
    });

    test('list pages through more than 1,000 keys', async () => {
      await withRemote(async (r) => {
        const keys = Array.from({ length: 1100 }, (_, i) => `many/k${String(i).padStart(5, '0')}`);
        for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => r.put(k, Uint8Array.of(1))));
        assert.deepEqual(await keysOf(r, 'many/'), keys);
        assert.deepEqual(await keysOf(r, 'many/', { after: keys[999]! }), keys.slice(1000));
        assert.deepEqual(await keysOf(r, 'many/', { after: keys[10]!, limit: 1005 }), keys.slice(11, 1016));
      });
    });

    test('invalid keys are refused with KITH_BAD_NAME before any storage access', async () => {
      await withRemote(async (r) => {
        const bad = [
          '',
          '.',
          '..',
          'a/../b',
          'a/./b',
          '/abs',
          'a//b',
          'a/',
          'nul\u0000x',
          'back\\slash',
          'a b',
          'tab\tx',
          'é',
          'k'.repeat(513),
          './x',
          '~/x',
          'a:b',
        ];
        const before = { ...r.stats };
        for (const k of bad) {
          await assert.rejects(r.put(k, Uint8Array.of(1)), isCode(ErrorCode.BadName), JSON.stringify(k));
          await assert.rejects(r.get(k), isCode(ErrorCode.BadName));
          await assert.rejects(r.head(k), isCode(ErrorCode.BadName));
          await assert.rejects(r.delete(k), isCode(ErrorCode.BadName));
        }
        for (const p of ['../', '/x', 'a//', '..', 'a/../', 'é']) await assert.rejects(r.list(p), isCode(ErrorCode.BadName), JSON.stringify(p));
        assert.deepEqual({ ...r.stats }, before, 'no request was made');
        // The longest valid key works (segments within a file name's 255 bytes, for the folder remote).
        const longest = `${'k'.repeat(255)}/${'k'.repeat(254)}/k`;
        await r.put(longest, Uint8Array.of(1));
        assert.deepEqual(await keysOf(r, ''), [longest]);
        await r.delete(longest);
        assert.deepEqual(await keysOf(r, ''), []);
      });
    });

    test('put-if-absent: never overwrites where supported; never corrupts where not', async () => {
      await withRemote(async (r) => {
        const first = await r.put('p/x', Uint8Array.of(1), { ifAbsent: true });
        const second = await r.put('p/x', Uint8Array.of(2, 2), { ifAbsent: true });
        const got = await r.get('p/x');
        if (r.capabilities.putIfAbsent) assert.deepEqual(got, Uint8Array.of(1));
        else assert.ok(got !== null && (got.length === 1 || got.length === 2), 'one whole object');
        // A put's outcome (PutOutcome) is the remote's word that the key holds that put's bytes: callers skip reading back.
        if (first?.stored === true) assert.deepEqual(got, Uint8Array.of(1), 'the first put said it stored its bytes');
        if (second?.stored === true) assert.deepEqual(got, Uint8Array.of(2, 2), 'the second put said it stored its bytes');
        // Racing put-if-absent writers: exactly one whole object. Without an atomic put-if-absent the racers
        // may overwrite each other, which is the racing-overwrites case: checked only where opted in.
        if (r.capabilities.putIfAbsent || options.racingOverwrites === true) {
          const racers = Array.from({ length: 8 }, (_, i) => bytes(100 + i, i + 1));
          const outcomes = await Promise.all(racers.map((b) => r.put('p/race', b, { ifAbsent: true })));
          const won = await r.get('p/race');
          assert.ok(won !== null && racers.some((b) => b.length === won.length && Buffer.from(b).equals(won)), 'one racer won whole');
          // Of the racers that said they stored their bytes, each is the winner (so at most one, with an atomic put-if-absent).
          outcomes.forEach((o, i) => {
            if (o?.stored === true && r.capabilities.putIfAbsent) assert.ok(Buffer.from(racers[i]!).equals(won), `racer ${i} said it stored its bytes`);
          });
        }
        const fresh = await r.put('p/new', Uint8Array.of(3), { ifAbsent: true });
        assert.deepEqual(await r.get('p/new'), Uint8Array.of(3), 'an absent key is written');
        if (options.tellsStored === true) assert.equal(fresh?.stored, true, 'a put-if-absent that created its object says so');
      });
    });

    if (options.racingOverwrites === true) {
      test('concurrent puts of one key leave one whole object (never a torn mix)', async () => {
        await withRemote(async (r) => {
          const versions = Array.from({ length: 6 }, (_, i) => bytes(50_000 + i * 1000, i + 7));
          await Promise.all(versions.map((b) => r.put('t/x', b)));
          const got = await r.get('t/x');
          assert.ok(got !== null && versions.some((b) => Buffer.from(b).equals(got)), 'the object is one of the versions, whole');
          assert.equal((await r.head('t/x'))?.size, got.length);
        });
      });
    }

    test('concurrent puts of different keys all land; stats count requests and bytes', async () => {
      await withRemote(async (r) => {
        const before = { ...r.stats };
        await Promise.all(Array.from({ length: 40 }, (_, i) => r.put(`c/k${i}`, bytes(1000, i))));
        assert.equal((await keysOf(r, 'c/')).length, 40);
        for (let i = 0; i < 40; i += 13) assert.deepEqual(await r.get(`c/k${i}`), bytes(1000, i));
        assert.ok(r.stats.puts - before.puts >= 40);
        assert.ok(r.stats.bytesSent - before.bytesSent >= 40_000);
        assert.ok(r.stats.gets > before.gets && r.stats.bytesReceived - before.bytesReceived >= 4000);
        assert.ok(r.stats.lists > before.lists);
        await r.head('c/k0');
        await r.delete('c/k0');
        assert.ok(r.stats.heads > before.heads && r.stats.deletes > before.deletes);
      });
    });

    test('an aborted signal rejects with KITH_ABORTED', async () => {
      await withRemote(async (r) => {
        const signal = AbortSignal.abort();
        await assert.rejects(r.put('x/y', Uint8Array.of(1), { signal }), isCode(ErrorCode.Aborted));
        await assert.rejects(r.get('x/y', { signal }), isCode(ErrorCode.Aborted));
        await assert.rejects(r.list('x/', { signal }), isCode(ErrorCode.Aborted));
        await assert.rejects(r.head('x/y', { signal }), isCode(ErrorCode.Aborted));
        await assert.rejects(r.delete('x/y', { signal }), isCode(ErrorCode.Aborted));
        await assert.rejects(r.put('x/z', Uint8Array.of(1), { signal, ifAbsent: true }), isCode(ErrorCode.Aborted));
        assert.equal(await r.get('x/y'), null);
        assert.deepEqual(await keysOf(r, ''), [], 'nothing was written');
      });
    });

    test('random operations match an in-memory model exactly', async () => {
      const seg = mixed ? fc.constantFrom('a', 'b', 'a-b', 'a.b', 'z9', '0') : fc.constantFrom('a', 'b', 'z9', '0', 'ab');
      // Two levels, as Kith's own keys: no key is a path-prefix of another (see the Remote contract).
      const key = fc.tuple(seg, seg).map(([a, b]) => `${a}/${b}`);
      const op = fc.oneof(
        fc.record({ t: fc.constant('put' as const), key, n: fc.integer({ min: 0, max: 40 }) }),
        fc.record({ t: fc.constant('del' as const), key }),
        fc.record({ t: fc.constant('head' as const), key }),
        fc.record({
          t: fc.constant('list' as const),
          prefix: fc.oneof(
            fc.constant(''),
            key,
            key.map((k) => k + '/'),
            key.map((k) => k.slice(0, 1)),
          ),
          after: fc.option(fc.oneof(key, seg), { nil: undefined }),
          limit: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
        }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
          await withRemote(async (r) => {
            const model = new Map<string, number>();
            for (const o of ops) {
              if (o.t === 'put') {
                await r.put(o.key, bytes(o.n, o.n + 3));
                model.set(o.key, o.n);
              } else if (o.t === 'del') {
                await r.delete(o.key);
                model.delete(o.key);
              } else if (o.t === 'head') {
                assert.equal((await r.head(o.key))?.size ?? null, model.get(o.key) ?? null, `head ${o.key}`);
              } else {
                const expected = [...model.keys()].filter((k) => k.startsWith(o.prefix) && (o.after === undefined || k > o.after)).sort();
                const listOpts = { ...(o.after !== undefined ? { after: o.after } : {}), ...(o.limit !== undefined ? { limit: o.limit } : {}) };
                assert.deepEqual(await keysOf(r, o.prefix, listOpts), expected.slice(0, o.limit ?? expected.length));
              }
            }
            for (const [k, n] of model) assert.deepEqual(await r.get(k), bytes(n, n + 3));
          });
        }),
        { numRuns: 25, seed: 0x6b697468 },
      );
    });
  });
}
