import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertError, kithJson, runKith } from './testing/index.js';

test('kith log leaves the reserved _kith. collections out; --reserved shows them', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-log-reserved-'));
  try {
    const a = join(dir, 'a');
    kithJson(a, ['init', '--remote', `file://${join(dir, 'remote')}`, '--name', 'a']);
    kithJson(a, ['put', 'notes', 'n1', '{"v":1}']);
    kithJson(a, ['retention', 'notes', '--days', '30']); // a record of _kith.retention
    const collections = (args: string[]): string[] => [...new Set(kithJson<{ collection: string }[]>(a, ['log', ...args]).map((e) => e.collection))].sort();
    assert.deepEqual(collections([]), ['notes']);
    assert.deepEqual(collections(['--limit', '1']), ['notes']);
    assert.deepEqual(collections(['--reserved']), ['_kith.retention', 'notes']);
    assert.deepEqual(collections(['--reserved', '_kith.retention']), ['_kith.retention']);
    const refused = runKith(a, ['log', '_kith.retention']);
    assertError(refused, 1, 'KITH_BAD_NAME');
    assert.match(refused.stderr, /add `--reserved` to read it/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
