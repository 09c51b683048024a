import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Vault } from '@kith/core';
import { openMemoryRemote, openMemoryStore, newMemoryStoreData } from '@kith/core/testing';
import { bytesOf, keyOf, withDir } from './blob-cache-conformance.test.support.js';
import { PackBlobCache, openFsBlobCache } from './pack-blob-cache.js';

test('pack cache: flush makes every put before it survive a reboot, staying open; puts after it go on', { timeout: 60_000 }, async () => {
  await withDir(async (dir) => {
    const cache = new PackBlobCache(dir, { boot: 'one' });
    for (let i = 0; i < 5; i++) await cache.put(keyOf(i), bytesOf(i, 100_000));
    await cache.flush();
    for (let i = 5; i < 8; i++) await cache.put(keyOf(i), bytesOf(i, 100_000)); // never fsynced: the machine "stops" here
    assert.deepEqual(await cache.get(keyOf(7)), bytesOf(7, 100_000));
    const rebooted = new PackBlobCache(dir, { boot: 'two' });
    try {
      for (let i = 0; i < 5; i++) assert.deepEqual(await rebooted.get(keyOf(i)), bytesOf(i, 100_000), `object ${i}`);
      for (let i = 5; i < 8; i++) assert.equal(await rebooted.get(keyOf(i)), null, `object ${i}`);
    } finally {
      await rebooted.close();
      await cache.close();
    }
  });
});

test('pack cache: objects a compaction moved survive a reboot right after it', { timeout: 120_000 }, async () => {
  await withDir(async (dir) => {
    const MiB = 1024 * 1024;
    const first = new PackBlobCache(dir, { boot: 'one' });
    for (let i = 0; i < 70; i++) await first.put(keyOf(i), bytesOf(i, MiB)); // a full pack and a few objects in a second
    await first.close();
    const cache = new PackBlobCache(dir, { boot: 'one' });
    // Past half of the first pack gone, its rest moves to the second and the first is removed.
    for (let i = 0; i < 40; i++) await cache.delete(keyOf(i));
    const rebooted = new PackBlobCache(dir, { boot: 'two' }); // the machine stopped right after
    try {
      for (let i = 40; i < 70; i++) assert.deepEqual(await rebooted.get(keyOf(i)), bytesOf(i, MiB), `object ${i}`);
    } finally {
      await rebooted.close();
      await cache.close();
    }
  });
});

// An attach's cache copy is what a push restores the blob from if another device's GC collects it first
// (Blobs.ensureUploaded): it must not be lost to a power cut while the vault stays open.
test('an attach resolves with its cache copy durable: after a power cut, the chunks and the manifest are in the cache', { timeout: 60_000 }, async () => {
  await withDir(async (dir) => {
    const blobCache = openFsBlobCache(dir);
    const { vault } = await Vault.create({
      store: openMemoryStore(newMemoryStoreData()),
      remote: openMemoryRemote(new Map()),
      remoteUrl: 'memory:',
      blobCache,
    });
    const put = await vault.blobs.put(randomBytes(3 * 1024 * 1024));
    const rebooted = new PackBlobCache(dir, { boot: 'after a power cut' });
    try {
      const keys = (await rebooted.list()).map((e) => e.key);
      assert.equal(keys.filter((k) => k.startsWith('c/')).length, put.chunks);
      assert.equal(keys.filter((k) => k.startsWith('m/')).length, 1);
    } finally {
      await rebooted.close();
      await vault.close();
    }
  });
});
