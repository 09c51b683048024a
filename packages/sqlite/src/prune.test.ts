/**
 * History pruning and space given back: new files use incremental vacuum,
 * older small files are converted once, pruning keeps each record's newest
 * entry, and the file shrinks after pruning a large history.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { LogEntry } from '@kith/core/adapter';
import { openSqliteStore } from './index.js';
import { ensureIncrementalVacuum, fileBytes } from './prune.js';
import { migrate } from './schema.js';
import { inTempDir } from './sqlite-store.test.support.js';

/** Stamp of wall time `ms` (base-36, 9 digits) + counter 0 + a device. */
const stamp = (ms: number, device = 'a'.repeat(16)): string => ms.toString(36).padStart(9, '0') + '0000' + device;

/** The file's size as SQLite counts it (pages × page size), read through a second connection. */
function sizeOf(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return fileBytes(db);
  } finally {
    db.close();
  }
}

test('a new store gives pruned history back: newest entry per record kept, the file shrinks', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'kith.db');
    const store = await openSqliteStore(file);
    try {
      assert.equal(store.space, 'incremental');
      const fields = Array.from({ length: 40 }, (_, i) => `field-with-a-longish-name-${i}`);
      // 200 records × 100 writes, one a day apart per record.
      for (let day = 0; day < 100; day++) {
        const entries: LogEntry[] = Array.from({ length: 200 }, (_, r) => ({
          collection: 'notes',
          id: `r${r}`,
          stamp: stamp(1_000_000_000 + day * 86_400_000 + r),
          device: 'a'.repeat(16),
          kind: 'patch',
          fields,
        }));
        await store.write((tx) => tx.appendLog(entries));
      }
      const before = sizeOf(file);
      // Everything older than day 95 goes, except each record's newest entry (day 99 here).
      const cut = stamp(1_000_000_000 + 95 * 86_400_000).slice(0, 13);
      let pruned = 0;
      for (;;) {
        const n = await store.pruneLog(cut, 5000);
        pruned += n;
        if (n < 5000) break;
      }
      assert.equal(pruned, 200 * 95);
      const after = sizeOf(file);
      assert.ok(after < before / 5, `the file went from ${before} to ${after} bytes`);
      const left = await store.read((tx) => tx.readLog({ collection: 'notes', id: 'r7' }));
      assert.equal(left.length, 5);
      // A record whose only entries are old keeps its newest one.
      await store.write((tx) => tx.appendLog([{ collection: 'old', id: 'x', stamp: stamp(1000), device: 'a'.repeat(16), kind: 'put', fields: [] }]));
      assert.equal(await store.pruneLog(cut, 5000), 0);
      assert.equal((await store.read((tx) => tx.readLog({ collection: 'old' }))).length, 1);
    } finally {
      await store.close();
    }
  });
});

test('an older store without incremental vacuum is converted once when small, left (and said) when large', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'kith.db');
    // What earlier builds made: WAL set before the tables, so auto_vacuum stayed NONE.
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    migrate(old, file);
    assert.equal(old.pragma('auto_vacuum', { simple: true }), 0);
    assert.equal(ensureIncrementalVacuum(old, 1), 'none: too large to convert');
    assert.equal(old.pragma('auto_vacuum', { simple: true }), 0);
    old.close();
    const store = await openSqliteStore(file);
    try {
      assert.equal(store.space, 'incremental');
    } finally {
      await store.close();
    }
    const check = new Database(file, { readonly: true });
    assert.equal(check.pragma('auto_vacuum', { simple: true }), 2);
    check.close();
  });
});

test('with nothing to prune, pruning takes no write lock (an open beside a busy writer does not wait for it)', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'kith.db');
    const store = await openSqliteStore(file, { busyTimeoutMs: 50 });
    const other = new Database(file);
    try {
      await store.write((tx) => tx.appendLog([{ collection: 'c', id: 'x', stamp: stamp(1000), device: 'a'.repeat(16), kind: 'put', fields: [] }]));
      other.exec('BEGIN IMMEDIATE');
      assert.equal(await store.pruneLog(stamp(2000).slice(0, 13), 100), 0);
      other.exec('ROLLBACK');
    } finally {
      other.close();
      await store.close();
    }
  });
});
