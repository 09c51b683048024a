import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const here = new URL('.', import.meta.url); // dist/

test('the README direct-use example runs as written (in a scratch working directory)', async () => {
  const readme = readFileSync(new URL('../README.md', here), 'utf8');
  const section = readme.slice(readme.indexOf('## Using the store directly'));
  const example = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(example, 'README has a direct-use js example');
  const code = example.replace(`'@kith/sqlite'`, JSON.stringify(new URL('index.js', here).href));
  const dir = mkdtempSync(join(tmpdir(), 'kith-'));
  try {
    writeFileSync(join(dir, 'example.mjs'), code);
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['example.mjs'], { cwd: dir, timeout: 30_000 });
    assert.equal(stdout, "[ 'Milk' ]\n");
    assert.equal(stderr, '');
    assert.equal(statSync(join(dir, 'kith-example', 'kith.db')).mode & 0o777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
