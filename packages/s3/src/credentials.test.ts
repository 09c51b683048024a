import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, KithError } from '@kith/core';
import { countingRemote } from '@kith/core/adapter';
import { openS3Remote } from './index.js';
import { startS3rver, type S3rverProcess } from './testing/index.js';

// Credentials come only from the standard AWS chain. These tests swap the
// process environment for one with no keys and a fresh HOME, and restore it.
const CHAIN_VARS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_CONFIG_FILE', 'HOME'];
let s3: S3rverProcess;
let home: string;
const saved = new Map<string, string | undefined>();

before(async () => {
  s3 = await startS3rver();
  home = mkdtempSync(join(tmpdir(), 'kith-'));
  for (const v of [...CHAIN_VARS, 'AWS_EC2_METADATA_DISABLED']) saved.set(v, process.env[v]);
  for (const v of CHAIN_VARS) delete process.env[v];
  process.env['HOME'] = home;
  process.env['AWS_EC2_METADATA_DISABLED'] = 'true'; // loopback only: never ask an instance-metadata service
});
after(async () => {
  for (const [v, value] of saved) {
    if (value === undefined) delete process.env[v];
    else process.env[v] = value;
  }
  rmSync(home, { recursive: true, force: true });
  await s3.stop();
});

test('a profile in ~/.aws/credentials, chosen by AWS_PROFILE, is used', async () => {
  mkdirSync(join(home, '.aws'));
  writeFileSync(join(home, '.aws', 'credentials'), '[kith-test]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n');
  process.env['AWS_PROFILE'] = 'kith-test';
  try {
    const r = await openS3Remote(s3.url(await s3.bucket(), 'vault'));
    await r.put('heads/a', Uint8Array.of(1));
    assert.deepEqual(await r.get('heads/a'), Uint8Array.of(1));
    await r.close();
  } finally {
    delete process.env['AWS_PROFILE'];
    rmSync(join(home, '.aws'), { recursive: true, force: true });
  }
});

test('no credentials anywhere is KITH_REMOTE_AUTH on one line, naming what to set, without a retry', async () => {
  const r = countingRemote(await openS3Remote(s3.url(await s3.bucket(), 'vault')));
  await assert.rejects(r.list('heads/'), (e: unknown) => {
    assert.ok(KithError.is(e, ErrorCode.RemoteAuth), String(e));
    assert.ok(!e.message.includes('\n'), e.message);
    assert.match(e.hint ?? '', /AWS_ACCESS_KEY_ID.*AWS_PROFILE/);
    return true;
  });
  assert.equal(r.stats.lists, 1);
  await r.close();
});
