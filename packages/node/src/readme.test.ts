import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = new URL('.', import.meta.url); // dist/

test('the README example runs as written: a folder by path, the same folder by a registered scheme, an unknown scheme refused', async () => {
  const readme = readFileSync(new URL('../README.md', here), 'utf8');
  const example = /```js\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Example')))?.[1];
  assert.ok(example, 'README has a js example under "Example"');
  // Inside the package, so `@kith/*` resolve as they would for a user.
  const dir = mkdtempSync(join(fileURLToPath(here), 'readme-'));
  try {
    writeFileSync(join(dir, 'node-example.mjs'), example);
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['node-example.mjs'], { cwd: dir, timeout: 60_000 });
    assert.equal(stdout, "the phone reads { title: 'Hello', id: 'n1' }\nftp: KITH_BAD_REMOTE_URL\n");
    assert.equal(stderr, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
