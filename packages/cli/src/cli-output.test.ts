/**
 * What the CLI prints where: JSON errors under --json, round lines of
 * `sync --watch` on stdout, the same wording for every `--sync` write,
 * progress bars that end at 100 % on their own line, and relay ports no
 * client could reach refused up front.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { assertError, KITH_BIN, kithJson, onTerminal, runKith } from './testing/index.js';

describe('kith CLI: output in its place', { timeout: 180_000 }, () => {
  let dir: string;
  let a: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kith-output-'));
    a = join(dir, 'a');
    kithJson(a, ['init', '--remote', join(dir, 'remote')]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('with --json an error is one JSON object on stderr: {"error":{"code","message","hint"}}', () => {
    const missing = runKith(join(dir, 'nothing'), ['ls', 'notes', '--json']);
    assert.equal(missing.status, 1);
    assert.equal(missing.stdout, '');
    assert.equal(missing.stderr.trimEnd().split('\n').length, 1);
    const { error } = JSON.parse(missing.stderr) as { error: { code: string; message: string; hint?: string } };
    assert.equal(error.code, 'KITH_NO_VAULT');
    assert.match(error.message, /^no vault in /);
    assert.match(error.hint ?? '', /kith init/);
    const usage = runKith(a, ['frobnicate', '--json']);
    assert.equal(usage.status, 2);
    assert.equal((JSON.parse(usage.stderr) as { error: { code: string } }).error.code, 'KITH_USAGE');
    const bad = runKith(a, ['put', 'notes', 'x', '[1]', '--json']);
    assert.deepEqual(Object.keys((JSON.parse(bad.stderr) as { error: object }).error), ['code', 'message']);
  });

  test('put --sync and rm --sync say the same kind of thing', () => {
    assert.equal(runKith(a, ['put', 'notes', 'n1', '{"t":1}', '--sync']).stdout, 'saved and pushed 1 change(s)\n');
    assert.equal(runKith(a, ['rm', 'notes', 'n1', '--sync']).stdout, 'deleted and pushed 1 change(s)\n');
    runKith(a, ['put', 'notes', 'n2', '{"t":2}']);
    assert.equal(runKith(a, ['rm', 'notes', 'n2']).stdout, 'deleted\n');
  });

  test('sync --watch in text mode prints its rounds on stdout', async () => {
    const child = spawn(process.execPath, [KITH_BIN, '--home', a, 'sync', '--watch', '--interval', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.match(line, /^\d{4}-\d\d-\d\dT\S+ pushed \d+, pulled \d+, conflicts \d+$/);
    assert.doesNotMatch(stderr, /pushed/);
  });

  test('relay serve refuses a port fetch refuses; a client refuses such a URL at once', () => {
    const data = join(dir, 'relay-data');
    for (const port of ['6000', '6666', '10080']) {
      const r = runKith(a, ['relay', 'serve', '--port', port, '--data', data]);
      assertError(r, 2, 'KITH_USAGE');
      assert.match(r.stderr, new RegExp(`port ${port} is one that browsers and fetch refuse`));
    }
    assert.ok(!existsSync(data), 'nothing created');
    const client = runKith(join(dir, 'c'), ['init', '--remote', 'http://127.0.0.1:6667/family']);
    assertError(client, 1, 'KITH_BAD_REMOTE_URL');
    assert.match(client.stderr, /port 6667/);
  });

  test('on a terminal, a transfer bar ends at 100 % (sizes that are no whole MiB too) and the result starts its own line', async () => {
    const file = join(dir, 'odd.bin');
    // 5.5 MiB of incompressible bytes: the MiB count is no whole number.
    writeFileSync(file, createCipheriv('aes-256-ctr', Buffer.alloc(32, 1), Buffer.alloc(16)).update(Buffer.alloc(5.5 * 1048576)));
    const put = onTerminal(a, ['blob', 'put', file]);
    assert.equal(await put.exited, 0, put.screen());
    assert.match(put.screen(), /uploading \[[^\]]*\] 100% 5\.5\/5\.5 MiB/);
    assert.match(put.screen(), /(^|\n)kith:blob:[0-9a-f]{64}\r?\n/);
    const ref = /kith:blob:[0-9a-f]{64}/.exec(put.screen())![0];
    const get = onTerminal(a, ['blob', 'get', ref, '-o', join(dir, 'odd.out')]);
    assert.equal(await get.exited, 0, get.screen());
    assert.match(get.screen(), /downloading \[[^\]]*\] 100% 5\.5\/5\.5 MiB/);
    assert.match(get.screen(), /(^|\n)wrote 5767168 bytes to /);
  });
});
