import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ErrorCode, KithError, type JsonObject, type RecordRow, type Store } from '@kith/core/adapter';
import { runStoreConformance } from '@kith/core/testing';
import { openSqliteStore } from './index.js';
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from './schema.js';
import { inTempDir, storeFailed, tempDir } from './sqlite-store.test.support.js';

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

const ids = (rows: readonly RecordRow[]): string[] => rows.map((r) => r.id);
const record = (id: string, fields: JsonObject = {}): RecordRow => ({
  collection: 'c',
  id,
  fields,
  deleted: false,
  state: {},
  conflicted: false,
  updated: 'u',
});

describe('sqlite store specifics', () => {
  test('the home directory is 0700 and the database file 0600 (it holds private keys)', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'home', 'kith.db');
      const store = await openSqliteStore(file);
      await store.write((tx) => tx.setMeta('k', 1));
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(statSync(join(dir, 'home')).mode & 0o777, 0o700);
      assert.equal(statSync(file + '-wal').mode & 0o777, 0o600);
      assert.equal(statSync(file + '-shm').mode & 0o777, 0o600);
      await store.close();
      // A file left readable by others (a copied home) is tightened on open.
      chmodSync(file, 0o644);
      await (await openSqliteStore(file)).close();
      assert.equal(statSync(file).mode & 0o777, 0o600);
    });
  });

  test('a new file is migrated from empty to the current schema, once', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'kith.db');
      writeFileSync(file, ''); // an empty file, as a crash right after creating it leaves
      const store = await openSqliteStore(file);
      await store.write((tx) => tx.putRecords([record('a', { n: 1 })]));
      await store.close();
      const db = new Database(file, { readonly: true });
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.equal(db.pragma('application_id', { simple: true }), APPLICATION_ID);
      const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all();
      assert.deepEqual(tables, ['log', 'meta', 'outbox', 'outbox_kept', 'own_segments', 'records']);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      db.close();
      // Opening again migrates nothing and keeps the data.
      const again = await openSqliteStore(file);
      assert.deepEqual((await again.read((tx) => tx.getRecords('c', ['a']))).get('a')?.fields, { n: 1 });
      await again.close();
    });
  });

  test('a store written at schema version 1 (fields as JSON text) is migrated with its data', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'kith.db');
      const old = new Database(file);
      old.exec(MIGRATIONS[0]!);
      old.pragma(`application_id = ${APPLICATION_ID}`);
      old.pragma('user_version = 1');
      const insert = old.prepare('INSERT INTO records (collection, id, fields, deleted, state, conflicted, updated) VALUES (?, ?, ?, ?, ?, ?, ?)');
      const fields = [{ n: 2, t: 'é😀\ud800' }, { n: 1, nested: { a: [true, null] } }, {}];
      fields.forEach((f, i) => insert.run('c', `r${i}`, JSON.stringify(f), 0, JSON.stringify({ s: i }), i === 1 ? 1 : 0, 'u'));
      old.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('vault', '"v1"');
      old.close();
      const store = await openSqliteStore(file);
      await store.read(async (tx) => {
        const got = await tx.getRecords('c', ['r0', 'r1', 'r2']);
        fields.forEach((f, i) => assert.deepEqual(got.get(`r${i}`)?.fields, f));
        assert.deepEqual(ids((await tx.query({ collection: 'c', order: { field: 'n', direction: 'asc' } })).rows), ['r2', 'r1', 'r0']);
        assert.deepEqual(ids((await tx.query({ collection: 'c', where: [{ field: 'n', value: 2 }] })).rows), ['r0']);
        assert.deepEqual(ids(await tx.listConflicted()), ['r1']);
        assert.equal(await tx.getMeta('vault'), 'v1');
        assert.deepEqual(await tx.listOwnSegments(), [], 'a store from before kept segments starts with none');
      });
      await store.close();
      const db = new Database(file, { readonly: true });
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      db.close();
    });
  });

  test('a store from a newer kith is refused with KITH_STORE_TOO_NEW; a foreign database too', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'kith.db');
      await (await openSqliteStore(file)).close();
      const db = new Database(file);
      db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
      db.close();
      await assert.rejects(openSqliteStore(file), (e: unknown) => KithError.is(e, ErrorCode.StoreTooNew) && /upgrade kith/.test(e.hint ?? ''));
      // Refusing did not touch the file.
      const check = new Database(file, { readonly: true });
      assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION + 1);
      check.close();
      const other = join(dir, 'other.db');
      const odb = new Database(other);
      odb.exec('CREATE TABLE photos (x)');
      odb.close();
      await assert.rejects(openSqliteStore(other), storeFailed(/not a kith store/));
      writeFileSync(join(dir, 'junk.db'), 'this is not sqlite at all, just text '.repeat(200));
      await assert.rejects(openSqliteStore(join(dir, 'junk.db')), storeFailed(/damaged or not a kith store/));
    });
  });

  test('a home that cannot be created fails with KITH_STORE_FAILED', async () => {
    await inTempDir(async (dir) => {
      writeFileSync(join(dir, 'a-file'), 'x');
      await assert.rejects(openSqliteStore(join(dir, 'a-file', 'home', 'kith.db')), storeFailed(/cannot create the store \(ENOTDIR\)/));
    });
  });

  test('a full disk fails with KITH_STORE_FAILED, rolls back, and loses nothing committed; deleting frees room', async () => {
    await inTempDir(async (dir) => {
      const store = await openSqliteStore(join(dir, 'kith.db'), { maxPageCount: 60 });
      await store.write((tx) => tx.setMeta('kept', 'safe'));
      const big = 'x'.repeat(3000);
      // Fill the file one committed transaction at a time until the disk is "full".
      let committed = 0;
      let failure: unknown;
      while (failure === undefined) {
        try {
          await store.write(async (tx) => {
            await tx.appendOutbox([{ n: committed, big }]);
            await tx.putRecords([record(`r${committed}`, { big })]);
          });
          committed++;
        } catch (e) {
          failure = e;
        }
        assert.ok(committed < 1000, 'maxPageCount did not cap the file');
      }
      assert.ok(storeFailed(/disk full/)(failure), failure instanceof Error ? failure.message : 'not an Error');
      assert.ok(committed > 0);
      // Everything committed before is intact; the failed transaction left nothing.
      await store.read(async (tx) => {
        assert.equal(await tx.getMeta('kept'), 'safe');
        assert.equal(await tx.countOutbox(), committed);
        assert.deepEqual(
          (await tx.readOutbox(committed)).map((e) => e.op['n']),
          Array.from({ length: committed }, (_, i) => i),
        );
        assert.equal(
          (
            await tx.getRecords(
              'c',
              Array.from({ length: committed + 1 }, (_, i) => `r${i}`),
            )
          ).size,
          committed,
        );
      });
      // A write that catches the failure and carries on still keeps nothing: SQLite may have
      // rolled back already, so the store refuses the rest and rejects instead of committing.
      let caught: unknown;
      await assert.rejects(
        store.write(async (tx) => {
          await tx.setMeta('swallowed', 'before');
          try {
            await tx.putRecords(Array.from({ length: 50 }, (_, i) => record(`more${i}`, { big })));
          } catch (e) {
            caught = e;
          }
          await tx.setMeta('swallowed', 'after');
        }),
        (e: unknown) => e === caught && storeFailed(/disk full/)(e),
      );
      assert.equal(await store.read((tx) => tx.getMeta('swallowed')), undefined);
      // Deleting frees pages, and the store takes writes again.
      await store.write(async (tx) => tx.deleteOutbox(Number.MAX_SAFE_INTEGER));
      await store.write((tx) => tx.appendOutbox([{ n: 'after', big }]));
      assert.equal(await store.read((tx) => tx.countOutbox()), 1);
      await store.close();
    });
  });

  test(
    'bulkRead holds no write back: this process writes and commits while a long read goes on, and the read keeps its own state',
    { timeout: 60_000 },
    async () => {
      await inTempDir(async (dir) => {
        const store = await openSqliteStore(join(dir, 'kith.db'));
        await store.write((tx) => tx.putRecords([record('a')]));
        const seen = await store.bulkRead(async (tx) => {
          const before = ids((await tx.query({ collection: 'c' })).rows);
          // On one connection this write would wait for the read to end: awaiting it here would never return.
          await store.write((w) => w.putRecords([record('b')]));
          const committed = ids((await store.read((r) => r.query({ collection: 'c' }))).rows);
          return { before, committed, after: ids((await tx.query({ collection: 'c' })).rows) };
        });
        assert.deepEqual(seen, { before: ['a'], committed: ['a', 'b'], after: ['a'] });
        const closing = store.bulkRead(async (tx) => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          return (await tx.query({ collection: 'c' })).rows.length;
        });
        await store.close();
        assert.equal(await closing, 2);
        await assert.rejects(
          store.bulkRead(async () => 1),
          storeFailed(/closed/),
        );
      });
    },
  );

  test('a closed store rejects transactions; closing twice is harmless', async () => {
    await inTempDir(async (dir) => {
      const store = await openSqliteStore(join(dir, 'kith.db'));
      const pending = store.write((tx) => tx.setMeta('m', 1));
      await store.close(); // waits for the running write
      await pending;
      await store.close();
      await assert.rejects(
        store.read((tx) => tx.getMeta('m')),
        storeFailed(/closed/),
      );
      const again = await openSqliteStore(join(dir, 'kith.db'));
      assert.equal(await again.read((tx) => tx.getMeta('m')), 1);
      await again.close();
    });
  });

  test('query cursors are checked: garbage and a cursor of another order are KITH_BAD_INPUT', async () => {
    await inTempDir(async (dir) => {
      const store = await openSqliteStore(join(dir, 'kith.db'));
      await store.write((tx) => tx.putRecords(['a', 'b', 'c'].map((id, n) => record(id, { n }))));
      const page = await store.read((tx) => tx.query({ collection: 'c', order: { field: 'n', direction: 'asc' }, limit: 1 }));
      assert.ok(page.next !== null);
      const bad = (e: unknown): boolean => KithError.is(e, ErrorCode.BadInput) && /cursor/.test(e.message);
      await assert.rejects(
        store.read((tx) => tx.query({ collection: 'c', limit: 1, after: 'not a cursor!' })),
        bad,
      );
      await assert.rejects(
        store.read((tx) => tx.query({ collection: 'c', limit: 1, after: 'e30' })),
        bad,
      );
      await assert.rejects(
        store.read((tx) => tx.query({ collection: 'c', order: { field: 'n', direction: 'desc' }, limit: 1, after: page.next ?? '' })),
        bad,
      );
      await assert.rejects(
        store.read((tx) => tx.query({ collection: 'c', limit: 0 })),
        (e: unknown) => KithError.is(e, ErrorCode.BadInput),
      );
      await store.close();
    });
  });
});
