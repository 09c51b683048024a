import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { blobId, decodeBlobObject, encodeBlobObject, encodeBlobObjectParts } from '../format/blob-format.js';
import { concatBytes } from '../crypto/index.js';
import { MAX_CHUNK } from './chunker.js';
import { SealThread } from './seal-thread.js';
import { noise, twoDevices } from './blobs.test.support.js';

const vaultId = '0f'.repeat(16);
const epochKey = new Uint8Array(32).fill(7);
const nonce = new Uint8Array(12).fill(3);
const thread = (entry?: string): SealThread => new SealThread(Worker, entry);

/** What the main thread makes of `plain` in-thread: its id and object with `nonce`. */
async function inThread(plain: Uint8Array): Promise<{ id: string; bytes: Uint8Array }> {
  const id = await blobId(epochKey, vaultId, plain);
  return { id, bytes: await encodeBlobObject('chunk', { vaultId, epoch: 1, epochKey, id, plaintext: plain, random: () => nonce }) };
}

describe('sealing thread', () => {
  test('ids and objects are byte for byte the in-thread ones (incompressible, compressible, empty and largest chunks)', async () => {
    const t = thread();
    try {
      assert.equal(await t.started(), true);
      for (const plain of [noise(300_000, 4), new Uint8Array(200_000).fill(9), new Uint8Array(0), noise(MAX_CHUNK, 5)]) {
        const want = await inThread(plain);
        const held = t.hold(plain)!;
        plain.fill(1); // the thread works on its own copy: the caller may reuse its buffer at once
        try {
          const id = await held.id(epochKey, vaultId);
          assert.equal(id, want.id);
          const bytes = await held.encode({ vaultId, epoch: 1, epochKey, id, nonce });
          assert.deepEqual(bytes, want.bytes);
          const back = await decodeBlobObject('chunk', bytes, { vaultId, expectId: id, epochKey: () => epochKey, maxBytes: MAX_CHUNK });
          assert.equal(await blobId(epochKey, vaultId, back), id);
        } finally {
          held.release();
        }
      }
      assert.equal(t.hold(new Uint8Array(MAX_CHUNK + 1)), undefined, 'larger than a chunk: sealed in-thread');
    } finally {
      await t.close();
    }
  });

  test('the parts of an object concatenate to it', async () => {
    const plain = noise(70_000, 6);
    const id = await blobId(epochKey, vaultId, plain);
    const a = { vaultId, epoch: 2, epochKey, id, plaintext: plain, random: () => nonce };
    assert.deepEqual(concatBytes(...(await encodeBlobObjectParts('chunk', a))), await encodeBlobObject('chunk', a));
  });

  test('chunks held when the thread ends are sealed in-thread, the same bytes', async () => {
    const t = thread();
    assert.equal(await t.started(), true);
    const plain = noise(100_000, 8);
    const want = await inThread(plain);
    const held = t.hold(plain)!;
    await t.close();
    assert.equal(await held.id(epochKey, vaultId), want.id);
    assert.deepEqual(await held.encode({ vaultId, epoch: 1, epochKey, id: want.id, nonce }), want.bytes);
    held.release();
    assert.equal(t.hold(plain), undefined, 'a thread that ended takes no more chunks');
  });

  test('a thread that cannot start takes no chunks', async () => {
    const t = thread('./no-such-seal-worker.js');
    assert.equal(await t.started(), false);
    assert.equal(t.hold(noise(1000)), undefined);
  });

  test('the thread never keeps a process alive, even one that ends while it starts', () => {
    const url = JSON.stringify(new URL('./seal-thread.js', import.meta.url).href);
    const dir = mkdtempSync(join(tmpdir(), 'kith-seal-'));
    try {
      for (const [name, body] of [
        ['starting.mjs', `const { SealThread } = await import(${url}); SealThread.shared();`],
        [
          'used.mjs',
          `const { SealThread } = await import(${url}); const t = SealThread.shared();
           if (!(await t.started())) throw new Error('no thread');
           const h = t.hold(new Uint8Array(9)); await h.id(new Uint8Array(32), '00'); h.release();`,
        ],
      ] as const) {
        writeFileSync(join(dir, name), body);
        // The limit only turns a hang into a failure: a process that exits does so in well under a second.
        const r = spawnSync(process.execPath, [join(dir, name)], { timeout: 120_000 });
        assert.equal(r.status, 0, `${name}: the process did not end by itself: ${String(r.stderr)}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a blob put through the shared thread reads back on another device', async () => {
    assert.equal(await SealThread.shared()!.started(), true);
    const { vault, other } = await twoDevices();
    const data = noise(5 * 1024 * 1024, 9);
    const { ref, chunks } = await vault.blobs.put(data);
    assert.ok(chunks >= 2);
    assert.deepEqual(await other.blobs.bytes(ref), data);
    await vault.close();
    await other.close();
  });
});
