/**
 * The README tour's attachments after its revocation, through real kith
 * processes over a folder remote: a device that has not synced since the
 * laptop revoked the tablet (a new key epoch) reads a blob stored under
 * the new epoch; the revoked tablet is told it was removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kith, kithJsonAsync as kithJson } from 'kith/testing';

test(
  'blob get on a device that has not synced since a revocation reads the new epoch; the revoked device gets KITH_REVOKED',
  { timeout: 300_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kith-blob-epoch-'));
    try {
      const remote = join(dir, 'remote');
      const [a, b, c] = ['a', 'b', 'c'].map((n) => join(dir, n)) as [string, string, string];
      const { recoveryCode } = await kithJson<{ recoveryCode: string }>(a, ['init', '--remote', remote, '--name', 'laptop']);
      await kithJson(a, ['put', 'notes', 'n1', '{"title":"Groceries"}', '--sync']);
      await kithJson(b, ['restore', '--remote', remote, '--recovery-code', recoveryCode]);
      await kithJson(b, ['sync']);
      const tablet = await kithJson<{ deviceId: string }>(c, ['restore', '--remote', remote, '--recovery-code', recoveryCode, '--name', 'tablet']);
      await kithJson(a, ['devices', 'revoke', tablet.deviceId]);
      const photo = join(dir, 'photo.jpg');
      writeFileSync(photo, randomBytes(600_000));
      const { ref } = await kithJson<{ ref: string }>(a, ['blob', 'put', photo]);
      // B last synced before the revocation.
      const copy = join(dir, 'photo-copy.jpg');
      await kithJson(b, ['blob', 'get', ref, '-o', copy]);
      assert.deepEqual(readFileSync(copy), readFileSync(photo));
      const refused = await kith(c, ['blob', 'get', ref, '-o', join(dir, 'stolen.jpg')]);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /^kith: .*\(KITH_REVOKED\)\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
