import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsBlobCache } from './fs-blob-cache.js';

const openFsBlobCache = (dir: string) => new FsBlobCache(dir);

test('fs blob cache: put, get, list, delete; files 0600; bad keys refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-blobcache-'));
  try {
    const cache = openFsBlobCache(join(dir, 'blobs'));
    const id = 'ab'.repeat(32);
    assert.equal(await cache.get(`c/${id}`), null);
    await cache.put(`c/${id}`, Uint8Array.of(1, 2, 3));
    await cache.put(`m/${id}`, Uint8Array.of(4));
    assert.deepEqual(await cache.get(`c/${id}`), Uint8Array.of(1, 2, 3));
    assert.deepEqual((await cache.list()).map((e) => [e.key, e.size]).sort(), [
      [`c/${id}`, 3],
      [`m/${id}`, 1],
    ]);
    // touch: whether an object is cached, marking it used now without reading it.
    const file = join(dir, 'blobs', 'c', 'ab', id);
    utimesSync(file, 1000, 1000);
    assert.equal(await cache.touch(`c/${id}`), true);
    assert.ok(statSync(file).mtimeMs > 1_000_000, 'marked used');
    assert.equal(await cache.touch(`c/${'ee'.repeat(32)}`), false);
    assert.equal(statSync(join(dir, 'blobs', 'c', 'ab', id)).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(dir, 'blobs', 'c', 'ab')), [id], 'no temp file left');
    await cache.delete(`c/${id}`);
    assert.equal(await cache.get(`c/${id}`), null);
    await assert.rejects(cache.put('c/../../etc', Uint8Array.of(1)));
    // Several writers into a shard that does not exist yet; a rewrite replaces the entry whole.
    const ids = ['cd'.repeat(32), 'cd' + 'ef'.repeat(31), 'cd' + '01'.repeat(31)];
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
    await Promise.all(ids.map((x, i) => cache.put(`c/${x}`, big.subarray(i))));
    for (const [i, x] of ids.entries()) assert.deepEqual(await cache.get(`c/${x}`), big.subarray(i));
    await cache.put(`c/${ids[0]}`, Uint8Array.of(7));
    assert.deepEqual(await cache.get(`c/${ids[0]}`), Uint8Array.of(7));
    assert.deepEqual(readdirSync(join(dir, 'blobs', 'c', 'cd')).sort(), [...ids].sort(), 'no temp file left');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
