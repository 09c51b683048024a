/**
 * Blobs through the folder remote under kill -9: the chunk puts of an
 * upload run concurrently and share directory fsyncs, yet a blob whose
 * put resolved (acknowledged) is complete, and no manifest is ever
 * visible without all of its chunks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blobKeys } from '@kith/core/adapter';
import { formatBlobRef, Vault } from '@kith/core';
import { openMemoryStore } from '@kith/core/testing';
import { openFolderRemote } from './index.js';

/** Deterministic incompressible bytes (AES-CTR keystream of a seed); the child process computes the same. */
const noise = (n: number, seed: number): Buffer => {
  const key = Buffer.alloc(32);
  key.writeUInt32BE(seed);
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n));
};

test('kill -9 during blob uploads: every acknowledged blob is complete; no manifest without its chunks', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-folder-blobs-'));
  try {
    const root = join(dir, 'remote');
    const here = (spec: string) => JSON.stringify(import.meta.resolve(spec));
    // The child uploads 2–7 MiB blobs (several chunks each, uploaded concurrently) and reports each ref once put resolves.
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { createCipheriv } from 'node:crypto';
         const { Vault } = await import(${here('@kith/core')});
         const { openMemoryStore } = await import(${here('@kith/core/testing')});
         const { openFolderRemote } = await import(${JSON.stringify(new URL('./index.js', import.meta.url).href)});
         const noise = ${noise.toString()};
         const remote = await openFolderRemote(${JSON.stringify(root)}, { create: true });
         const { vault, recoveryCode } = await Vault.create({ store: openMemoryStore(), remote, remoteUrl: ${JSON.stringify(root)} });
         process.stdout.write('code ' + recoveryCode + '\\n');
         for (let seed = 1; ; seed++) {
           const size = (2 + (seed % 6)) * 1024 * 1024 + seed;
           const { ref } = await vault.blobs.put(noise(size, seed));
           process.stdout.write('acked ' + ref + ' ' + seed + ' ' + size + '\\n');
         }`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const closed = new Promise((resolve) => child.on('close', resolve));
    let out = '';
    // Killed the moment it acknowledges a blob: the next blob's chunks are in flight by then.
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.split('\n').filter((l) => l.startsWith('acked ')).length >= 3) child.kill('SIGKILL');
    });
    await closed;
    const lines = out.split('\n');
    const code = lines.find((l) => l.startsWith('code '))?.slice(5);
    assert.ok(code, 'the child created its vault');
    const acked = lines.filter((l) => l.startsWith('acked ')).map((l) => l.split(' ')) as [string, string, string, string][];
    assert.ok(acked.length >= 3);

    const remote = await openFolderRemote(root);
    const reader = await Vault.restore({ store: openMemoryStore(), remote, remoteUrl: root, recoveryCode: code });
    try {
      for (const [, ref, seed, size] of acked) {
        const bytes = await reader.blobs.bytes(ref);
        assert.ok(Buffer.from(bytes).equals(noise(Number(size), Number(seed))), `acknowledged blob ${seed} is whole`);
      }
      const manifests = await remote.list(blobKeys.manifestsPrefix);
      assert.ok(manifests.length >= acked.length);
      for (const m of manifests) {
        const ref = formatBlobRef(m.key.slice(blobKeys.manifestsPrefix.length));
        const { size } = await reader.blobs.manifest(ref);
        assert.equal((await reader.blobs.bytes(ref)).length, size, `every chunk of ${ref.slice(0, 20)}… is there`);
      }
    } finally {
      await reader.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
