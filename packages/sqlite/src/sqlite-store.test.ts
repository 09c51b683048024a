import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ErrorCode, KithError, type Store } from '@kith/core';
import { runStoreConformance } from '@kith/core/testing';
import { openSqliteStore } from './index.js';

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'kith-sqlite-'));

runStoreConformance('sqlite store', async () => {
  const dir = tempDir();
  const file = join(dir, 'home', 'kith.db');
  const opened: Store[] = [];
  const openOne = async (): Promise<Store> => {
    const s = await openSqliteStore(file);
    opened.push(s);
    return s;
  };
  return {
    store: await openOne(),
    reopen: openOne,
    cleanup: async () => {
      for (const s of opened) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite store specifics', () => {
  test('the home directory is 0700 and the database file 0600 (it holds private keys)', async () => {
    const dir = tempDir();
    try {
      const file = join(dir, 'home', 'kith.db');
      const store = await openSqliteStore(file);
      await store.write((tx) => tx.setMeta('k', 1));
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(statSync(join(dir, 'home')).mode & 0o777, 0o700);
      assert.equal(statSync(file + '-wal').mode & 0o777, 0o600);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a store from a newer kith is refused with KITH_STORE_TOO_NEW; a foreign database too', async () => {
    const dir = tempDir();
    try {
      const file = join(dir, 'kith.db');
      await (await openSqliteStore(file)).close();
      const db = new Database(file);
      db.pragma('user_version = 99');
      db.close();
      await assert.rejects(openSqliteStore(file), (e: unknown) => KithError.is(e, ErrorCode.StoreTooNew) && /upgrade kith/.test(e.hint ?? ''));
      const other = join(dir, 'other.db');
      const odb = new Database(other);
      odb.exec('CREATE TABLE photos (x)');
      odb.close();
      await assert.rejects(openSqliteStore(other), (e: unknown) => KithError.is(e, ErrorCode.StoreFailed) && /not a kith store/.test((e as Error).message));
      writeFileSync(join(dir, 'junk.db'), 'this is not sqlite at all, just text '.repeat(200));
      await assert.rejects(openSqliteStore(join(dir, 'junk.db')), (e: unknown) => KithError.is(e, ErrorCode.StoreFailed));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a full disk fails with KITH_STORE_FAILED, rolls back, and loses nothing committed', async () => {
    const dir = tempDir();
    try {
      const store = await openSqliteStore(join(dir, 'kith.db'), { maxPageCount: 40 });
      await store.write((tx) => tx.setMeta('kept', 'safe'));
      const big = 'x'.repeat(4000);
      await assert.rejects(
        store.write(async (tx) => {
          for (let i = 0; i < 200; i++) await tx.putRecords([{ collection: 'c', id: `r${i}`, fields: { big }, deleted: false, state: {}, conflicted: false, updated: 'u' }]);
        }),
        (e: unknown) => KithError.is(e, ErrorCode.StoreFailed) && /disk full/.test((e as Error).message),
      );
      assert.equal(await store.read((tx) => tx.getMeta('kept')), 'safe');
      assert.equal((await store.read((tx) => tx.getRecords('c', ['r0']))).size, 0, 'the failed transaction left nothing');
      await store.write((tx) => tx.setMeta('after', true));
      assert.equal(await store.read((tx) => tx.getMeta('after')), true);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('two processes writing the same file at once: every row lands, no lock error surfaces', async () => {
    const dir = tempDir();
    try {
      const file = join(dir, 'kith.db');
      const store = await openSqliteStore(file);
      const child = spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { openSqliteStore } from ${JSON.stringify(new URL('./index.js', import.meta.url).href)};
           const s = await openSqliteStore(${JSON.stringify(file)});
           for (let i = 0; i < 300; i++) await s.write((tx) => tx.appendOutbox([{ from: 'child', i }]));
           await s.close();`,
        ],
        { stdio: ['ignore', 'inherit', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      for (let i = 0; i < 300; i++) await store.write((tx) => tx.appendOutbox([{ from: 'parent', i }]));
      assert.equal(await exited, 0, stderr);
      assert.equal(await store.read((tx) => tx.countOutbox()), 600);
      const all = await store.read((tx) => tx.readOutbox(1000));
      assert.deepEqual(new Set(all.map((e) => e.seq)).size, 600, 'every seq distinct');
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
