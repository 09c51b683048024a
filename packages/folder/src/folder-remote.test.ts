import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ErrorCode, KithError } from '@kith/core';
import { runRemoteConformance } from '@kith/core/testing';
import { openFolderRemote, parseFolderUrl } from './index.js';

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'kith-folder-'));
const is = (code: ErrorCode) => (e: unknown) => KithError.is(e, code);

runRemoteConformance('folder', async () => {
  const dir = tempDir();
  const remote = await openFolderRemote(join(dir, 'remote'), { create: true });
  return {
    remote,
    cleanup: async () => {
      await remote.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('folder remote specifics', () => {
  test('locations: file:// URLs, absolute and relative paths; a missing folder is KITH_REMOTE_NOT_FOUND', async () => {
    const dir = tempDir();
    try {
      assert.equal(parseFolderUrl(pathToFileURL(join(dir, 'x')).href), join(dir, 'x'));
      assert.equal(parseFolderUrl('rel/dir'), join(process.cwd(), 'rel/dir'));
      assert.throws(() => parseFolderUrl('s3://bucket'), is(ErrorCode.BadRemoteUrl));
      assert.throws(() => parseFolderUrl(''), is(ErrorCode.BadRemoteUrl));
      await assert.rejects(openFolderRemote(join(dir, 'missing')), is(ErrorCode.RemoteNotFound));
      const r = await openFolderRemote(pathToFileURL(join(dir, 'made')).href, { create: true });
      await r.put('a/b', Uint8Array.of(1));
      assert.deepEqual(readdirSync(join(dir, 'made', 'a')), ['b']);
      rmSync(join(dir, 'made'), { recursive: true });
      await assert.rejects(r.get('a/b'), is(ErrorCode.RemoteNotFound), 'the folder vanished (unmounted)');
      await r.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a symlink that leads outside the folder is refused', async () => {
    const dir = tempDir();
    try {
      mkdirSync(join(dir, 'outside'));
      writeFileSync(join(dir, 'outside', 'secret'), 'secret');
      const r = await openFolderRemote(join(dir, 'remote'), { create: true });
      symlinkSync(join(dir, 'outside'), join(dir, 'remote', 'heads'));
      await assert.rejects(r.get('heads/secret'), is(ErrorCode.BadName));
      await assert.rejects(r.put('heads/x', Uint8Array.of(1)), is(ErrorCode.BadName));
      symlinkSync(join(dir, 'outside', 'secret'), join(dir, 'remote', 'vault'));
      await assert.rejects(r.get('vault'), is(ErrorCode.BadName));
      await r.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('temp files are never listed; stale ones are removed on open', async () => {
    const dir = tempDir();
    try {
      const root = join(dir, 'remote');
      const r = await openFolderRemote(root, { create: true });
      writeFileSync(join(root, '.tmp', 'fresh.tmp'), 'partial');
      writeFileSync(join(root, '.tmp', 'old.tmp'), 'partial');
      const old = new Date(Date.now() - 2 * 3600_000);
      utimesSync(join(root, '.tmp', 'old.tmp'), old, old);
      assert.deepEqual(await r.list(''), []);
      await r.close();
      await (await openFolderRemote(root)).close();
      assert.deepEqual(readdirSync(join(root, '.tmp')), ['fresh.tmp']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a writer killed with SIGKILL mid-write never leaves a partial object visible', async () => {
    const dir = tempDir();
    try {
      const root = join(dir, 'remote');
      await (await openFolderRemote(root, { create: true })).close();
      const size = 4 << 20;
      const child = spawn(process.execPath, [
        '--input-type=module',
        '-e',
        `import { openFolderRemote } from ${JSON.stringify(new URL('./index.js', import.meta.url).href)};
         const r = await openFolderRemote(${JSON.stringify(root)});
         const b = new Uint8Array(${size}).fill(7);
         for (let i = 0; ; i++) await r.put('objs/o' + (i % 50), b);`,
      ]);
      await new Promise((resolve) => setTimeout(resolve, 700));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.on('close', resolve));
      const r = await openFolderRemote(root);
      const listed = await r.list('objs/');
      assert.ok(listed.length > 0, 'the child wrote something before it was killed');
      for (const o of listed) assert.equal(o.size, size, `${o.key} is complete`);
      await r.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('watch fires when a head changes', async () => {
    const dir = tempDir();
    try {
      const r = await openFolderRemote(join(dir, 'remote'), { create: true });
      let fired = 0;
      const stop = r.watch('heads/', () => fired++);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const other = await openFolderRemote(join(dir, 'remote'));
      await other.put('heads/abc', Uint8Array.of(1));
      for (let i = 0; i < 50 && fired === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(fired > 0);
      stop();
      await r.close();
      await other.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
