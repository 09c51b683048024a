/**
 * `kith check` after `kith snapshot`, as real processes over a folder
 * remote: a clean snapshot is no problem (its chunks are referenced, and
 * --read-data reads them), and a snapshot chunk altered or gone, or a
 * manifest altered or moved to another name, is reported with its code.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kithJson, runKith } from './testing/index.js';

type Problem = { kind: string; key: string; code: string };
type Report = { ok: boolean; checked: Record<string, number>; problems: Problem[] };

describe('kith check and snapshots over a folder remote', { timeout: 300_000 }, () => {
  let dir: string;
  let remote: string;
  let a: string;
  let snapshot: string;

  const check = (...args: string[]): { status: number | null; report: Report } => {
    const r = runKith(a, ['check', ...args, '--json']);
    return { status: r.status, report: JSON.parse(r.stdout) as Report };
  };
  const chunkFiles = (): string[] => readdirSync(join(remote, 'blobs', 'chunks')).sort();
  /** Runs `damage` on the remote, then `expect`; puts the files it names back afterwards. */
  const damaged = (files: string[], damage: () => void, expect: () => void): void => {
    const saved = files.map((f) => [f, readFileSync(f)] as const);
    try {
      damage();
      expect();
    } finally {
      for (const [f, bytes] of saved) writeFileSync(f, bytes);
    }
    assert.equal(check().status, 0, 'clean again');
  };

  /** Flips bits of the byte `back` bytes before the end of a file. */
  const flip = (path: string, back: number, bits: number): void => {
    const bad = readFileSync(path);
    bad[bad.length - back]! ^= bits;
    writeFileSync(path, bad);
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kith-check-snapshot-'));
    remote = join(dir, 'remote');
    a = join(dir, 'a');
    kithJson(a, ['init', '--remote', remote]);
    const file = join(dir, 'notes.jsonl');
    writeFileSync(file, Array.from({ length: 200 }, (_, i) => JSON.stringify({ id: `n${i}`, body: `note ${i} `.repeat(30) })).join('\n') + '\n');
    kithJson(a, ['import', 'notes', file]);
    kithJson(a, ['sync']);
    snapshot = kithJson<{ snapshot: string }>(a, ['snapshot']).snapshot;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('after one clean snapshot: exit 0 and no problem, with and without --read-data; every chunk is read', () => {
    const human = runKith(a, ['check']);
    assert.equal(human.status, 0, human.stdout + human.stderr);
    assert.equal(human.stdout.trimEnd().split('\n').at(-1), 'no problems found');
    const { status, report } = check('--read-data');
    assert.equal(status, 0);
    assert.deepEqual(report.problems, []);
    assert.ok(chunkFiles().length > 0);
    assert.equal(report.checked['chunksRead'], chunkFiles().length);
  });

  test('a snapshot chunk altered is damaged (found with --read-data); one gone is missing', () => {
    const chunk = chunkFiles().at(-1)!;
    const path = join(remote, 'blobs', 'chunks', chunk);
    damaged(
      [path],
      () => flip(path, 10, 0x04),
      () => {
        assert.equal(check().status, 0, 'the chunk is listed: only reading it shows the damage');
        const { status, report } = check('--read-data');
        assert.equal(status, 1);
        assert.deepEqual(
          report.problems.map((p) => [p.kind, p.key, p.code]),
          [['damaged', `blobs/chunks/${chunk}`, 'KITH_INTEGRITY_CORRUPT']],
        );
      },
    );
    const aside = join(dir, 'aside');
    renameSync(path, aside);
    try {
      const r = runKith(a, ['check']);
      assert.equal(r.status, 1);
      assert.match(r.stdout, new RegExp(`^missing +blobs/chunks/${chunk}: .*of snapshot ${snapshot} is missing; .* \\(KITH_NOT_FOUND\\)$`, 'm'));
    } finally {
      renameSync(aside, path);
    }
  });

  test('a manifest altered is damaged (KITH_INTEGRITY_CORRUPT); one moved to another name is refused (KITH_INTEGRITY_SNAPSHOT)', () => {
    const path = join(remote, snapshot);
    damaged(
      [path],
      () => flip(path, 40, 0x01),
      () => {
        const { status, report } = check();
        assert.equal(status, 1);
        assert.deepEqual(
          report.problems.filter((p) => p.key === snapshot).map((p) => [p.kind, p.code]),
          [['damaged', 'KITH_INTEGRITY_CORRUPT']],
        );
        // A manifest that does not open references nothing: its chunks are reported as such, as blob GC would collect them.
        for (const p of report.problems.filter((q) => q.key !== snapshot)) assert.deepEqual([p.kind, p.code], ['unreferenced', 'KITH_UNREFERENCED_OBJECT']);
      },
    );
    const moved = snapshot.replace(/\/(\d{16})-/, (_, ms: string) => `/${String(Number(ms) + 1000).padStart(16, '0')}-`);
    copyFileSync(path, join(remote, moved));
    try {
      const { status, report } = check();
      assert.equal(status, 1);
      assert.deepEqual(
        report.problems.map((p) => [p.kind, p.key, p.code]),
        [['damaged', moved, 'KITH_INTEGRITY_SNAPSHOT']],
      );
    } finally {
      rmSync(join(remote, moved));
    }
  });
});
