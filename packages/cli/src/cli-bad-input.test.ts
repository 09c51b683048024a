import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertError, kithJson, runKith } from './test-helpers.js';

describe('kith CLI: bad input', () => {
  let dir: string;
  let home: string;
  let recoveryCode: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kith-cli-bad-'));
    home = join(dir, 'h');
    recoveryCode = kithJson<{ recoveryCode: string }>(home, ['init', '--remote', join(dir, 'remote')]).recoveryCode;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('usage errors exit 2 with one line', () => {
    assertError(runKith(home, ['frobnicate']), 2, 'KITH_USAGE');
    assertError(runKith(home, []), 2, 'KITH_USAGE');
    assertError(runKith(home, ['blob']), 2, 'KITH_USAGE');
    assertError(runKith(home, ['sync', '--watch', '--interval', '0']), 2, 'KITH_USAGE');
    assertError(runKith(home, ['relay', 'serve', '--port', '70000']), 2, 'KITH_USAGE');
    assertError(runKith(home, ['relay', 'serve', '--port', 'http']), 2, 'KITH_USAGE');
    assertError(runKith(home, ['get', 'notes', 'x', 'extra']), 2, 'KITH_USAGE');
    const help = runKith(home, ['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: kith /);
    assertError(runKith(home, ['put', 'notes']), 2, 'KITH_USAGE');
    assertError(runKith(home, ['ls', 'notes', '--bogus']), 2, 'KITH_USAGE');
    assertError(runKith(home, ['ls', 'notes', '--limit', 'x']), 2, 'KITH_USAGE');
    assertError(runKith(home, ['ls', 'notes', '--where', 'novalue']), 2, 'KITH_USAGE');
    assertError(runKith(home, ['restore', '--remote', dir]), 2, 'KITH_USAGE');
  });

  test('bad JSON and non-object JSON are refused and write nothing', () => {
    assertError(runKith(home, ['put', 'notes', 'x', '{not json']), 1, 'KITH_BAD_INPUT');
    assertError(runKith(home, ['put', 'notes', 'x', '[1,2]']), 1, 'KITH_BAD_INPUT');
    assertError(runKith(home, ['put', 'notes', 'x', '-'], { input: '"text"' }), 1, 'KITH_BAD_INPUT');
    assertError(runKith(home, ['patch', 'notes', 'x', 'null']), 1, 'KITH_BAD_INPUT');
    assertError(runKith(home, ['put', 'notes', 'x', '{"id":"other"}']), 1, 'KITH_BAD_INPUT');
    assertError(runKith(home, ['get', 'notes', 'x']), 1, 'KITH_NOT_FOUND');
    assertError(runKith(home, ['rm', 'notes', 'x']), 1, 'KITH_NOT_FOUND');
  });

  test('a bad JSON Lines line names its line number and nothing is imported', () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, '{"id":"a","v":1}\n{"id":"b","v":2}\n{"v":3}\n{"id":"d"}\n');
    const r = runKith(home, ['import', 'notes', file]);
    assertError(r, 1, 'KITH_BAD_INPUT');
    assert.match(r.stderr, /line 3/);
    writeFileSync(file, '{"id":"a"}\nnot json\n');
    assert.match(runKith(home, ['import', 'notes', file]).stderr, /line 2/);
    assertError(runKith(home, ['import', 'notes', join(dir, 'missing.jsonl')]), 1, 'KITH_BAD_INPUT');
    assertError(runKith(home, ['import', 'notes', '-'], { input: '{"id":"../evil"}\n' }), 1, 'KITH_BAD_NAME');
    assert.deepEqual(kithJson(home, ['ls', 'notes']), []);
  });

  test('path-like collection names and ids are refused', () => {
    for (const [coll, id] of [
      ['..', 'x'],
      ['a/b', 'x'],
      ['notes', '..'],
      ['notes', 'a/b'],
      ['notes', '.'],
      ['/etc', 'x'],
      ['notes', 'a\\b'],
    ]) {
      assertError(runKith(home, ['put', coll!, id!, '{}']), 1, 'KITH_BAD_NAME');
    }
    assertError(runKith(home, ['put', '', 'x', '{}']), 1, 'KITH_BAD_NAME');
    assertError(runKith(home, ['put', 'notes', '', '{}']), 1, 'KITH_BAD_NAME');
    assertError(runKith(home, ['import', 'notes', '-'], { input: '{"id":"a\\u0000b"}\n' }), 1, 'KITH_BAD_NAME');
    assertError(runKith(home, ['ls', '../x']), 1, 'KITH_BAD_NAME');
  });

  test('a 30 MB value is refused with KITH_TOO_LARGE and nothing is written; a 10 MB value round-trips through sync', () => {
    const big = JSON.stringify({ blob: 'x'.repeat(30 * 1024 * 1024) });
    assertError(runKith(home, ['put', 'files', 'big', '-'], { input: big }), 1, 'KITH_TOO_LARGE');
    assertError(runKith(home, ['get', 'files', 'big']), 1, 'KITH_NOT_FOUND');
    assert.equal(kithJson<{ pending: number }>(home, ['status']).pending, 0);
    const ten = 'y'.repeat(10 * 1024 * 1024);
    kithJson(home, ['put', 'files', 'ten', '-', '--sync'], JSON.stringify({ blob: ten }));
    const other = join(dir, 'other');
    kithJson(other, ['restore', '--remote', join(dir, 'remote'), '--recovery-code', recoveryCode]);
    kithJson(other, ['pull']);
    assert.equal(kithJson<{ blob: string }>(other, ['get', 'files', 'ten']).blob.length, ten.length);
  });

  test('init twice, init on a remote in use, commands without a vault, a remote URL of unknown kind', () => {
    assertError(runKith(home, ['init', '--remote', join(dir, 'remote9')]), 1, 'KITH_VAULT_EXISTS');
    assert.equal(existsSync(join(dir, 'remote9')), false);
    assertError(runKith(home, ['restore', '--remote', join(dir, 'remote'), '--recovery-code', recoveryCode]), 1, 'KITH_VAULT_EXISTS');
    assertError(runKith(join(dir, 'h2'), ['init', '--remote', join(dir, 'remote')]), 1, 'KITH_REMOTE_IN_USE');
    assertError(runKith(join(dir, 'empty'), ['ls', 'notes']), 1, 'KITH_NO_VAULT');
    assert.equal(existsSync(join(dir, 'empty')), false, 'a command on a home without a vault does not create it');
    assertError(runKith(join(dir, 'h5'), ['init', '--remote', 'ftp://example.com/x']), 1, 'KITH_BAD_REMOTE_URL');
    // Failed inits leave the home usable.
    kithJson(join(dir, 'h5'), ['init', '--remote', join(dir, 'remote5')]);
    assertError(runKith(join(dir, 'h6'), ['restore', '--remote', join(dir, 'nowhere'), '--recovery-code', 'AAAA']), 1, 'KITH_BAD_RECOVERY_CODE');
  });
});
