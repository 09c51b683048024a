/**
 * `kith retention` through real `kith` processes on a folder remote: a rule
 * set on A reaches B; expired records vanish on every device, including one
 * that was offline (never ran) while they expired. Time moves through the
 * testing-only KITH_TEST_CLOCK_OFFSET_MS (see test-clock.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertError, kithJson, runKith } from './testing/index.js';

const DAY = 86_400_000;

/** `kith ... --json` with this process's clock `days` ahead. */
function at<T>(days: number, home: string, args: readonly string[]): T {
  const r = runKith(home, [...args, '--json'], { env: { KITH_TEST_CLOCK_OFFSET_MS: String(days * DAY) } });
  if (r.status !== 0) throw new Error(`kith ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as T;
}
const ids = (days: number, home: string): string[] => at<{ id: string }[]>(days, home, ['ls', 'msgs']).map((d) => d.id);

test('kith retention: a rule set on A reaches B and C; expired records vanish everywhere, also on C that was offline', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-retention-'));
  try {
    const remote = `file://${join(dir, 'remote')}`;
    const [a, b, c] = ['a', 'b', 'c'].map((n) => join(dir, n)) as [string, string, string];
    const { recoveryCode } = kithJson<{ recoveryCode: string }>(a, ['init', '--remote', remote, '--name', 'a']);
    for (const home of [b, c]) kithJson(home, ['restore', '--remote', remote, '--recovery-code', recoveryCode, '--name', home.slice(-1)]);
    at(0, a, ['put', 'msgs', 'old', '{"text":"old"}']);
    at(0, a, ['put', 'notes', 'n', '{"text":"no rule"}']);
    assert.deepEqual(at(0, a, ['retention', 'msgs', '--days', '30']), { ok: true });
    at(0, a, ['sync']);
    for (const home of [b, c]) at(0, home, ['sync']);
    assert.deepEqual(at(0, b, ['retention']), { rules: [{ collection: 'msgs', days: 30 }] });
    assert.deepEqual(ids(0, c), ['old']);
    // 20 days on, B writes a newer message; C goes offline (is never run) until day 60.
    at(20, b, ['put', 'msgs', 'new', '{"text":"new"}']);
    at(20, b, ['sync']);
    at(20, a, ['sync']);
    // Day 31: A notices the old message expired and says so through the remote; B follows.
    at(31, a, ['sync']);
    assert.deepEqual(ids(31, a), ['new']);
    at(31, b, ['sync']);
    assert.deepEqual(ids(31, b), ['new']);
    assert.deepEqual(at<{ id: string }[]>(31, b, ['ls', 'notes']).length, 1, 'a collection without a rule keeps its records');
    // Day 60: C comes back. Both messages are older than 30 days by then: everything in msgs is gone on every device.
    assert.deepEqual(ids(60, c), []);
    at(60, c, ['sync']);
    for (const home of [a, b]) at(60, home, ['sync']);
    for (const home of [a, b, c]) assert.deepEqual(ids(60, home), [], home);
    // Off: a message written now lives on.
    assert.deepEqual(at(60, b, ['retention', 'msgs', '--off']), { ok: true });
    at(60, b, ['put', 'msgs', 'later', '{"text":"later"}']);
    at(60, b, ['sync']);
    at(200, a, ['sync']);
    assert.deepEqual(ids(200, a), ['later']);
    assert.deepEqual(at(200, a, ['retention']), { rules: [] });
    // Bad input is refused and changes nothing.
    assertError(runKith(a, ['retention', 'msgs', '--days', '0']), 2, 'KITH_USAGE');
    assertError(runKith(a, ['retention', 'msgs']), 2, 'KITH_USAGE');
    assertError(runKith(a, ['retention', 'msgs', '--days', '3', '--off']), 2, 'KITH_USAGE');
    assertError(runKith(a, ['retention', '_kith.retention', '--days', '3']), 1, 'KITH_BAD_NAME');
    assert.deepEqual(at(200, a, ['retention']), { rules: [] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kith log: history older than 90 days is pruned on open (each record keeps its newest entry), and log says where', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-history-'));
  try {
    const a = join(dir, 'a');
    kithJson(a, ['init', '--remote', `file://${join(dir, 'remote')}`, '--name', 'a']);
    at(0, a, ['put', 'notes', 'x', '{"v":1}']);
    at(0, a, ['patch', 'notes', 'x', '{"v":2}']);
    at(0, a, ['put', 'notes', 'y', '{"v":1}']);
    at(50, a, ['patch', 'notes', 'x', '{"v":3}']);
    assert.equal(at<unknown[]>(50, a, ['log']).length, 4);
    const human = runKith(a, ['log'], { env: { KITH_TEST_CLOCK_OFFSET_MS: String(100 * DAY) } });
    assert.equal(human.status, 0, human.stderr);
    const cutoff = new Date(Date.now() + 10 * DAY).toISOString().slice(0, 10);
    const first = human.stdout.split('\n')[0]!;
    assert.match(first, /^history before \d{4}-\d{2}-\d{2} pruned/);
    // The cut-off is 90 days before the (moved) clock: day 10 of this test, give or take the date line.
    const shown = Date.parse(first.slice('history before '.length, 'history before '.length + 10));
    assert.ok(Math.abs(shown - Date.parse(cutoff)) <= DAY, `${first} (expected about ${cutoff})`);
    const left = at<{ id: string; kind: string }[]>(100, a, ['log']);
    assert.deepEqual(
      left.map((e) => [e.id, e.kind]),
      [
        ['y', 'put'],
        ['x', 'patch'],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
