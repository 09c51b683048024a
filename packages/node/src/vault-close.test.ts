import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vault } from '@kith/core';
import { openMemoryRemote, openMemoryStore, newMemoryStoreData } from '@kith/core/testing';
import { openFsBlobCache } from './pack-blob-cache.js';

// The vault closes the store it was given; the blob cache it was given holds an open index and a pack being
// appended to, so it is closed with it (before, a process that closed its vault kept both open until exit).
test('Vault.close closes the blob cache it was given: its pack is flushed and a later write is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-vault-close-'));
  try {
    const blobCache = openFsBlobCache(join(dir, 'blobs'));
    const { vault } = await Vault.create({
      store: openMemoryStore(newMemoryStoreData()),
      remote: openMemoryRemote(new Map()),
      remoteUrl: 'memory:',
      blobCache,
    });
    const { ref } = await vault.blobs.put(new Uint8Array(100_000).fill(7));
    await vault.close();
    await assert.rejects(blobCache.put(`c/${'ab'.repeat(32)}`, new Uint8Array(1)), /is closed/);
    const reopened = openFsBlobCache(join(dir, 'blobs'));
    assert.ok((await reopened.list()).length > 0, `the chunks of ${ref} were kept`);
    await reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
