import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = new URL('.', import.meta.url); // dist/

test('the README example runs as written: the relay answers its health check and refuses a request without a token', async () => {
  const readme = readFileSync(new URL('../README.md', here), 'utf8');
  const example = /```js\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Run it')))?.[1];
  assert.ok(example, 'README has a js example under "Run it"');
  const dir = mkdtempSync(join(fileURLToPath(here), 'readme-'));
  try {
    writeFileSync(join(dir, 'relay-server-example.mjs'), example);
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['relay-server-example.mjs'], { cwd: dir, timeout: 30_000 });
    assert.equal(stdout, 'health: { ok: true }\nwithout a token: 401 KITH_REMOTE_AUTH\n');
    assert.equal(stderr, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
