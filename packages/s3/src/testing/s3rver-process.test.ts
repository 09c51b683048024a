import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startS3rver } from './s3rver-process.js';
import { openS3Remote } from '../index.js';

/** True when something answers HTTP at `endpoint`. */
const answers = (endpoint: string): Promise<boolean> =>
  new Promise((resolve) => {
    const req = request(endpoint, { method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });

test('startS3rver: answers on loopback, makes buckets, and stop() ends it and removes its directory', async () => {
  const s3 = await startS3rver();
  assert.match(s3.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(await answers(s3.endpoint));
  assert.ok(existsSync(s3.directory));
  assert.equal(await s3.bucket('named-bucket'), 'named-bucket');
  assert.notEqual(await s3.bucket(), await s3.bucket());
  await s3.stop();
  assert.equal(await answers(s3.endpoint), false);
  assert.equal(existsSync(s3.directory), false);
  await s3.stop(); // twice is harmless
});

test('startS3rver: the server goes away by itself when the process that started it is killed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-'));
  try {
    const script = join(dir, 'parent.mjs');
    const harness = new URL('./s3rver-process.js', import.meta.url).href;
    writeFileSync(
      script,
      `const { startS3rver } = await import(${JSON.stringify(harness)});\nconst s3 = await startS3rver();\nconsole.log(JSON.stringify(s3));\nsetInterval(() => {}, 1000);\n`,
    );
    const parent = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => createInterface({ input: parent.stdout }).once('line', resolve));
    const { endpoint, directory } = JSON.parse(line) as { endpoint: string; directory: string };
    assert.ok(await answers(endpoint));
    parent.kill('SIGKILL');
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      await new Promise((r) => setTimeout(r, 100));
      alive = await answers(endpoint);
    }
    assert.equal(alive, false, 'the orphaned s3rver exited');
    for (let i = 0; i < 20 && existsSync(directory); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(existsSync(directory), false, 'and removed its directory');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('startS3rver: a GET right after a PUT that replaced an object reads the new bytes whole (read-after-write, as S3 and MinIO give)', async () => {
  const s3 = await startS3rver();
  try {
    const remote = await openS3Remote(s3.url(await s3.bucket()));
    for (let round = 0; round < 40; round++) {
      const bytes = new Uint8Array(512 * 1024 + round).fill(round);
      await remote.put('chunk', bytes);
      const back = await remote.get('chunk');
      assert.equal(back?.length, bytes.length, `round ${round}: read ${back?.length} bytes of ${bytes.length}`);
      assert.ok(
        back.every((b) => b === round),
        `round ${round}: other bytes`,
      );
      assert.deepEqual(
        (await remote.list('')).map((o) => o.key),
        ['chunk'],
        'no temporary file is listed',
      );
    }
  } finally {
    await s3.stop();
  }
});
