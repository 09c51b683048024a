/**
 * `kith compact` through real `kith` processes on a folder remote: a dry
 * run prints what would go and changes nothing; a real run deletes the
 * segments the snapshot covers and both devices acknowledged; both print
 * the contract JSON; a device that then syncs still has everything. Time
 * moves through the testing-only KITH_TEST_CLOCK_OFFSET_MS (see test-clock.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertError, kithJson, runKith } from './testing/index.js';

const HOUR = 3_600_000;

/** `kith ... --json` with this process's clock `hours` ahead. */
function at<T>(hours: number, home: string, args: readonly string[]): T {
  const r = runKith(home, [...args, '--json'], { env: { KITH_TEST_CLOCK_OFFSET_MS: String(hours * HOUR) } });
  if (r.status !== 0) throw new Error(`kith ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as T;
}

/** Every object file under the folder remote, as relative paths. */
const objects = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();

test('kith compact: --dry-run changes nothing, a real run deletes covered segments, both print {"deleted","kept","bytes"}', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-compact-'));
  try {
    const folder = join(dir, 'remote');
    const remote = `file://${folder}`;
    const [a, b] = ['a', 'b'].map((n) => join(dir, n)) as [string, string];
    const { recoveryCode } = kithJson<{ recoveryCode: string }>(a, ['init', '--remote', remote, '--name', 'a']);
    kithJson(b, ['restore', '--remote', remote, '--recovery-code', recoveryCode, '--name', 'b']);
    for (let i = 0; i < 4; i++) {
      at(0, a, ['put', 'notes', `n${i}`, JSON.stringify({ i })]);
      at(0, a, ['sync']);
    }
    at(0, b, ['sync']);
    at(0, a, ['sync']);
    at(0, a, ['snapshot']);
    assertError(runKith(a, ['compact', '--grace-hours', 'soon']), 2, 'KITH_USAGE');
    // Younger than the default grace period of 24 hours: nothing goes (A's four segments and the snapshot stay).
    assert.deepEqual(at(1, a, ['compact']), { deleted: 0, kept: 5, bytes: 0 });
    const before = objects(folder);
    const dry = at<{ deleted: number; kept: number; bytes: number }>(25, a, ['compact', '--dry-run']);
    assert.deepEqual(Object.keys(dry), ['deleted', 'kept', 'bytes']);
    assert.equal(dry.deleted, 3, JSON.stringify(dry));
    assert.ok(dry.bytes > 0);
    assert.deepEqual(objects(folder), before, 'a dry run deletes nothing');
    const real = at<{ deleted: number; kept: number; bytes: number }>(25, a, ['compact']);
    assert.deepEqual(real, dry);
    const segments = objects(folder).filter((k) => k.startsWith('segments/'));
    assert.equal(segments.length, 1, `only A's newest segment stays: ${segments.join(' ')}`);
    // With --grace-hours 0 a fresh snapshot counts at once.
    at(26, b, ['put', 'notes', 'late', '{"x":1}']);
    at(26, b, ['sync']);
    at(26, a, ['sync']);
    at(26, a, ['snapshot']);
    const now = at<{ deleted: number }>(26, a, ['compact', '--grace-hours', '0']);
    assert.ok(now.deleted >= 0);
    assert.deepEqual(
      at<{ id: string }[]>(27, b, ['ls', 'notes']).map((d) => d.id),
      ['late', 'n0', 'n1', 'n2', 'n3'],
    );
    const human = runKith(a, ['compact', '--dry-run'], { env: { KITH_TEST_CLOCK_OFFSET_MS: String(27 * HOUR) } });
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, /would delete \d+ objects/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
