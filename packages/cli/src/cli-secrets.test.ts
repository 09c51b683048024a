/**
 * Secrets on a terminal: typed passwords, passphrases and recovery codes
 * are never echoed, new ones are asked twice, and a recovery code need
 * not appear on the command line.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertError, kithJson, onTerminal, runKith } from './testing/index.js';

describe('kith CLI: secrets are typed unseen', { timeout: 240_000 }, () => {
  let dir: string;
  let remote: string;
  let a: string;
  let recoveryCode: string;
  const PASSWORD = 'tulip orbit canvas 42';

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kith-secrets-'));
    remote = join(dir, 'remote');
    a = join(dir, 'a');
    recoveryCode = kithJson<{ recoveryCode: string }>(a, ['init', '--remote', remote]).recoveryCode;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('password set asks twice with echo off; restore --password asks once, unseen', async () => {
    const set = onTerminal(a, ['password', 'set']);
    await set.waitFor(/new vault password: $/);
    set.type(`${PASSWORD}\r`);
    await set.waitFor(/new vault password again: $/);
    set.type(`${PASSWORD}\r`);
    assert.equal(await set.exited, 0, set.screen());
    assert.match(set.screen(), /password set/);
    assert.ok(!set.screen().includes('tulip'), `echoed: ${JSON.stringify(set.screen())}`);

    const restore = onTerminal(join(dir, 'b'), ['restore', '--remote', remote, '--password']);
    await restore.waitFor(/vault password: $/);
    restore.type(`${PASSWORD}\r`);
    assert.equal(await restore.exited, 0, restore.screen());
    assert.match(restore.screen(), /Joined vault/);
    assert.ok(!restore.screen().includes('tulip'), `echoed: ${JSON.stringify(restore.screen())}`);
  });

  test('two different entries change nothing; a weak password is refused before the second entry', async () => {
    const change = onTerminal(a, ['password', 'change']);
    await change.waitFor(/new vault password: $/);
    change.type('a different passphrase\r');
    await change.waitFor(/again: $/);
    change.type('a different passphrase!\r');
    assert.equal(await change.exited, 1);
    assert.match(change.screen(), /kith: the two new vault password entries differ; nothing was changed.*\(KITH_BAD_INPUT\)/);
    // The old password still opens the vault.
    kithJson(join(dir, 'c'), ['restore', '--remote', remote, '--password'], `${PASSWORD}\n`);

    const weak = onTerminal(a, ['password', 'change']);
    await weak.waitFor(/new vault password: $/);
    weak.type('password123\r');
    assert.equal(await weak.exited, 1);
    assert.match(weak.screen(), /too easy to guess.*\(KITH_WEAK_PASSWORD\)/);
    assert.doesNotMatch(weak.screen(), /again/);
    assertError(runKith(a, ['password', 'set'], { input: 'password123\n' }), 1, 'KITH_WEAK_PASSWORD');
  });

  test('init --local-passphrase: asked twice unseen; a mismatch leaves no home and no remote behind', async () => {
    const home = join(dir, 'sealed');
    const other = join(dir, 'remote2');
    const bad = onTerminal(home, ['init', '--remote', other, '--local-passphrase']);
    await bad.waitFor(/local passphrase for this device: $/);
    bad.type('mango river\r');
    await bad.waitFor(/again: $/);
    bad.type('mango rivet\r');
    assert.equal(await bad.exited, 1);
    assert.match(bad.screen(), /differ; nothing was changed/);
    assert.ok(!existsSync(home) && !existsSync(other), 'nothing created');

    const good = onTerminal(home, ['init', '--remote', other, '--local-passphrase']);
    await good.waitFor(/local passphrase for this device: $/);
    good.type('mango river\r');
    await good.waitFor(/again: $/);
    good.type('mango river\r');
    assert.equal(await good.exited, 0, good.screen());
    assert.ok(!good.screen().includes('mango'), `echoed: ${JSON.stringify(good.screen())}`);
    assert.equal(runKith(home, ['status', '--json'], { env: { KITH_PASSPHRASE: 'mango river' } }).status, 0);
  });

  test('the recovery code from a hidden prompt (--recovery-code -), piped stdin, or $KITH_RECOVERY_CODE', async () => {
    const typed = onTerminal(join(dir, 'r1'), ['restore', '--remote', remote, '--recovery-code', '-']);
    await typed.waitFor(/recovery code: $/);
    typed.type(`${recoveryCode}\r`);
    assert.equal(await typed.exited, 0, typed.screen());
    assert.ok(!typed.screen().includes(recoveryCode.slice(0, 9)), `echoed: ${JSON.stringify(typed.screen())}`);

    kithJson(join(dir, 'r2'), ['restore', '--remote', remote, '--recovery-code', '-'], `${recoveryCode}\n`);
    const env = runKith(join(dir, 'r3'), ['restore', '--remote', remote, '--json'], { env: { KITH_RECOVERY_CODE: recoveryCode } });
    assert.equal(env.status, 0, env.stderr);
    assertError(runKith(join(dir, 'r4'), ['restore', '--remote', remote], { env: { KITH_RECOVERY_CODE: '' } }), 2, 'KITH_USAGE');
    assertError(runKith(join(dir, 'r5'), ['restore', '--remote', remote, '--recovery-code', '-'], { input: 'AAAA\n' }), 1, 'KITH_BAD_RECOVERY_CODE');
  });
});
