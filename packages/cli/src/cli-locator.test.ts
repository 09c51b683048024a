import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseRecoveryCode, vaultLocator } from '@kith/core';
import { spawnRelayProcess, type RelayProcess } from '@kith/relay-server/testing';
import { assertError, kithJson, runKith } from './testing/index.js';

type Created = { vaultId: string; deviceId: string; recoveryCode: string; remote: string };

describe('a vault found on a relay by its recovery code alone', () => {
  let dir: string;
  let relay: RelayProcess;
  const home = (name: string): string => join(dir, name);
  /** Every vault name the relay stores objects under, read from its SQLite file as its operator would. */
  const storedNames = (): string[] => {
    const db = new Database(join(dir, 'relay', 'relay.sqlite'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT DISTINCT vault FROM objects ORDER BY vault').all() as { vault: string }[]).map((r) => r.vault);
    } finally {
      db.close();
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kith-cli-locator-'));
    relay = await spawnRelayProcess(join(dir, 'relay'));
  });
  after(async () => {
    await relay.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('init with only the relay URL; restore elsewhere with that URL and the code; records sync both ways', { timeout: 180_000 }, () => {
    const [a, b] = [home('laptop'), home('browser-like')];
    const created = kithJson<Created>(a, ['init', '--remote', relay.url, '--name', 'laptop']);
    const locator = vaultLocator(created.recoveryCode);
    assert.equal(created.remote, `${relay.url}/${locator}`, 'init says where the vault went');
    assert.match(locator, /^v1\.[a-z2-7]{26}$/);
    kithJson(a, ['put', 'notes', 'n1', '{"title":"written on the laptop"}', '--sync']);

    // The relay stores the vault under the locator, which carries no part of the code.
    assert.deepEqual(storedNames(), [locator]);
    const plain = created.recoveryCode.replace(/-/g, '');
    for (let i = 0; i + 8 <= plain.length; i++) assert.ok(!locator.toUpperCase().includes(plain.slice(i, i + 8)), 'the locator holds a piece of the code');
    assert.ok(!locator.includes(Buffer.from(parseRecoveryCode(created.recoveryCode)).toString('hex')));

    // Home B knows the relay's address (here with a trailing slash) and the code, nothing else.
    const restored = kithJson<{ vaultId: string }>(b, ['restore', '--remote', `${relay.url}/`, '--recovery-code', created.recoveryCode, '--name', 'b']);
    assert.equal(restored.vaultId, created.vaultId);
    kithJson(b, ['sync']);
    assert.deepEqual(kithJson(b, ['get', 'notes', 'n1']), { id: 'n1', title: 'written on the laptop' });
    assert.equal(kithJson<{ remote: string }>(b, ['status']).remote, created.remote, 'B keeps the full URL for later syncs');
    kithJson(b, ['put', 'notes', 'n2', '{"title":"written on B"}', '--sync']);
    kithJson(a, ['sync']);
    assert.deepEqual(kithJson(a, ['get', 'notes', 'n2']), { id: 'n2', title: 'written on B' });
    assert.deepEqual(storedNames(), [locator], 'restoring made no other name');
  });

  test('restoring with --password and no vault name: one line saying the vault URL is needed, nothing asked or made', { timeout: 120_000 }, () => {
    const c = home('password-only');
    const r = runKith(c, ['restore', '--remote', relay.url, '--password'], { input: 'a long enough vault password\n' });
    assertError(r, 2, 'KITH_USAGE');
    assert.match(r.stderr, /--password needs the vault's full URL \(http:\/\/127\.0\.0\.1:\d+\/<vault-name>\)/);
    assertError(runKith(c, ['status']), 1, 'KITH_NO_VAULT');
  });

  test('a path ending in / is where the relay is mounted: under a wrong one, one line says so and nothing is made', { timeout: 120_000 }, () => {
    const g = home('mounted-elsewhere');
    const before = storedNames();
    const r = runKith(g, ['init', '--remote', `${relay.url}/family/`]);
    assertError(r, 1, 'KITH_BAD_REMOTE_URL');
    assert.match(r.stderr, /no relay answers under http:\/\/127\.0\.0\.1:\d+\/family\/; .*drop the '\/' to name a vault/);
    assertError(runKith(g, ['status']), 1, 'KITH_NO_VAULT');
    assert.deepEqual(storedNames(), before);
  });

  // A join has no code to locate the vault with; `http://h/family/` used to mean vault "family" here and a mount point to init.
  test('join with a URL that names only a relay: one line asking for the full URL, nothing made or sent', { timeout: 120_000 }, () => {
    const j = home('join-without-vault');
    const before = storedNames();
    for (const url of [relay.url, `${relay.url}/family/`]) {
      const r = runKith(j, ['join', '123456', '--remote', url]);
      assertError(r, 2, 'KITH_USAGE');
      assert.match(r.stderr, /kith join needs the vault's full URL, and http:\/\/127\.0\.0\.1:\d+(\/family\/)? names only a relay; .*kith status/);
    }
    assertError(runKith(j, ['status']), 1, 'KITH_NO_VAULT');
    assert.deepEqual(storedNames(), before);
  });

  test('a relay URL with a vault name works as before; a code of another vault finds nothing by itself', { timeout: 180_000 }, () => {
    const [d, e, f] = [home('named-1'), home('named-2'), home('stranger')];
    const named = `${relay.url}/family`;
    const created = kithJson<Created>(d, ['init', '--remote', named, '--name', 'd']);
    assert.equal(created.remote, named);
    kithJson(d, ['put', 'notes', 'f1', '{"title":"family"}', '--sync']);
    kithJson(e, ['restore', '--remote', named, '--recovery-code', created.recoveryCode]);
    kithJson(e, ['sync']);
    assert.deepEqual(kithJson(e, ['get', 'notes', 'f1']), { id: 'f1', title: 'family' });
    assert.ok(storedNames().includes('family'));

    // The family vault was not made under its code's locator, so the code alone finds nothing (as a rotated code would).
    const before = storedNames();
    const r = runKith(f, ['restore', '--remote', relay.url, '--recovery-code', created.recoveryCode]);
    assertError(r, 1, 'KITH_REMOTE_EMPTY');
    assert.match(r.stderr, /no vault on http:\/\/127\.0\.0\.1:\d+ was created with this recovery code; .*full URL/);
    assert.deepEqual(storedNames(), before, 'a failed restore leaves nothing on the relay');
    assertError(runKith(f, ['restore', '--remote', relay.url, '--recovery-code', 'ABCD-EFGH']), 1, 'KITH_BAD_RECOVERY_CODE');
  });
});
