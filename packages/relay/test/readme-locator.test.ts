import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = new URL('.', import.meta.url); // dist/
const SECTION = '## A vault found by its recovery code';

test("the README's locator example runs as written: a vault created under its code's locator is restored from the relay address and the code", async () => {
  const readme = readFileSync(new URL('../../README.md', here), 'utf8');
  const example = /```js\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf(SECTION)))?.[1];
  assert.ok(readme.includes(SECTION) && example, `README has a js example under "${SECTION}"`);
  const dir = mkdtempSync(join(fileURLToPath(here), 'readme-locator-')); // inside the package: `@kith/*` resolve as for a user
  try {
    writeFileSync(join(dir, 'locator-example.mjs'), example);
    const run = await promisify(execFile)(process.execPath, ['locator-example.mjs'], { cwd: dir, timeout: 60_000 });
    assert.deepEqual(run, { stdout: "found by the code alone: { title: 'Hello', id: 'n1' }\n", stderr: '' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
