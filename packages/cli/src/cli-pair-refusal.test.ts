/**
 * `kith pair` never leaves a joining device waiting for an answer that
 * cannot come: without a terminal it refuses before showing a code, and a
 * no, a Ctrl-C or an expired code reaches the joiner at once.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertError, KITH_BIN, kithJson, onTerminal, runKith, type Run } from './testing/index.js';

/** The joiner failed with `code` (its last stderr line; the lines before show the SAS). */
function assertJoinerFailed(r: Run, code: string, message: RegExp): void {
  assert.equal(r.status, 1, r.stderr);
  const last = r.stderr.trimEnd().split('\n').at(-1)!;
  assert.match(last, new RegExp(`^kith: .+ \\(${code}\\)$`));
  assert.match(last, message);
}

/** `kith join CODE` as a child process; its default wait is ten minutes, far beyond this test's timeout. */
function joinAsync(home: string, code: string, remote: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KITH_BIN, '--home', home, 'join', code, '--remote', remote], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('kith pair: refusals reach the joiner at once', { timeout: 180_000 }, () => {
  let dir: string;
  let remote: string;
  let a: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kith-pair-refusal-'));
    remote = join(dir, 'remote');
    a = join(dir, 'a');
    kithJson(a, ['init', '--remote', remote, '--name', 'laptop']);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('without a terminal and without --yes, kith pair refuses before printing a code', () => {
    // (A short --timeout only bounds the wait of a build that would print the code and wait.)
    const r = runKith(a, ['pair', '--timeout', '5']);
    assertError(r, 2, 'KITH_USAGE');
    assert.match(r.stderr, /no terminal.*--yes/);
  });

  /** Starts `kith pair` on a terminal, lets a device join, waits for the question; `answer` then acts on the terminal. */
  async function pairThenAnswer(
    joiner: string,
    timeoutS: number,
    answer?: (t: ReturnType<typeof onTerminal>) => void,
  ): Promise<{ inviter: string; inviterExit: number | null; joined: Run }> {
    const t = onTerminal(a, ['pair', '--timeout', String(timeoutS)]);
    await t.waitFor(/kith join [0-9A-Z]{4}(-[0-9A-Z]{4}){7}/);
    const code = /kith join ([0-9A-Z-]{39})/.exec(t.screen())![1]!;
    const joined = joinAsync(join(dir, joiner), code, remote);
    await t.waitFor(/\[y\/N\] $/);
    answer?.(t);
    const result = await joined;
    t.type('\r'); // (a build that would not stop asking)
    return { inviter: t.screen(), inviterExit: await t.exited, joined: result };
  }

  test('a "no" at the prompt: the joiner hears KITH_PAIRING_DECLINED', async () => {
    const r = await pairThenAnswer('c1', 120, (t) => t.type('n\r'));
    assertJoinerFailed(r.joined, 'KITH_PAIRING_DECLINED', /declined/);
    assert.equal(r.inviterExit, 1);
    assert.match(r.inviter, /KITH_PAIRING_DECLINED/);
  });

  test('Ctrl-C at the prompt: the joiner hears at once that the pairing was cancelled', async () => {
    const r = await pairThenAnswer('c2', 120, (t) => t.type('\u0003'));
    assertJoinerFailed(r.joined, 'KITH_PAIRING_EXPIRED', /cancelled the pairing/);
    assert.equal(r.inviterExit, 1);
    assert.match(r.inviter, /pairing cancelled.*KITH_ABORTED/);
  });

  test('nobody answers while the code is valid: the inviter gives up and the joiner hears so at once', async () => {
    const r = await pairThenAnswer('c3', 20);
    assertJoinerFailed(r.joined, 'KITH_PAIRING_EXPIRED', /stopped waiting/);
    assert.equal(r.inviterExit, 1);
    assert.match(r.inviter, /no answer came within 20 s/);
    // Nothing was admitted.
    assert.deepEqual(
      kithJson<{ name: string }[]>(a, ['devices']).map((d) => d.name),
      ['laptop'],
    );
  });
});
