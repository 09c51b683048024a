import { test } from 'node:test';
import assert from 'node:assert/strict';
import { watch } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore } from './index.js';
import { inTempDir } from './sqlite-store.test.support.js';

/** The names of the files created or changed in `dir` while `fn` ran (inotify: queued by the kernel as they happen). */
async function filesTouched(dir: string, fn: () => Promise<void>): Promise<Set<string>> {
  const seen = new Set<string>();
  const w = watch(dir, (_event, name) => void (name && seen.add(name)));
  try {
    await fn();
    await sleep(200);
  } finally {
    w.close();
  }
  return seen;
}

test('a new store is created without a rollback journal (its eight fsyncs were most of the time of a new store), and is an ordinary WAL store', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'kith.db');
    const touched = await filesTouched(dir, async () => {
      const store = await openSqliteStore(file);
      await store.write((tx) => tx.setMeta('k', { v: 1 }));
      assert.equal(store.space, 'incremental');
      await store.close();
    });
    assert.ok(touched.has('kith.db'), [...touched].join(' '));
    assert.ok(!touched.has('kith.db-journal'), `files touched: ${[...touched].join(' ')}`);
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('auto_vacuum', { simple: true }), 2);
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    } finally {
      db.close();
    }
    const again = await openSqliteStore(file);
    try {
      assert.deepEqual(await again.read((tx) => tx.getMeta('k')), { v: 1 });
    } finally {
      await again.close();
    }
  });
});

test('a store opened with full durability is created as before, journal and fsyncs included', async () => {
  await inTempDir(async (dir) => {
    const touched = await filesTouched(dir, async () => (await openSqliteStore(join(dir, 'kith.db'), { durability: 'full' })).close());
    assert.ok(touched.has('kith.db-journal'), `files touched: ${[...touched].join(' ')}`);
  });
});
