import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kithJson, runKith, type Run } from './test-helpers.js';

type Doc = { id: string; [k: string]: unknown };

/** An error run: exit code, exactly one stderr line in the contract's shape, no stack trace. */
function assertError(r: Run, exit: number, code: string): void {
  assert.equal(r.status, exit, `exit ${r.status}; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one stderr line, got: ${r.stderr}`);
  assert.match(lines[0]!, new RegExp(`^kith: .+ \\(${code}\\)$`));
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.equal(r.stdout, '');
}

describe('kith CLI: two devices over a folder remote', () => {
  let dir: string;
  let remote: string;
  let a: string;
  let b: string;
  let code: string;
  let devA: string;
  let devB: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kith-cli-'));
    remote = join(dir, 'remote');
    a = join(dir, 'a');
    b = join(dir, 'b');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('init prints the vault, device and recovery code; the human form warns to store the code', () => {
    const r = kithJson<{ vaultId: string; deviceId: string; recoveryCode: string }>(a, ['init', '--remote', remote, '--name', 'laptop']);
    assert.match(r.vaultId, /^[0-9a-f]{32}$/);
    assert.match(r.deviceId, /^[0-9a-f]{16}$/);
    assert.match(r.recoveryCode, /^([0-9A-Z]{4}-){7}[0-9A-Z]{4}$/);
    code = r.recoveryCode;
    devA = r.deviceId;
    const human = runKith(join(dir, 'other'), ['init', '--remote', join(dir, 'remote2')]);
    assert.equal(human.status, 0);
    assert.match(human.stdout, /Recovery code .*store it somewhere safe/s);
  });

  test('import is all or nothing; restore joins as a new device; edits flow both ways', () => {
    const file = join(dir, 'notes.jsonl');
    writeFileSync(file, Array.from({ length: 200 }, (_, i) => JSON.stringify({ id: `n${i}`, title: `note ${i}`, n: i, done: i % 3 === 0 })).join('\n') + '\n\n');
    assert.deepEqual(kithJson(a, ['import', 'notes', file]), { imported: 200 });
    assert.deepEqual(kithJson(a, ['push']), { pushed: 200, pulled: 0, conflicts: 0 });
    const wrong = runKith(b, ['restore', '--remote', remote, '--recovery-code', '0000-0000-0000-0000-0000-0000-0000-0000']);
    assertError(wrong, 1, 'KITH_BAD_RECOVERY_CODE');
    const r = kithJson<{ vaultId: string; deviceId: string }>(b, ['restore', '--remote', remote, '--recovery-code', code.toLowerCase(), '--name', 'phone']);
    devB = r.deviceId;
    assert.notEqual(devB, devA);
    assert.deepEqual(kithJson(b, ['pull']), { pushed: 0, pulled: 200, conflicts: 0 });
    assert.deepEqual(kithJson(b, ['get', 'notes', 'n7']), { id: 'n7', title: 'note 7', n: 7, done: false });
    assert.deepEqual(kithJson(b, ['patch', 'notes', 'n7', '{"title":"from phone"}', '--sync']), { ok: true, collection: 'notes', id: 'n7', pushed: 1 });
    kithJson(a, ['rm', 'notes', 'n8', '--sync']);
    kithJson(a, ['put', 'notes', 'n9', '-', '--sync'], '{"title":"replaced"}');
    kithJson(a, ['pull']);
    kithJson(b, ['pull']);
    assert.equal(kithJson<Doc>(a, ['get', 'notes', 'n7'])['title'], 'from phone');
    assertError(runKith(b, ['get', 'notes', 'n8']), 1, 'KITH_NOT_FOUND');
    assert.deepEqual(kithJson(b, ['get', 'notes', 'n9']), { id: 'n9', title: 'replaced' });
    assert.deepEqual(kithJson<Doc[]>(a, ['ls', 'notes']), kithJson<Doc[]>(b, ['ls', 'notes']));
  });

  test('ls filters, orders, limits and pages; big output through a pipe is complete', () => {
    const done = kithJson<Doc[]>(b, ['ls', 'notes', '--where', 'done=true', '--order', '-n', '--limit', '5']);
    assert.deepEqual(done.map((d) => d.id), ['n198', 'n195', 'n192', 'n189', 'n186']);
    assert.equal(kithJson<Doc[]>(b, ['ls', 'notes', '--where', 'title=note 5']).length, 1);
    assert.equal(kithJson<Doc[]>(b, ['ls', 'notes', '--where', 'done=true', '--where', 'n=3']).length, 1);
    assert.equal(kithJson<Doc[]>(b, ['ls', 'notes']).length, 199);
    const human = runKith(b, ['ls', 'notes']);
    assert.equal(human.stdout.trim().split('\n').length, 199);
  });

  test('a concurrent edit is a conflict listed identically on both; --keep, --take and --value resolve it', () => {
    const conflict = (field: string, va: string, vb: string) => {
      kithJson(a, ['patch', 'notes', 'n1', JSON.stringify({ [field]: va })]);
      kithJson(b, ['patch', 'notes', 'n1', JSON.stringify({ [field]: vb })]);
      kithJson(a, ['sync']);
      kithJson(b, ['sync']);
      kithJson(a, ['sync']);
    };
    conflict('title', 'A1', 'B1');
    const ca = kithJson<{ collection: string; id: string; field: string; winner: string; losers: { device: string; value: string }[] }[]>(a, ['conflicts']);
    assert.equal(ca.length, 1);
    assert.deepEqual(ca, kithJson(b, ['conflicts', 'notes']));
    assert.equal(ca[0]!.field, 'title');
    assert.deepEqual(new Set([ca[0]!.winner, ca[0]!.losers[0]!.value]), new Set(['A1', 'B1']));
    assert.equal(kithJson<{ conflicts: number }>(a, ['status']).conflicts, 1);
    kithJson(a, ['resolve', 'notes', 'n1', '--field', 'title', '--keep']);
    kithJson(a, ['sync']);
    kithJson(b, ['sync']);
    assert.deepEqual(kithJson(b, ['conflicts']), []);
    assert.equal(kithJson<Doc>(b, ['get', 'notes', 'n1'])['title'], ca[0]!.winner);

    conflict('title', 'A2', 'B2');
    const loser = kithJson<{ losers: { device: string; value: string }[] }[]>(b, ['conflicts'])[0]!.losers[0]!;
    kithJson(b, ['resolve', 'notes', 'n1', '--take', loser.device]);
    kithJson(b, ['sync']);
    kithJson(a, ['sync']);
    assert.equal(kithJson<Doc>(a, ['get', 'notes', 'n1'])['title'], loser.value);
    assert.deepEqual(kithJson(a, ['conflicts']), []);

    conflict('title', 'A3', 'B3');
    kithJson(a, ['resolve', 'notes', 'n1', '--field', 'title', '--value', '"merged"']);
    kithJson(a, ['sync']);
    kithJson(b, ['sync']);
    assert.equal(kithJson<Doc>(b, ['get', 'notes', 'n1'])['title'], 'merged');
    assert.deepEqual(kithJson(b, ['conflicts']), []);
    assertError(runKith(a, ['resolve', 'notes', 'n1', '--keep']), 1, 'KITH_NO_CONFLICT');
    assertError(runKith(a, ['resolve', 'notes', 'n1', '--keep', '--value', '1']), 2, 'KITH_USAGE');
  });

  test('status and log', () => {
    const s = kithJson<Record<string, unknown>>(a, ['status']);
    assert.deepEqual(Object.keys(s).sort(), ['caughtUp', 'conflicts', 'deviceId', 'deviceName', 'lastPull', 'lastPush', 'pending', 'remote', 'vaultId'].sort());
    assert.equal(s['deviceId'], devA);
    assert.equal(s['deviceName'], 'laptop');
    assert.equal(s['pending'], 0);
    assert.match(String(s['lastPush']), /^\d{4}-\d\d-\d\dT/);
    const log = kithJson<{ hlc: string; device: string; kind: string; fields: string[] }[]>(a, ['log', 'notes', 'n1']);
    assert.ok(log.length >= 8);
    assert.ok(log.some((e) => e.device === devB) && log.some((e) => e.device === devA));
    assert.deepEqual(log.map((e) => e.hlc), [...log.map((e) => e.hlc)].sort());
    assert.deepEqual(kithJson(b, ['log', 'notes', 'n1']), log);
    assert.equal(kithJson<unknown[]>(a, ['log', '--limit', '3']).length, 3);
  });

  test('pairing through the remote with kith pair / kith join (two processes at once)', async () => {
    const { spawn } = await import('node:child_process');
    const { KITH_BIN } = await import('./test-helpers.js');
    const c = join(dir, 'c');
    const pair = spawn(process.execPath, [KITH_BIN, '--home', a, 'pair', '--yes', '--json', '--timeout', '60']);
    const pairExit = new Promise<number | null>((resolve) => pair.on('close', resolve));
    let out = '';
    pair.stdout.setEncoding('utf8');
    const first = await new Promise<string>((resolve) =>
      pair.stdout.on('data', (d: string) => {
        out += d;
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      }),
    );
    const { code: pairing } = JSON.parse(first) as { code: string };
    const joined = kithJson<{ vaultId: string; deviceId: string; sas: string }>(c, ['join', pairing, '--remote', remote, '--name', 'tablet']);
    const exit = await pairExit;
    assert.equal(exit, 0);
    const last = JSON.parse(out.trim().split('\n').at(-1)!) as { deviceId: string; name: string; sas: string };
    assert.equal(last.deviceId, joined.deviceId);
    assert.equal(last.sas, joined.sas, 'both devices showed the same SAS');
    assert.equal(kithJson<Doc>(c, ['pull']) && kithJson<Doc>(c, ['get', 'notes', 'n9'])['title'], 'replaced');
    assertError(runKith(join(dir, 'd'), ['join', pairing, '--remote', remote]), 1, 'KITH_PAIRING_EXPIRED');
    const devices = kithJson<{ deviceId: string; name: string; current: boolean; revoked: boolean }[]>(c, ['devices']);
    assert.deepEqual(devices.map((d) => d.name).sort(), ['laptop', 'phone', 'tablet']);
    assert.equal(devices.find((d) => d.current)?.name, 'tablet');
    // Revoke the tablet from the laptop: it is told so on its next sync.
    kithJson(a, ['devices', 'revoke', joined.deviceId]);
    assertError(runKith(c, ['sync']), 1, 'KITH_REVOKED');
    assert.equal(kithJson<{ revoked: boolean; deviceId: string }[]>(b, ['devices']).find((d) => d.deviceId === joined.deviceId)?.revoked, true);
  });

  test('password restore, wrong password, recovery rotation', () => {
    kithJson(a, ['password', 'set'], 'long enough password\n');
    assertError(runKith(join(dir, 'e'), ['restore', '--remote', remote, '--password'], { input: 'not the password\n' }), 1, 'KITH_WRONG_PASSWORD');
    const e = kithJson<{ deviceId: string }>(join(dir, 'e'), ['restore', '--remote', remote, '--password', '--name', 'by-password'], 'long enough password\n');
    assert.match(e.deviceId, /^[0-9a-f]{16}$/);
    const { recoveryCode } = kithJson<{ recoveryCode: string }>(a, ['recovery', 'rotate']);
    assertError(runKith(join(dir, 'f'), ['restore', '--remote', remote, '--recovery-code', code]), 1, 'KITH_WRONG_RECOVERY_CODE');
    kithJson(join(dir, 'f'), ['restore', '--remote', remote, '--recovery-code', recoveryCode]);
    assert.equal(kithJson<unknown[]>(join(dir, 'f'), ['ls', 'notes']).length, 0);
    kithJson(join(dir, 'f'), ['pull']);
    assert.equal(kithJson<unknown[]>(join(dir, 'f'), ['ls', 'notes']).length, 199);
  });
});

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
    assertError(runKith(join(dir, 'h2'), ['init', '--remote', join(dir, 'remote')]), 1, 'KITH_REMOTE_IN_USE');
    assertError(runKith(join(dir, 'empty'), ['ls', 'notes']), 1, 'KITH_NO_VAULT');
    assertError(runKith(join(dir, 'h5'), ['init', '--remote', 'ftp://example.com/x']), 1, 'KITH_BAD_REMOTE_URL');
    assertError(runKith(join(dir, 'h6'), ['restore', '--remote', join(dir, 'nowhere'), '--recovery-code', 'AAAA']), 1, 'KITH_BAD_RECOVERY_CODE');
  });
});
