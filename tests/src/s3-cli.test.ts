/**
 * The kith CLI on an S3 remote (a real s3rver process): two devices, sync
 * both ways, pairing, and clear one-line errors for a missing bucket and
 * refused credentials.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startS3rver } from '@kith/s3/testing';
import { KITH_BIN, kith, kithJsonAsync as kithJson } from 'kith/testing';

test('kith over S3: init, restore, sync both ways, pair, and clear errors', { timeout: 180_000 }, async () => {
  const s3 = await startS3rver();
  const dir = mkdtempSync(join(tmpdir(), 'kith-s3-cli-'));
  try {
    const url = s3.url(await s3.bucket(), 'family/vault');
    const [a, b, c] = ['a', 'b', 'c'].map((h) => join(dir, h)) as [string, string, string];
    const { recoveryCode } = await kithJson<{ recoveryCode: string }>(a, ['init', '--remote', url, '--name', 'laptop']);
    await kithJson(a, ['put', 'notes', 'n1', '{"title":"over S3"}', '--sync']);
    await kithJson(b, ['restore', '--remote', url, '--recovery-code', recoveryCode, '--name', 'phone']);
    assert.deepEqual(await kithJson(b, ['sync']), { pushed: 0, pulled: 1, conflicts: 0, warnings: [] });
    await kithJson(b, ['patch', 'notes', 'n1', '{"by":"phone"}', '--sync']);
    await kithJson(a, ['pull']);
    assert.deepEqual(await kithJson(a, ['get', 'notes', 'n1']), { id: 'n1', title: 'over S3', by: 'phone' });
    assert.equal((await kithJson<{ remote: string }>(a, ['status'])).remote, url);

    // Pairing two CLI processes through S3.
    const pair = spawn(process.execPath, [KITH_BIN, '--home', a, 'pair', '--yes', '--json', '--timeout', '60']);
    const pairExit = new Promise<number | null>((resolve) => pair.on('close', resolve));
    let out = '';
    pair.stdout.setEncoding('utf8');
    const code = await new Promise<string>((resolve) =>
      pair.stdout.on('data', (d: string) => {
        out += d;
        if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]!) as { code: string }).code);
      }),
    );
    const joined = await kithJson<{ deviceId: string; sas: string }>(c, ['join', code, '--remote', url, '--name', 'tablet']);
    assert.equal(await pairExit, 0);
    assert.equal((JSON.parse(out.trim().split('\n').at(-1)!) as { sas: string }).sas, joined.sas);
    await kithJson(c, ['pull']);
    assert.equal((await kithJson<{ by: string }>(c, ['get', 'notes', 'n1'])).by, 'phone');

    // Errors stay one line and say what to check.
    const missing = await kith(join(dir, 'd'), ['init', '--remote', s3.url('no-such-bucket-x')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr.trim(), /^kith: the bucket no-such-bucket-x does not exist; create the bucket.* \(KITH_REMOTE_NOT_FOUND\)$/);
    const denied = await kith(join(dir, 'e'), ['init', '--remote', url.replace('family/vault', 'other')], {});
    assert.equal(denied.code, 0, 'sanity: the same bucket with good credentials works');
    const env = { ...process.env, AWS_ACCESS_KEY_ID: 'WRONG', AWS_SECRET_ACCESS_KEY: 'WRONG' };
    const bad = await kith(join(dir, 'f'), ['restore', '--remote', url, '--recovery-code', recoveryCode], { env });
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(bad.stderr, /\(KITH_REMOTE_AUTH\)$/m);
    const inUrl = await kith(join(dir, 'g'), ['init', '--remote', 's3://AKIA:secret@bucket/x']);
    assert.match(inUrl.stderr, /credentials do not belong in the URL.*\(KITH_BAD_REMOTE_URL\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await s3.stop();
  }
});
