import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The quick benchmark runs in the test suite so the harness cannot rot.
test('npm run bench -- --quick produces every row and a results file', { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-bench-test-'));
  try {
    const out = join(dir, 'results.json');
    const r = spawnSync(process.execPath, [fileURLToPath(new URL('./run.js', import.meta.url)), '--quick', '--out', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const row of ['| kith |', '| yjs |', '| automerge |', '| floor:', '| folder |', '| s3 (s3rver) |', 'Local writes', 'Blobs,', 'Targets:']) assert.ok(r.stdout.includes(row), `missing ${row}`);
    const results = JSON.parse(readFileSync(out, 'utf8')) as { bootstrap: Record<string, Record<string, Record<string, Record<string, number>>>>; local: Record<string, number> };
    const numbers: number[] = [];
    const walk = (v: unknown): void => {
      if (typeof v === 'number') numbers.push(v);
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(results.bootstrap);
    walk(results.local);
    assert.ok(numbers.length > 30);
    for (const x of numbers) assert.ok(Number.isFinite(x) && x >= 0, `bad figure ${x}`);
    assert.ok(results.bootstrap['1000']!['kith']!['bootstrap']!['ms']! > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
