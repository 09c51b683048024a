import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, watch } from 'node:fs';
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

/** strace, where the machine has it and may trace its own children. */
const strace = ((): boolean => {
  try {
    execFileSync('strace', ['-f', '-e', 'trace=none', '-o', '/dev/null', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test(
  "a new store is created, and takes its first write, without an fsync (the schema was the WAL's first commit, whose header SQLite synced with the directory), and keeps both after the process is killed",
  { skip: strace ? false : 'strace is not available', timeout: 120_000 },
  async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'kith.db');
      const trace = join(dir, 'trace.txt');
      // The child ends without closing the store, as a killed process would: no checkpoint, nothing synced.
      const syncs = (path: string, end: string): string[] => {
        const script = `const { openSqliteStore } = await import(${JSON.stringify(new URL('./index.js', import.meta.url).href)});
          const store = await openSqliteStore(${JSON.stringify(path)});
          await store.write((tx) => tx.setMeta('k', { v: 1 }));
          ${end}`;
        const run = spawnSync('strace', ['-f', '-e', 'trace=fsync,fdatasync', '-o', trace, process.execPath, '--input-type=module', '-e', script], {
          encoding: 'utf8',
        });
        assert.equal(run.status, 0, run.stderr);
        return readFileSync(trace, 'utf8')
          .split('\n')
          .filter((l) => /\b(fsync|fdatasync)\(/.test(l));
      };
      assert.deepEqual(syncs(file, 'process.exit(0);'), []);
      // The setting is the usual one once the schema is in: closing checkpoints the WAL, and syncs it.
      assert.ok(syncs(join(dir, 'other.db'), 'await store.close();').length > 0);
      const again = await openSqliteStore(file);
      try {
        assert.deepEqual(await again.read((tx) => tx.getMeta('k')), { v: 1 });
      } finally {
        await again.close();
      }
      const db = new Database(file, { readonly: true });
      try {
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      } finally {
        db.close();
      }
    });
  },
);
