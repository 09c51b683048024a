import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { assertError, kithJson, KITH_BIN, runKith, type Run } from './testing/index.js';

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

  test('values that would change on the way are refused with one line and nothing is written', () => {
    const refused = (r: Run, what: RegExp): void => {
      assertError(r, 1, 'KITH_BAD_INPUT');
      assert.match(r.stderr, what);
    };
    refused(runKith(home, ['put', 'vals', 'v', '{"x":[1,1e999]}']), /"\/x\/1" is Infinity: numbers must be finite/);
    refused(runKith(home, ['put', 'vals', 'v', '{"x":"\\ud800"}']), /lone surrogate/);
    refused(runKith(home, ['put', 'vals', 'v', '{"\\udfff":1}']), /lone surrogate/);
    const deep = runKith(home, ['put', 'vals', 'v', '-'], { input: '{"a":'.repeat(5000) + '1' + '}'.repeat(5000) });
    refused(deep, /nests deeper than 64 levels/);
    assert.doesNotMatch(deep.stderr, /call stack/);
    // Invalid UTF-8 on stdin, in a file and in an argument: refused, never turned into U+FFFD.
    const badUtf8 = Buffer.concat([Buffer.from('{"x":"caf'), Buffer.from([0xc3]), Buffer.from('"}')]);
    refused(runKith(home, ['put', 'vals', 'v', '-'], { input: badUtf8 }), /stdin is not valid UTF-8/);
    refused(
      runKith(home, ['import', 'vals', '-'], { input: Buffer.concat([Buffer.from('{"id":"ok"}\n{"id":"v",'), badUtf8.subarray(1), Buffer.from('\n')]) }),
      /line 2: not valid UTF-8/,
    );
    const file = join(dir, 'latin1.jsonl');
    writeFileSync(file, Buffer.concat([Buffer.from('{"id":"v","x":"caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]));
    refused(runKith(home, ['import', 'vals', file]), /line 1: not valid UTF-8/);
    refused(runKith(home, ['import', 'vals', '-'], { input: '{"id":"a"}\n\n{"id":"b","n":{"m":-1e400}}\n' }), /^kith: line 3: value at "\/n\/m" is -Infinity/);
    // The shell passes the raw byte 0xE9 (octal 351) that a JS string cannot hold.
    const r = spawnSync('/bin/sh', ['-c', `exec "$0" "$1" --home "$2" put vals v "$(printf '{"x":"caf\\351"}')"`, process.execPath, KITH_BIN, home], {
      encoding: 'utf8',
    });
    refused({ status: r.status, stdout: r.stdout, stderr: r.stderr }, /argument 6 is not valid UTF-8/);
    // Patch does not create a record (put does).
    assertError(runKith(home, ['patch', 'vals', 'v', '{"x":1}']), 1, 'KITH_NOT_FOUND');
    assert.deepEqual(kithJson(home, ['ls', 'vals']), []);
    // U+FFFD itself, sent as valid UTF-8, is just a character.
    kithJson(home, ['put', 'vals', 'ok', '{"x":"\ufffd"}']);
    assert.deepEqual(kithJson(home, ['get', 'vals', 'ok']), { x: '\ufffd', id: 'ok' });
  });

  test('field names that are Object.prototype members, and __proto__, go through put, patch, import, get and ls --where unchanged', () => {
    kithJson(home, ['put', 'proto', 'a', '{"constructor":1,"__proto__":{"p":1},"toString":"t"}']);
    kithJson(home, ['patch', 'proto', 'a', '{"__proto__":2,"valueOf":[3]}']);
    assert.deepEqual(kithJson(home, ['import', 'proto', '-'], '{"id":"b","hasOwnProperty":true,"__proto__":null}\n'), { imported: 1 });
    assert.equal(runKith(home, ['get', 'proto', 'a', '--json']).stdout, '{"__proto__":2,"constructor":1,"toString":"t","valueOf":[3],"id":"a"}\n');
    assert.equal(runKith(home, ['get', 'proto', 'b', '--json']).stdout, '{"__proto__":null,"hasOwnProperty":true,"id":"b"}\n');
    assert.deepEqual(
      kithJson<{ id: string }[]>(home, ['ls', 'proto', '--where', '__proto__=2']).map((d) => d.id),
      ['a'],
    );
    assert.deepEqual(
      kithJson<{ id: string }[]>(home, ['ls', 'proto', '--where', 'constructor=null']).map((d) => d.id),
      ['b'],
    );
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
