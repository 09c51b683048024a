import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, KithError } from '@kith/core/adapter';
import { folderError } from './folder-errors.js';
import { openFolderRemote } from './index.js';

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: something, open '/x'\nsecond line`), { code });

describe('folder errors', () => {
  test('errno codes map to the contract codes, in one line, with the cause attached', () => {
    const cases: [string, ErrorCode, RegExp][] = [
      ['ENOSPC', ErrorCode.RemoteUnavailable, /^disk full while writing k \(ENOSPC\)$/],
      ['EDQUOT', ErrorCode.RemoteUnavailable, /^disk full/],
      ['EACCES', ErrorCode.RemoteAuth, /^permission denied while writing k \(EACCES\)$/],
      ['EPERM', ErrorCode.RemoteAuth, /^permission denied/],
      ['EROFS', ErrorCode.RemoteAuth, /read-only/],
      ['ENAMETOOLONG', ErrorCode.BadName, /too long for this file system/],
      ['EIO', ErrorCode.RemoteUnavailable, /^the remote folder failed while writing k \(EIO\)$/],
    ];
    for (const [code, expected, message] of cases) {
      const cause = errno(code);
      const e = folderError(cause, 'writing k');
      assert.equal(e.code, expected, code);
      assert.match(e.message, message);
      assert.ok(e.hint, `${code} has a hint`);
      assert.equal(e.cause, cause);
    }
    const plain = folderError(new Error('odd\nfailure'), 'listing');
    assert.equal(plain.message, 'the remote folder failed while listing (odd)');
    const kith = new KithError(ErrorCode.BadName, 'bad');
    assert.equal(folderError(kith, 'x'), kith, 'KithErrors pass through');
  });

  test('a full disk (1 MiB tmpfs) is KITH_REMOTE_UNAVAILABLE "disk full", leaves nothing behind, and a read-only one KITH_REMOTE_AUTH', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kith-'));
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    try {
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { stdio: 'pipe' });
      } catch (e) {
        t.skip(`cannot mount a tmpfs here (needs root and mount permission): ${String((e as Error).message).split('\n')[0]}`);
        return;
      }
      try {
        const r = await openFolderRemote(join(mnt, 'remote'), { create: true });
        await r.put('small/a', Uint8Array.of(1, 2, 3));
        await assert.rejects(r.put('big/b', new Uint8Array(2 << 20).fill(1)), (e: unknown) => {
          assert.ok(KithError.is(e, ErrorCode.RemoteUnavailable), String(e));
          assert.match(e.message, /^disk full while writing big\/b/);
          assert.equal((e.cause as NodeJS.ErrnoException).code, 'ENOSPC');
          return true;
        });
        assert.deepEqual(
          (await r.list('')).map((o) => o.key),
          ['small/a'],
          'no partial object',
        );
        assert.deepEqual(readdirSync(join(mnt, 'remote', '.tmp')), [], 'the temp file is removed');
        await r.put('small/c', Uint8Array.of(4), {});
        assert.deepEqual(await r.get('small/c'), Uint8Array.of(4), 'the remote still works');
        execFileSync('mount', ['-o', 'remount,ro', mnt], { stdio: 'pipe' });
        await assert.rejects(r.put('small/d', Uint8Array.of(5)), (e: unknown) => KithError.is(e, ErrorCode.RemoteAuth) && /read-only/.test(e.message));
        assert.deepEqual(await r.get('small/a'), Uint8Array.of(1, 2, 3), 'reads still work');
        await r.close();
      } finally {
        execFileSync('umount', [mnt], { stdio: 'pipe' });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
