/**
 * `kith check` as a real process over a folder remote: a clean vault exits
 * 0, damage exits 1 with one line per problem (or one JSON object), a
 * corrupted chunk is found only with --read-data, and the progress bar is
 * drawn on a terminal but never with --json. The damage cases themselves
 * are covered on every remote by the check scenarios of @kith/core/testing.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMembershipEntry, membershipKey, personKeysFromSecret, spaceIdOf } from '@kith/core/spaces';
import { assertError, KITH_BIN, kithJson, runKith } from './testing/index.js';

interface Report {
  ok: boolean;
  readData: boolean;
  checked: Record<string, number>;
  problems: { kind: string; key: string; code: string; message: string; hint: string }[];
}

const COUNT_KEYS = ['objects', 'vault', 'registry', 'keys', 'heads', 'segments', 'manifests', 'chunks', 'chunksRead', 'marks', 'pairing'];

describe('kith check over a folder remote', { timeout: 300_000 }, () => {
  let dir: string;
  let remote: string;
  let a: string;
  let chunkFile: string;

  /** `kith check ...args --json`: exit code and the parsed report. */
  const checkJson = (...args: string[]): { status: number | null; report: Report; stderr: string } => {
    const r = runKith(a, ['check', ...args, '--json']);
    return { status: r.status, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
  };
  /** Flips one byte of a file; returns the undo. */
  const flip = (file: string, at: number): (() => void) => {
    const orig = readFileSync(file);
    const bad = Buffer.from(orig);
    bad[at] = bad[at]! ^ 0x40;
    writeFileSync(file, bad);
    return () => writeFileSync(file, orig);
  };

  /** Moves a file out of the remote (a copy left inside would be foreign); returns the undo. */
  const moveAway = (file: string): (() => void) => {
    const aside = join(dir, 'aside');
    renameSync(file, aside);
    return () => renameSync(aside, file);
  };
  /** Writes `bytes` over (or as) a file; returns the undo. */
  const replaceWith = (file: string, bytes: Uint8Array): (() => void) => {
    const orig = existsSync(file) ? readFileSync(file) : undefined;
    writeFileSync(file, bytes);
    return () => (orig ? writeFileSync(file, orig) : rmSync(file));
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kith-check-'));
    remote = join(dir, 'remote');
    a = join(dir, 'a');
    const { recoveryCode } = kithJson<{ recoveryCode: string }>(a, ['init', '--remote', remote]);
    kithJson(join(dir, 'b'), ['restore', '--remote', remote, '--recovery-code', recoveryCode]);
    for (let i = 1; i <= 3; i++) kithJson(a, ['put', 'notes', `n${i}`, JSON.stringify({ i }), '--sync']);
    writeFileSync(join(dir, 'photo.bin'), Buffer.alloc(5000, 7));
    const { ref } = kithJson<{ ref: string }>(a, ['blob', 'put', join(dir, 'photo.bin')]);
    kithJson(a, ['put', 'photos', 'p1', JSON.stringify({ file: ref }), '--sync']);
    kithJson(join(dir, 'b'), ['sync']);
    const chunks = readdirSync(join(remote, 'blobs', 'chunks'));
    assert.equal(chunks.length, 1);
    chunkFile = join(remote, 'blobs', 'chunks', chunks[0]!);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a clean vault: exit 0, a summary line and "no problems found"; --json is one object of the documented shape', () => {
    const human = runKith(a, ['check']);
    assert.equal(human.status, 0, human.stderr);
    assert.equal(human.stderr, '');
    const lines = human.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^checked 14 objects: 2 registry entries, 3 sealed keys, 2 heads, 4 segments, 1 blob, 1 chunk listed \(--read-data reads them\)$/);
    assert.deepEqual(lines.slice(1), ['no problems found']);
    const { status, report } = checkJson('--read-data');
    assert.equal(status, 0);
    assert.deepEqual(Object.keys(report), ['ok', 'readData', 'checked', 'problems']);
    assert.deepEqual(Object.keys(report.checked), COUNT_KEYS);
    assert.equal(report.ok, true);
    assert.equal(report.readData, true);
    assert.equal(report.checked['chunksRead'], 1);
    assert.deepEqual(report.problems, []);
  });

  test('damage: exit 1, one line per problem with its kind, key and code; --json lists the same problems', () => {
    const segments = join(remote, 'segments', readdirSync(join(remote, 'segments'))[0]!);
    const segment = join(segments, '000000000002');
    const undo = flip(segment, 60);
    writeFileSync(join(remote, 'stray.txt'), 'not kith');
    try {
      const human = runKith(a, ['check']);
      assert.equal(human.status, 1, human.stderr);
      assert.equal(human.stderr, '');
      const lines = human.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 4, human.stdout);
      assert.match(lines[1]!, /^foreign +stray\.txt: .+; .+ \(KITH_FOREIGN_OBJECT\)$/);
      assert.match(lines[2]!, new RegExp(`^damaged +segments/[0-9a-f]{16}/000000000002: .+; .+ \\(KITH_INTEGRITY_CORRUPT\\)$`));
      assert.equal(lines[3], '2 problems: 1 foreign, 1 damaged');
      const { status, report } = checkJson();
      assert.equal(status, 1);
      assert.equal(report.ok, false);
      assert.deepEqual(
        report.problems.map((p) => [p.kind, p.key.replace(/[0-9a-f]{16}/, 'D'), p.code]),
        [
          ['foreign', 'stray.txt', 'KITH_FOREIGN_OBJECT'],
          ['damaged', 'segments/D/000000000002', 'KITH_INTEGRITY_CORRUPT'],
        ],
      );
      for (const p of report.problems) assert.deepEqual(Object.keys(p), ['kind', 'key', 'code', 'message', 'hint']);
    } finally {
      undo();
      rmSync(join(remote, 'stray.txt'));
    }
    assert.equal(runKith(a, ['check']).status, 0);
  });

  test('each file-level damage exits 1 with its kind: a deleted middle segment, a truncated head, a deleted chunk, a stray chunk', () => {
    const device = readdirSync(join(remote, 'segments'))[0]!;
    const segment = join(remote, 'segments', device, '000000000002');
    const head = join(remote, 'heads', device);
    const stray = join(remote, 'blobs', 'chunks', 'f'.repeat(64));
    const cases: [string, () => () => void, string, string][] = [
      ['missing', () => moveAway(segment), `segments/${device}/000000000002`, 'KITH_INTEGRITY_CHAIN'],
      ['damaged', () => replaceWith(head, readFileSync(head).subarray(0, 40)), `heads/${device}`, 'KITH_INTEGRITY_CORRUPT'],
      ['missing', () => moveAway(chunkFile), `blobs/chunks/${chunkFile.slice(-64)}`, 'KITH_NOT_FOUND'],
      ['unreferenced', () => replaceWith(stray, readFileSync(chunkFile)), `blobs/chunks/${'f'.repeat(64)}`, 'KITH_UNREFERENCED_OBJECT'],
    ];
    for (const [kind, damage, key, code] of cases) {
      const undo = damage();
      try {
        const { status, report } = checkJson();
        assert.equal(status, 1, key);
        assert.deepEqual(
          report.problems.map((p) => [p.kind, p.key, p.code]),
          [[kind, key, code]],
        );
      } finally {
        undo();
      }
    }
    assert.equal(runKith(a, ['check']).status, 0);
  });

  test('a corrupted chunk passes a plain check and is found by --read-data', () => {
    const undo = flip(chunkFile, readFileSync(chunkFile).length - 5);
    try {
      assert.equal(checkJson().status, 0);
      const { status, report } = checkJson('--read-data');
      assert.equal(status, 1);
      assert.deepEqual(
        report.problems.map((p) => [p.kind, p.code]),
        [['damaged', 'KITH_INTEGRITY_CORRUPT']],
      );
      assert.match(report.problems[0]!.key, /^blobs\/chunks\/[0-9a-f]{64}$/);
    } finally {
      undo();
    }
  });

  test("a shared space's membership chain on the remote is checked and named in the summary; a flipped bit in it exits 1", async () => {
    const founder = personKeysFromSecret(new Uint8Array(32).fill(7));
    const nonce = new Uint8Array(16).fill(8);
    const spaceId = spaceIdOf(founder.signPub, nonce);
    const create = { kind: 'create', nonce, signPub: founder.signPub, boxPub: founder.boxPub } as const;
    const { bytes } = await encodeMembershipEntry(
      spaceId,
      { seq: 1, prevHash: new Uint8Array(32), at: 1, signer: founder.personId, change: create },
      founder.sign.seed,
    );
    const key = `spaces/${spaceId}/${membershipKey(1)}`;
    mkdirSync(join(remote, 'spaces', spaceId, 'members'), { recursive: true });
    writeFileSync(join(remote, key), bytes);
    try {
      const human = runKith(a, ['check']);
      assert.equal(human.status, 0, human.stdout);
      assert.match(human.stdout.split('\n')[0]!, /^checked 15 objects: .+, 1 membership entry$/);
      assert.equal(checkJson().report.checked['members'], 1);
      flip(join(remote, key), 30);
      const { status, report } = checkJson();
      assert.equal(status, 1);
      assert.deepEqual(
        report.problems.map((p) => [p.kind, p.key, p.code]),
        [['damaged', key, 'KITH_INTEGRITY_CHAIN']],
      );
    } finally {
      rmSync(join(remote, 'spaces'), { recursive: true, force: true });
    }
    assert.equal(runKith(a, ['check']).status, 0);
  });

  test('an unknown flag is a usage error; a home without a vault is KITH_NO_VAULT; neither prints a report', () => {
    assertError(runKith(a, ['check', '--read-everything']), 2, 'KITH_USAGE');
    assertError(runKith(join(dir, 'nobody'), ['check']), 1, 'KITH_NO_VAULT');
  });

  test('on a terminal the check draws a progress bar; with --json it does not', () => {
    // `script` (util-linux) runs the command with a pseudo-terminal as its stdin, stdout and stderr.
    const onTerminal = (args: string[]): { status: number | null; screen: string } => {
      const command = [process.execPath, KITH_BIN, '--home', a, ...args].map((x) => `'${x}'`).join(' ');
      const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8' });
      return { status: r.status, screen: r.stdout };
    };
    const bar = onTerminal(['check', '--read-data']);
    assert.equal(bar.status, 0, bar.screen);
    assert.match(bar.screen, /checking \[[^\]]*\] (\d+)\/\1 objects/);
    assert.match(bar.screen, /no problems found/);
    const quiet = onTerminal(['check', '--json']);
    assert.equal(quiet.status, 0, quiet.screen);
    assert.doesNotMatch(quiet.screen, /checking/);
    assert.equal((JSON.parse(quiet.screen.trim()) as Report).ok, true);
  });
});
