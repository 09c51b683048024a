import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runKith } from './testing/index.js';

test('a home sealed by a local passphrase: 0600 store, locked without it, one-line errors, removable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-pass-'));
  try {
    const home = join(dir, 'h');
    const env = { KITH_PASSPHRASE: 'local secret' };
    const init = runKith(home, ['init', '--remote', join(dir, 'r'), '--local-passphrase', '--json'], { env });
    assert.equal(init.status, 0, init.stderr);
    assert.equal(statSync(join(home, 'kith.db')).mode & 0o777, 0o600);
    const { recoveryCode } = JSON.parse(init.stdout) as { recoveryCode: string };
    assert.ok(recoveryCode);
    assert.equal(runKith(home, ['put', 'n', 'x', '{"a":1}'], { env }).status, 0);
    const locked = runKith(home, ['get', 'n', 'x'], { env: { KITH_PASSPHRASE: '' } });
    assert.equal(locked.status, 1);
    assert.match(locked.stderr, /^kith: .*\(KITH_LOCKED\)\n$/);
    const wrong = runKith(home, ['get', 'n', 'x'], { env: { KITH_PASSPHRASE: 'nope' } });
    assert.match(wrong.stderr, /^kith: .*\(KITH_WRONG_PASSPHRASE\)\n$/);
    assert.equal(runKith(home, ['sync'], { env }).status, 0);
    // The device's signing seed is not in the database file in clear.
    const db = readFileSync(join(home, 'kith.db')).toString('latin1');
    assert.ok(!/"signSeed":"[A-Za-z0-9+/]{20,}/.test(db));
    assert.equal(runKith(home, ['passphrase', 'remove'], { env }).status, 0);
    assert.equal(runKith(home, ['get', 'n', 'x'], { env: { KITH_PASSPHRASE: '' } }).status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
