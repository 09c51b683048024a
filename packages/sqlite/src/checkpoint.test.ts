import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { oneWriteState, type RecordRow } from '@kith/core/adapter';
import { openSqliteStore, type SqliteStore } from './index.js';
import { LARGE_WRITE_ROWS } from './checkpoint.js';
import { inTempDir } from './sqlite-store.test.support.js';

const STAMP = '00000000010000000000devicedevice';

function rows(n: number, from = 0): RecordRow[] {
  return Array.from({ length: n }, (_, k) => {
    const fields = { title: `note ${from + k}`, body: 'x'.repeat(200) };
    return { collection: 'notes', id: `r${from + k}`, fields, deleted: false, state: oneWriteState(fields, STAMP), conflicted: false, updated: STAMP };
  });
}

/** Frames in the WAL that the store's writes left (read on another connection, whose passive checkpoint copies them but keeps the count). */
function walFrames(file: string): number {
  const db = new Database(file);
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    return r!.log;
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

for (const how of ['write', 'bulkLoad'] as const) {
  test(`a large ${how} is checkpointed as it commits: the next small write starts the WAL again instead of paying for the large one's pages`, async () => {
    await withStore(async (store, file) => {
      await store[how]((tx) => tx.putRecords(rows(LARGE_WRITE_ROWS)));
      await store.write((tx) => tx.setMeta('k', 1));
      // Without the checkpoint the WAL would hold the large write's hundreds of pages, then the small one's.
      const frames = walFrames(file);
      assert.ok(frames > 0 && frames < 20, `${frames} frames in the WAL`);
      assert.equal((await store.read((tx) => tx.getRecords('notes', ['r0', `r${LARGE_WRITE_ROWS - 1}`]))).size, 2);
    });
  });
}

test('small writes leave the checkpoint to SQLite: their frames stay in the WAL', async () => {
  await withStore(async (store, file) => {
    await store.write((tx) => tx.putRecords(rows(LARGE_WRITE_ROWS / 2)));
    await store.write((tx) => tx.putRecords(rows(LARGE_WRITE_ROWS / 2 - 1, LARGE_WRITE_ROWS)));
    assert.ok(walFrames(file) > 100);
  });
});
