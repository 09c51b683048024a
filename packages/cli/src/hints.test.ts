/**
 * The CLI words core errors its own way (hints.ts): core's hints name no
 * command, the CLI's do. Checked through the real binary for errors core
 * throws, and in-process for the table itself.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, KithError } from '@kith/core';
import { cliCodeHintKeys, cliHintKeys } from './hints.js';
import { describeError, errorJson } from './output.js';
import { kithJson, runKith } from './testing/index.js';

/** The compiled core, tests and test helpers left out: what an app runs. */
function coreRuntimeText(): string {
  const root = dirname(fileURLToPath(import.meta.resolve('@kith/core')));
  const texts: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        if (name !== 'testing') walk(p);
      } else if (name.endsWith('.js') && !name.endsWith('.test.js')) texts.push(readFileSync(p, 'utf8'));
    }
  };
  walk(root);
  return texts.join('\n');
}

describe('kith CLI: its own hints for core errors', { timeout: 180_000 }, () => {
  test('every code/reason the CLI words is still given by core, and only those get new wording', () => {
    const core = coreRuntimeText();
    for (const key of cliHintKeys) {
      const [code, reason] = key.split('/') as [string, string];
      assert.ok(Object.values(ErrorCode).includes(code as ErrorCode), key);
      assert.ok(core.includes(`reason: '${reason}'`), `core no longer gives the reason of ${key}`);
    }
    const noConflict = new KithError(ErrorCode.NoConflict, 'notes/n1 has no conflict to resolve', {
      hint: 'list the conflicts to see what can be resolved',
      reason: 'no-conflict',
    });
    assert.equal(describeError(noConflict, false).line, 'kith: notes/n1 has no conflict to resolve; list conflicts with `kith conflicts` (KITH_NO_CONFLICT)');
    assert.equal(errorJson(noConflict).error.hint, 'list conflicts with `kith conflicts`');
    // No reason, or a reason the CLI has no words for: the hint stays as given.
    const plain = new KithError(ErrorCode.NoConflict, 'x', { hint: 'as given' });
    assert.equal(errorJson(plain).error.hint, 'as given');
    assert.equal(errorJson(new KithError(ErrorCode.NoConflict, 'x', { hint: 'as given', reason: 'unheard-of' })).error.hint, 'as given');
    assert.deepEqual(Object.keys(errorJson(new KithError(ErrorCode.BadInput, 'x')).error), ['code', 'message']);
  });

  test('a code the CLI words in every case is still thrown by core: KITH_INTEGRITY_WITHHELD names `kith check`', () => {
    const core = coreRuntimeText();
    for (const code of cliCodeHintKeys) {
      const name = Object.entries(ErrorCode).find(([, v]) => v === code)?.[0];
      assert.ok(name !== undefined, code);
      assert.ok(core.includes(`new KithError(ErrorCode.${name},`), `core no longer throws ${code}`);
    }
    const withheld = new KithError(ErrorCode.IntegrityWithheld, "device d's segment 4 is missing from the remote, above what every snapshot covers", {
      hint: 'as core words it',
      reason: 'segment-missing',
    });
    assert.match(
      describeError(withheld, false).line,
      /; .*`kith check` lists what is missing; restore it from another copy of the remote \(KITH_INTEGRITY_WITHHELD\)$/,
    );
    assert.match(errorJson(withheld).error.hint ?? '', /`kith check`/);
  });

  let dir: string;
  let a: string;
  let remote: string;
  let recoveryCode: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kith-hints-'));
    a = join(dir, 'a');
    remote = join(dir, 'remote');
    ({ recoveryCode } = kithJson<{ recoveryCode: string }>(a, ['init', '--remote', remote]));
    kithJson(a, ['put', 'notes', 'n1', '{"t":1}']);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const lastLine = (r: { stderr: string }): string => r.stderr.trimEnd().split('\n').at(-1)!;

  test('errors thrown by core carry the commands to type, in text and in --json', () => {
    assert.match(lastLine(runKith(a, ['devices', 'revoke', 'nosuchdevice'])), /; list the devices with `kith devices` \(KITH_UNKNOWN_DEVICE\)$/);
    assert.match(lastLine(runKith(a, ['resolve', 'notes', 'n1', '--keep'])), /; list conflicts with `kith conflicts` \(KITH_NO_CONFLICT\)$/);
    const joined = runKith(join(dir, 'b'), ['join', recoveryCode, '--remote', remote, '--json']);
    assert.equal(joined.status, 1, joined.stderr);
    assert.deepEqual(JSON.parse(lastLine(joined)), {
      error: { code: 'KITH_BAD_PAIRING_CODE', message: 'this is a recovery code, not a pairing code', hint: 'use `kith restore --recovery-code` with it' },
    });
    assert.match(
      lastLine(runKith(join(dir, 'c'), ['init', '--remote', remote])),
      /; join it with `kith restore --recovery-code \.\.\.` or `kith join`, or choose an empty location \(KITH_REMOTE_IN_USE\)$/,
    );
  });
});
