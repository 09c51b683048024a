import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertError, KITH_BIN, kithJson, runKith } from './testing/index.js';

type Doc = { id: string; [k: string]: unknown };

describe('kith CLI: more devices by pairing, password and recovery code', () => {
  let dir: string;
  let remote: string;
  let a: string;
  let b: string;
  let code: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kith-cli-pair-'));
    remote = join(dir, 'remote');
    a = join(dir, 'a');
    b = join(dir, 'b');
    code = kithJson<{ recoveryCode: string }>(a, ['init', '--remote', remote, '--name', 'laptop']).recoveryCode;
    const notes = [
      { id: 'n1', title: 'one' },
      { id: 'n2', title: 'two' },
      { id: 'n9', title: 'replaced' },
    ];
    kithJson(a, ['import', 'notes', '-'], notes.map((n) => JSON.stringify(n)).join('\n'));
    kithJson(a, ['push']);
    kithJson(b, ['restore', '--remote', remote, '--recovery-code', code, '--name', 'phone']);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('pairing through the remote with kith pair / kith join (two processes at once)', async () => {
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
    assert.equal(kithJson<unknown[]>(join(dir, 'f'), ['ls', 'notes']).length, 3);
  });
});
