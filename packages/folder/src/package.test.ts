import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const here = new URL('.', import.meta.url); // dist/

test('the README example runs as written (in a scratch working directory)', async () => {
  const readme = readFileSync(new URL('../README.md', here), 'utf8');
  const example = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(example, 'README has a js example');
  const code = example
    .replace(`'@kith/folder'`, JSON.stringify(new URL('index.js', here).href))
    .replace(/'(@kith\/core(?:\/[a-z]+)?)'/g, (_, spec: string) => JSON.stringify(import.meta.resolve(spec)));
  const dir = mkdtempSync(join(tmpdir(), 'kith-'));
  try {
    writeFileSync(join(dir, 'example.mjs'), code);
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['example.mjs'], { cwd: dir, timeout: 30_000 });
    assert.match(stdout, /heads\/0123456789abcdef/);
    assert.match(stdout, /puts: 1/);
    assert.equal(stderr, '');
    assert.deepEqual(readFileSync(join(dir, 'kith-remote', 'heads', '0123456789abcdef')), Buffer.from([1, 2, 3]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
