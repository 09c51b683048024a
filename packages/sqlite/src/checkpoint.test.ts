import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { oneWriteState, type RecordRow } from '@kith/core/adapter';
import { openSqliteStore, type SqliteStore } from './index.js';
import { AUTOCHECKPOINT_PAGES, CHECKPOINT_AFTER_FRAMES, LARGE_WRITE_ROWS, LOOK_EVERY_ROWS, pendingFrames, WalCheckpoints } from './checkpoint.js';
import type { CheckpointThread } from './checkpoint-thread.js';
import { inTempDir } from './sqlite-store.test.support.js';

const STAMP = '00000000010000000000devicedevice';

/** `n` rows from `from` on, each with a body of `bodyChars` characters (a few thousand: a page or two per row). */
function rows(n: number, bodyChars: number, from = 0): RecordRow[] {
  return Array.from({ length: n }, (_, k) => {
    const fields = { title: `note ${from + k}`, body: 'x'.repeat(bodyChars) };
    return { collection: 'notes', id: `r${from + k}`, fields, deleted: false, state: oneWriteState(fields, STAMP), conflicted: false, updated: STAMP };
  });
}

/** Frames of the store's WAL not yet in the database file, read on a connection of the test's own. */
function pending(file: string): number {
  const db = new Database(file);
  try {
    return pendingFrames(db);
  } finally {
    db.close();
  }
}

async function withStore(fn: (store: SqliteStore, file: string) => Promise<void>): Promise<void> {
  await inTempDir(async (dir) => {
    const file = join(dir, 'kith.db');
    const store = await openSqliteStore(file);
    try {
      await fn(store, file);
    } finally {
      await store.close();
    }
  });
}

test('NOOP checkpoints report the WAL without copying it (the check after large writes relies on SQLite 3.51+)', async () => {
  await withStore(async (store, file) => {
    await store.write((tx) => tx.putRecords(rows(100, 200)));
    const before = pending(file);
    assert.ok(before > 0);
    assert.equal(pending(file), before);
  });
});

for (const how of ['write', 'bulkLoad'] as const) {
  test(`a large ${how} that leaves CHECKPOINT_AFTER_FRAMES frames or more in the WAL is checkpointed on the store's thread as it commits, so the next put does not pay for its pages`, async () => {
    await withStore(async (store, file) => {
      // Three pages or so per row: well past CHECKPOINT_AFTER_FRAMES with LARGE_WRITE_ROWS rows.
      await store[how]((tx) => tx.putRecords(rows(LARGE_WRITE_ROWS, 9000)));
      await store.checkpointed();
      assert.equal(pending(file), 0);
      assert.equal((await store.read((tx) => tx.getRecords('notes', ['r0', `r${LARGE_WRITE_ROWS - 1}`]))).size, 2);
    });
  });
}

test('small writes are looked at every LOOK_EVERY_ROWS rows: the thread copies the WAL once CHECKPOINT_AFTER_FRAMES frames wait, and a look comes no sooner', async () => {
  await withStore(async (store, file) => {
    // Under LOOK_EVERY_ROWS rows but past CHECKPOINT_AFTER_FRAMES frames (25 pages or so per row): not looked at.
    const few = Math.floor(LOOK_EVERY_ROWS / 2);
    await store.write((tx) => tx.putRecords(rows(few, 100_000)));
    await store.checkpointed();
    const waiting = pending(file);
    assert.ok(waiting >= CHECKPOINT_AFTER_FRAMES, `${waiting} frames`);
    // Small transactions that take the rows changed since the last look past LOOK_EVERY_ROWS: the next look asks for the copy.
    for (let k = 0; k * 10 < LOOK_EVERY_ROWS; k++) await store.write((tx) => tx.putRecords(rows(10, 100, few + k * 10)));
    await store.checkpointed();
    assert.ok(pending(file) < waiting, `${pending(file)} frames still waiting of ${waiting}`);
  });
});

test('writes go on while the thread copies a large write, a second large write is copied after the first, and close waits for the copy', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'kith.db');
    const store = await openSqliteStore(file);
    await store.write((tx) => tx.putRecords(rows(LARGE_WRITE_ROWS, 9000)));
    // Small writes while the copy may still run: each commits into the WAL, none waits for the copy.
    for (let k = 0; k < 20; k++) await store.write((tx) => tx.putRecords(rows(1, 10, LARGE_WRITE_ROWS + k)));
    await store.write((tx) => tx.putRecords(rows(LARGE_WRITE_ROWS, 9000, 3 * LARGE_WRITE_ROWS)));
    await store.checkpointed();
    assert.equal(pending(file), 0);
    await store.write((tx) => tx.putRecords(rows(LARGE_WRITE_ROWS, 9000, 5 * LARGE_WRITE_ROWS)));
    await store.close();
    // The thread's connection closed first: the store's, the last, checkpointed everything and removed the WAL.
    assert.equal(existsSync(file + '-wal'), false);
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.prepare('SELECT count(*) FROM records').pluck().get(), 2 * LARGE_WRITE_ROWS + 20 + LARGE_WRITE_ROWS);
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    } finally {
      db.close();
    }
  });
});

test('a process that ends without closing the store after a large write exits at once, its rows in the file', async () => {
  await inTempDir(async (dir) => {
    const file = join(dir, 'kith.db');
    const script = `import { openSqliteStore } from ${JSON.stringify(new URL('./index.js', import.meta.url).href)};
      const s = await openSqliteStore(${JSON.stringify(file)});
      const fields = { body: 'x'.repeat(9000) };
      await s.write((tx) => tx.putRecords(Array.from({ length: ${LARGE_WRITE_ROWS} }, (_, k) => ({ collection: 'notes', id: 'r' + k, fields, deleted: false, state: {}, conflicted: false, updated: 'u' }))));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // The thread is referenced only while it copies: the process ends once the copy does, never hangs on an idle thread.
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, stderr);
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.prepare('SELECT count(*) FROM records').pluck().get(), LARGE_WRITE_ROWS);
    } finally {
      db.close();
    }
  });
});

test('without a checkpoint thread, or with one that cannot start, the connection that wrote checkpoints as the commit ends', async () => {
  await inTempDir(async (dir) => {
    for (const thread of [undefined, { request: () => false } as unknown as CheckpointThread]) {
      const file = join(dir, `${thread ? 'failed' : 'none'}.db`);
      const db = new Database(file);
      try {
        db.pragma('journal_mode = WAL');
        db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
        db.exec('CREATE TABLE t (v TEXT)');
        const checkpoints = new WalCheckpoints(db, thread);
        const mark = checkpoints.mark();
        const insert = db.prepare('INSERT INTO t VALUES (?)');
        db.transaction(() => {
          for (let k = 0; k < LARGE_WRITE_ROWS; k++) insert.run('x'.repeat(6000));
        })();
        assert.ok(pendingFrames(db) >= CHECKPOINT_AFTER_FRAMES);
        checkpoints.afterCommit(mark);
        assert.equal(pendingFrames(db), 0);
      } finally {
        db.close();
      }
    }
  });
});
