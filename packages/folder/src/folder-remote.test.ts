import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ErrorCode, KithError } from '@kith/core/adapter';
import { runRemoteConformance } from '@kith/core/testing';
import { openFolderRemote, parseFolderUrl } from './index.js';

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'kith-folder-'));
const is = (code: ErrorCode) => (e: unknown) => KithError.is(e, code);

runRemoteConformance(
  'folder',
  async () => {
    const dir = tempDir();
    const remote = await openFolderRemote(join(dir, 'remote'), { create: true });
    return {
      remote,
      cleanup: async () => {
        await remote.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  { racingOverwrites: true, tellsStored: true },
);

describe('folder remote specifics', () => {
  test('get reads into the buffer the caller passes when the object fits (a view of it), else into one of its own', async () => {
    const dir = tempDir();
    const r = await openFolderRemote(join(dir, 'remote'), { create: true });
    try {
      await r.put('blobs/chunks/x', Uint8Array.of(1, 2, 3));
      const into = new Uint8Array(8).fill(9);
      const got = await r.get('blobs/chunks/x', { into });
      assert.deepEqual(got, Uint8Array.of(1, 2, 3));
      assert.equal(got.buffer, into.buffer);
      assert.deepEqual(into.subarray(0, 4), Uint8Array.of(1, 2, 3, 9));
      const small = new Uint8Array(2);
      const own = await r.get('blobs/chunks/x', { into: small });
      assert.deepEqual(own, Uint8Array.of(1, 2, 3));
      assert.notEqual(own.buffer, small.buffer);
      assert.deepEqual(await r.get('blobs/chunks/x', { into, range: { offset: 1, length: 5 } }), Uint8Array.of(2, 3));
      assert.equal(await r.get('blobs/chunks/none', { into }), null);
    } finally {
      await r.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('locations: file:// URLs, absolute and relative paths; a missing folder is KITH_REMOTE_NOT_FOUND', async () => {
    const dir = tempDir();
    try {
      assert.equal(parseFolderUrl(pathToFileURL(join(dir, 'x')).href), join(dir, 'x'));
      assert.equal(parseFolderUrl('rel/dir'), join(process.cwd(), 'rel/dir'));
      assert.equal(parseFolderUrl('FILE:///srv/kith'), '/srv/kith');
      assert.equal(parseFolderUrl('file:/srv/kith'), '/srv/kith');
      assert.equal(parseFolderUrl('file:///srv/my%20vault'), '/srv/my vault');
      assert.equal(parseFolderUrl('file://localhost/srv/kith'), '/srv/kith');
      assert.equal(parseFolderUrl('/srv/kith/../kith2/'), '/srv/kith2');
      assert.throws(() => parseFolderUrl('file://otherhost/srv'), is(ErrorCode.BadRemoteUrl));
      assert.throws(() => parseFolderUrl('file:///a%2Fb'), is(ErrorCode.BadRemoteUrl), 'an encoded slash');
      assert.throws(() => parseFolderUrl('https://relay.example/v'), is(ErrorCode.BadRemoteUrl));
      assert.throws(() => parseFolderUrl('s3://bucket'), is(ErrorCode.BadRemoteUrl));
      assert.throws(() => parseFolderUrl(''), is(ErrorCode.BadRemoteUrl));
      await assert.rejects(openFolderRemote(join(dir, 'missing')), is(ErrorCode.RemoteNotFound));
      const r = await openFolderRemote(pathToFileURL(join(dir, 'made')).href, { create: true });
      await r.put('a/b', Uint8Array.of(1));
      assert.deepEqual(readdirSync(join(dir, 'made', 'a')), ['b']);
      rmSync(join(dir, 'made'), { recursive: true });
      await assert.rejects(r.get('a/b'), is(ErrorCode.RemoteNotFound), 'the folder vanished (unmounted)');
      await assert.rejects(r.head('a/b'), is(ErrorCode.RemoteNotFound));
      await assert.rejects(r.put('a/b', Uint8Array.of(1)), is(ErrorCode.RemoteNotFound));
      await assert.rejects(r.list('a/'), is(ErrorCode.RemoteNotFound));
      await assert.rejects(r.delete('a/b'), is(ErrorCode.RemoteNotFound));
      await assert.rejects(r.get('a/../b'), is(ErrorCode.BadName), 'keys are checked before the disk is touched');
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
      await assert.rejects(r.list('heads/'), is(ErrorCode.BadName));
      await assert.rejects(r.list('heads/s'), is(ErrorCode.BadName));
      assert.deepEqual(await r.list(''), [], 'a listing never follows a symlink');
      await assert.rejects(r.head('heads/secret'), is(ErrorCode.BadName));
      symlinkSync(join(dir, 'outside', 'secret'), join(dir, 'remote', 'vault'));
      await assert.rejects(r.get('vault'), is(ErrorCode.BadName));
      await assert.rejects(r.head('vault'), is(ErrorCode.BadName));
      symlinkSync(join(dir, 'outside', 'secret'), join(dir, 'remote', 'link'));
      await r.put('link', Uint8Array.of(9));
      assert.deepEqual(readFileSync(join(dir, 'outside', 'secret'), 'utf8'), 'secret', 'a put replaces a link in last place, never writes through it');
      assert.deepEqual(await r.get('link'), Uint8Array.of(9));
      symlinkSync(join(dir, 'outside', 'not-yet'), join(dir, 'remote', 'dangling'));
      await assert.rejects(r.put('dangling/x', Uint8Array.of(1)), is(ErrorCode.BadName), 'a dangling link is judged by its target');
      // A link that stays inside the folder is fine.
      await r.put('inner/x', Uint8Array.of(5));
      symlinkSync(join(dir, 'remote', 'inner'), join(dir, 'remote', 'alias'));
      assert.deepEqual(await r.get('alias/x'), Uint8Array.of(5));
      symlinkSync(join(dir, 'remote', 'inner', 'x'), join(dir, 'remote', 'inner', 'y'));
      assert.deepEqual(await r.get('inner/y'), Uint8Array.of(5), 'a link in last place that stays inside is followed');
      assert.equal((await r.head('alias/y'))?.size, 1);
      assert.deepEqual(readdirSync(join(dir, 'outside')), ['secret'], 'nothing was written outside');
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
      assert.deepEqual(await r.list('.tmp/'), []);
      assert.deepEqual(await r.list('.t'), []);
      await assert.rejects(r.get('.tmp/fresh.tmp'), is(ErrorCode.BadName), 'the temp directory is not addressable as keys');
      await assert.rejects(r.put('.tmp/x', Uint8Array.of(1)), is(ErrorCode.BadName));
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
      // The child reports each completed put; it is killed while writing the next ones.
      const child = spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { openFolderRemote } from ${JSON.stringify(new URL('./index.js', import.meta.url).href)};
         const r = await openFolderRemote(${JSON.stringify(root)});
         const b = new Uint8Array(${size}).fill(7);
         for (let i = 0; ; i++) { await r.put('objs/o' + (i % 50), b); process.stdout.write('.'); }`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const closed = new Promise((resolve) => child.on('close', resolve));
      await new Promise<void>((resolve) => {
        let done = 0;
        child.stdout.on('data', (d: Buffer) => {
          done += d.length;
          if (done >= 3) resolve();
        });
        void closed.then(() => resolve());
      });
      child.kill('SIGKILL');
      await closed;
      const r = await openFolderRemote(root);
      const listed = await r.list('objs/');
      assert.ok(listed.length > 0, 'the child wrote something before it was killed');
      assert.ok(listed.length >= 3, 'the three reported puts are there');
      const whole = Buffer.alloc(size, 7);
      for (const o of listed) {
        assert.equal(o.size, size, `${o.key} is complete`);
        assert.ok(whole.equals((await r.get(o.key))!), `${o.key} holds what was written`);
      }
      await r.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a valid key whose segment is longer than a file name is KITH_BAD_NAME', async () => {
    const dir = tempDir();
    try {
      const r = await openFolderRemote(join(dir, 'remote'), { create: true });
      await assert.rejects(r.put(`x/${'k'.repeat(300)}`, Uint8Array.of(1)), is(ErrorCode.BadName));
      assert.deepEqual(readdirSync(join(dir, 'remote', '.tmp')), [], 'the temp file is removed');
      await r.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a delete removes directories it leaves empty, except top-level ones; racing puts still land', async () => {
    const dir = tempDir();
    try {
      const root = join(dir, 'remote');
      const r = await openFolderRemote(root, { create: true });
      for (const k of ['segments/d1/000', 'segments/d1/001', 'segments/d2/a/000']) await r.put(k, Uint8Array.of(1));
      await r.delete('segments/d1/000');
      assert.deepEqual(readdirSync(join(root, 'segments')).sort(), ['d1', 'd2']);
      await r.delete('segments/d1/001');
      await r.delete('segments/d2/a/000');
      assert.deepEqual(readdirSync(join(root, 'segments')), [], 'd1, d2 and d2/a are gone');
      await r.put('heads/h', Uint8Array.of(1));
      await r.delete('heads/h');
      assert.deepEqual(readdirSync(root).sort(), ['.tmp', 'heads', 'segments'], 'top-level directories stay');
      // Puts and deletes racing in one directory: every put lands, whichever order mkdir, rename and rmdir run in.
      const other = await openFolderRemote(root);
      for (let i = 0; i < 100; i++) {
        await r.put('g/x/b', Uint8Array.of(1));
        await Promise.all([other.delete('g/x/b'), r.put(`g/x/a${i}`, Uint8Array.of(2)), other.put(`g/y/a${i}`, Uint8Array.of(3))]);
        assert.deepEqual(
          (await r.list('g/')).map((o) => o.key),
          [`g/x/a${i}`, `g/y/a${i}`],
        );
        await Promise.all([r.delete(`g/x/a${i}`), other.delete(`g/y/a${i}`)]);
      }
      assert.deepEqual(readdirSync(join(root, 'g')), []);
      await r.close();
      await other.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a put cancelled while it writes leaves neither the object nor a temp file', async () => {
    const dir = tempDir();
    try {
      const r = await openFolderRemote(join(dir, 'remote'), { create: true });
      await r.put('big/x', Uint8Array.of(1));
      const ac = new AbortController();
      const put = r.put('big/x', new Uint8Array(32 << 20), { signal: ac.signal });
      setImmediate(() => ac.abort());
      await assert.rejects(put, is(ErrorCode.Aborted));
      assert.deepEqual(await r.get('big/x'), Uint8Array.of(1), 'the old object is untouched');
      assert.deepEqual(readdirSync(join(dir, 'remote', '.tmp')), []);
      await r.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a ranged get never allocates more than the object holds', async () => {
    const dir = tempDir();
    try {
      const r = await openFolderRemote(join(dir, 'remote'), { create: true });
      await r.put('r/x', Uint8Array.of(1, 2, 3));
      assert.deepEqual(await r.get('r/x', { range: { offset: 1, length: 2 ** 40 } }), Uint8Array.of(2, 3));
      assert.deepEqual(await r.get('r/x', { range: { offset: 10, length: 5 } }), new Uint8Array(0));
      await r.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('watch fires when an entry of the watched directory changes, filtered by the rest of the prefix', async () => {
    const dir = tempDir();
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const r = await openFolderRemote(join(dir, 'remote'), { create: true });
    const other = await openFolderRemote(join(dir, 'remote'));
    try {
      let onlyB = 0;
      let all = 0;
      const stopB = r.watch('heads/b', () => onlyB++);
      const stopAll = r.watch('heads/', () => all++);
      // Watchers start asynchronously: write until the unfiltered one has seen a change.
      for (let i = 0; all === 0; i++) {
        assert.ok(i < 100, 'the heads/ watcher never fired');
        await other.put('heads/a', Uint8Array.of(i % 256));
        await sleep(20);
      }
      await other.put('heads/a', Uint8Array.of(0));
      await sleep(100);
      assert.equal(onlyB, 0, 'heads/a does not match the prefix heads/b');
      await other.put('heads/bcd', Uint8Array.of(1));
      for (let i = 0; onlyB === 0; i++) {
        assert.ok(i < 100, 'the heads/b watcher never fired');
        await sleep(20);
      }
      stopB();
      stopAll();
      const seen = all;
      await other.put('heads/a', Uint8Array.of(2));
      await sleep(100);
      assert.equal(all, seen, 'a stopped watcher stays quiet');
    } finally {
      await r.close();
      await other.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
