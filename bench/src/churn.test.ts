import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { churnTables } from './report-churn.js';
import { task } from './series.js';

// The churn section is opt-in (`--only churn`, minutes at its full size): its tasks run here on a small vault so they cannot rot.
test('churn: Kith and Yjs churn 200 records × 100 updates, a new device bootstraps each, and the table compares them', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kith-churn-bench-'));
  try {
    const n = 200;
    const kith = { ...task('churn.kithChurn', n, join(dir, 'k')), ...task('churn.kithBootstrap', n, join(dir, 'k')) };
    const yjs = { ...task('churn.yjsChurn', n, join(dir, 'y')), ...task('churn.yjsBootstrap', n, join(dir, 'y')) };
    for (const [who, f] of Object.entries({ kith, yjs })) for (const [k, v] of Object.entries(f)) assert.ok(Number.isFinite(v) && v > 0, `${who}.${k} = ${v}`);
    // Compaction leaves far less than the history: the one-segment-per-round remote shrinks to the snapshot and the chain anchors.
    assert.ok(kith['remoteBytes']! < kith['historyRemoteBytes']! / 4, JSON.stringify(kith));
    assert.ok(kith['remoteObjects']! < kith['historyRemoteObjects']! / 2, JSON.stringify(kith));
    const table = churnTables({ n, updates: 100, kith: { runs: 1, figures: kith, samples: [kith] }, yjs: { runs: 1, figures: yjs, samples: [yjs] } }).join(
      '\n',
    );
    for (const row of ['| kith | 1 |', '| yjs (GC on) | 1 |', 'Kith beats Yjs on:', 'compaction']) assert.ok(table.includes(row), `missing ${row}:\n${table}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
