/**
 * What every BlobCache must do, run against each implementation (the
 * file-per-object cache and the pack cache): round trips,
 * replacement, deletion, touch, refusal of bad keys, concurrent writers,
 * persistence across instances, and a model check of random operation
 * sequences.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { BlobCache } from '@kith/core/adapter';

/** A cache on `dir`; `close` if the implementation has one (a second instance on the same dir must see the first's writes). */
export type OpenCache = (dir: string) => BlobCache & { close?: () => Promise<void> };

/** Key `c/<id>` for object `n`, and its bytes (deterministic, `size` long). */
export const keyOf = (n: number, kind: 'c' | 'm' = 'c'): string => `${kind}/${createHash('sha256').update(`object ${n}`).digest('hex')}`;
export function bytesOf(n: number, size: number): Uint8Array {
  const key = createHash('sha256').update(`bytes ${n}`).digest();
  const b = createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(new Uint8Array(size));
  return new Uint8Array(b.buffer, b.byteOffset, b.length); // a plain Uint8Array, as caches return
}

const sorted = async (c: BlobCache): Promise<[string, number][]> =>
  (await c.list()).map((e) => [e.key, e.size] as [string, number]).sort((a, b) => (a[0] < b[0] ? -1 : 1));

/** Runs `fn` with a cache directory (not yet created) inside a fresh temporary one, removed after. */
export async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kith-packs-'));
  try {
    await fn(join(dir, 'blobs'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function blobCacheConformance(name: string, open: OpenCache): void {
  const withDir = async (fn: (dir: string) => Promise<void>): Promise<void> => {
    const dir = mkdtempSync(join(tmpdir(), 'kith-cache-conf-'));
    try {
      await fn(join(dir, 'blobs'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  test(`${name}: put, get, touch, list, replace, delete`, async () => {
    await withDir(async (dir) => {
      const c = open(dir);
      try {
        assert.equal(await c.get(keyOf(1)), null);
        assert.equal(await c.touch(keyOf(1)), false);
        assert.deepEqual(await c.list(), []);
        await c.put(keyOf(1), Uint8Array.of(1, 2, 3));
        await c.put(keyOf(1, 'm'), Uint8Array.of(4));
        await c.put(keyOf(2), new Uint8Array(0));
        assert.deepEqual(await c.get(keyOf(1)), Uint8Array.of(1, 2, 3));
        assert.deepEqual(await c.get(keyOf(1, 'm')), Uint8Array.of(4));
        assert.deepEqual(await c.get(keyOf(2)), new Uint8Array(0));
        assert.equal(await c.touch(keyOf(1)), true);
        assert.deepEqual(
          await sorted(c),
          [
            [keyOf(1), 3],
            [keyOf(1, 'm'), 1],
            [keyOf(2), 0],
          ].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
        );
        const before = (await c.list()).find((e) => e.key === keyOf(2))!.usedAt;
        await c.touch(keyOf(2));
        assert.ok((await c.list()).find((e) => e.key === keyOf(2))!.usedAt >= before, 'touch marks used');
        // A rewrite replaces the object whole.
        await c.put(keyOf(1), bytesOf(1, 5000));
        assert.deepEqual(await c.get(keyOf(1)), bytesOf(1, 5000));
        await c.delete(keyOf(1));
        await c.delete(keyOf(3)); // absent: nothing to do
        assert.equal(await c.get(keyOf(1)), null);
        assert.equal(await c.touch(keyOf(1)), false);
        assert.deepEqual(await c.get(keyOf(1, 'm')), Uint8Array.of(4), 'the manifest of the same id is another object');
        assert.deepEqual((await sorted(c)).map((e) => e[0]).sort(), [keyOf(1, 'm'), keyOf(2)].sort());
      } finally {
        await c.close?.();
      }
    });
  });

  test(`${name}: a reader during a write sees nothing or the whole object`, { timeout: 60_000 }, async () => {
    await withDir(async (dir) => {
      const c = open(dir);
      try {
        for (const [n, size] of [
          [1, 4 * 1024 * 1024],
          [2, 3 * 1024 * 1024 + 17],
        ] as const) {
          let done = false;
          const put = c.put(keyOf(n), bytesOf(n, size)).finally(() => (done = true));
          let reads = 0;
          while (!done) {
            const got = await c.get(keyOf(n));
            reads++;
            if (got) assert.deepEqual(got, bytesOf(n, size), `read ${reads} during the write`);
            await new Promise((resolve) => setImmediate(resolve)); // a miss may settle without I/O: let the write's callbacks run
          }
          await put;
          assert.deepEqual(await c.get(keyOf(n)), bytesOf(n, size));
        }
      } finally {
        await c.close?.();
      }
    });
  });

  test(`${name}: bad keys are refused and change nothing`, async () => {
    await withDir(async (dir) => {
      const c = open(dir);
      try {
        await c.put(keyOf(1), Uint8Array.of(1));
        for (const bad of ['c/../../etc', 'x/' + 'ab'.repeat(32), 'c/' + 'AB'.repeat(32), 'c/' + 'ab'.repeat(31), 'c' + 'ab'.repeat(32), '']) {
          await assert.rejects(c.put(bad, Uint8Array.of(9)), /bad blob cache key/, bad);
          await assert.rejects(c.get(bad), /bad blob cache key/, bad);
          await assert.rejects(c.delete(bad), /bad blob cache key/, bad);
        }
        assert.deepEqual(await sorted(c), [[keyOf(1), 1]]);
      } finally {
        await c.close?.();
      }
    });
  });

  test(`${name}: concurrent writers, objects of a few MiB, read back by another instance`, { timeout: 120_000 }, async () => {
    await withDir(async (dir) => {
      const c = open(dir);
      const sizes = Array.from({ length: 24 }, (_, i) => ((i * 7919) % 3) * 1024 * 1024 + i * 1013);
      try {
        await Promise.all(sizes.map((s, i) => c.put(keyOf(i), bytesOf(i, s))));
        for (const [i, s] of sizes.entries()) assert.deepEqual(await c.get(keyOf(i)), bytesOf(i, s));
      } finally {
        await c.close?.();
      }
      const again = open(dir);
      try {
        for (const [i, s] of sizes.entries()) assert.deepEqual(await again.get(keyOf(i)), bytesOf(i, s), `object ${i}`);
        assert.equal((await again.list()).length, sizes.length);
      } finally {
        await again.close?.();
      }
    });
  });

  test(`${name}: random operation sequences agree with a map`, { timeout: 300_000 }, async () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('put' as const), n: fc.nat(5), size: fc.oneof(fc.nat(300), fc.integer({ min: 60_000, max: 200_000 })), seed: fc.nat(1000) }),
      fc.record({ t: fc.constant('delete' as const), n: fc.nat(5) }),
      fc.record({ t: fc.constant('get' as const), n: fc.nat(5) }),
      fc.record({ t: fc.constant('touch' as const), n: fc.nat(5) }),
      fc.record({ t: fc.constant('reopen' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
        await withDir(async (dir) => {
          const model = new Map<string, Uint8Array>();
          let c = open(dir);
          try {
            for (const o of ops) {
              if (o.t === 'reopen') {
                await c.close?.();
                c = open(dir);
                continue;
              }
              const key = keyOf(o.n);
              if (o.t === 'put') {
                const bytes = bytesOf(o.seed, o.size);
                await c.put(key, bytes);
                model.set(key, bytes);
              } else if (o.t === 'delete') {
                await c.delete(key);
                model.delete(key);
              } else if (o.t === 'get') {
                assert.deepEqual(await c.get(key), model.get(key) ?? null);
              } else {
                assert.equal(await c.touch(key), model.has(key));
              }
            }
            assert.deepEqual(
              await sorted(c),
              [...model].map(([k, v]) => [k, v.length]).sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
            );
            for (const [k, v] of model) assert.deepEqual(await c.get(k), v);
          } finally {
            await c.close?.();
          }
        });
      }),
      { numRuns: 40 },
    );
  });
}
