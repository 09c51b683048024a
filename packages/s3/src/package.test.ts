import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const here = new URL('.', import.meta.url); // dist/

test('the README example runs as written and prints the listing', async () => {
  const readme = readFileSync(new URL('../README.md', here), 'utf8');
  const example = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(example, 'README has a js example');
  // Same code, with the package names pointed at this build.
  const code = example
    .replace(`'@kith/s3/testing'`, JSON.stringify(new URL('testing/index.js', here).href))
    .replace(`'@kith/s3'`, JSON.stringify(new URL('index.js', here).href))
    .replace(/'(@kith\/core(?:\/[a-z]+)?)'/g, (_, spec: string) => JSON.stringify(import.meta.resolve(spec)));
  const dir = mkdtempSync(join(tmpdir(), 'kith-'));
  try {
    const file = join(dir, 'example.mjs');
    writeFileSync(file, code);
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [file], { timeout: 30_000 });
    assert.match(stdout, /heads\/0123456789abcdef/);
    assert.match(stdout, /puts: 1/);
    assert.equal(stderr, '', 'no warning from the SDK or anything else');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('importing @kith/s3 does not load the AWS SDK: only openS3Remote does', () => {
  for (const file of ['index.js', 's3-remote.js', 's3-url.js', 'retry.js', 'sdk.js']) {
    const js = readFileSync(new URL(file, here), 'utf8');
    assert.doesNotMatch(js, /^import[^;]*from ['"]@aws-sdk\//m, `${file} imports the SDK statically`);
  }
  assert.match(readFileSync(new URL('sdk.js', here), 'utf8'), /import\('@aws-sdk\/client-s3'\)/);
});
