import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { Vault } from '@kith/core';
import type { JsonObject, JsonValue, LogEntry, RecordRow } from '@kith/core/adapter';
import { openMemoryRemote, seededRandom } from '@kith/core/testing';
import { openSqliteStore } from './index.js';
import { OUTBOX_ROW_OPS } from './outbox.js';
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from './schema.js';
import { inTempDir } from './sqlite-store.test.support.js';

/** Rows of the tables a local write touches, read beside the store. */
function tableRows(file: string): { log: number; outbox: number; historyRows: number } {
  const db = new Database(file, { readonly: true });
  try {
    const count = (sql: string): number => db.prepare(sql).pluck().get() as number;
    return {
      log: count('SELECT count(*) FROM log'),
      outbox: count('SELECT count(*) FROM outbox'),
      historyRows: count('SELECT count(*) FROM outbox WHERE device IS NOT NULL'),
    };
  } finally {
    db.close();
  }
}

describe('sqlite store schema 5', () => {
  test('a local batch keeps its history in the outbox rows (no log row per write); push moves it into the log unchanged', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'kith.db');
      const { vault } = await Vault.create({
        store: await openSqliteStore(file),
        remote: openMemoryRemote(new Map()),
        remoteUrl: 'memory:',
        deps: { random: seededRandom(5) },
      });
      try {
        const before = tableRows(file);
        const n = OUTBOX_ROW_OPS * 3 + 5;
        await vault.batch((b) => {
          for (let i = 0; i < n; i++) b.put('notes', `r${i}`, { title: `t${i}`, n: i });
          b.patch('notes', 'r1', { title: 'edited' });
          b.delete('notes', 'r2');
        });
        await vault.put('notes', 'single', { n: -1 });
        const written = tableRows(file);
        assert.equal(written.log, before.log, 'no history row per local write');
        assert.equal(written.historyRows, 4 + 1, 'one outbox row per 256 ops of the batch, one for the single put');
        const log = await vault.log();
        const mine = log.filter((e) => e.collection === 'notes');
        assert.equal(mine.length, n + 3);
        assert.deepEqual(
          mine.slice(-4).map((e) => `${e.id} ${e.kind} ${e.fields.join(',')}`),
          [`r${n - 1} put title,n`, 'r1 patch title', 'r2 delete title,n', 'single put n'],
        );
        assert.deepEqual(await vault.log({ collection: 'notes', id: 'r1' }), [mine[1], mine.at(-3)]);
        assert.deepEqual(await vault.log({ limit: 2 }), log.slice(-2));

        await vault.push();
        const pushed = tableRows(file);
        assert.equal(pushed.outbox, 0);
        assert.equal(pushed.log, before.log + n + 3, 'push moved every entry into the log');
        assert.deepEqual(await vault.log(), log, 'the history reads the same after the push');
        assert.deepEqual(await vault.log({ collection: 'notes', id: 'r1' }), [mine[1], mine.at(-3)]);
      } finally {
        await vault.close();
      }
    });
  });

  test('an own op whose fields object the same transaction wrote as a row reads back from the outbox exactly, key order included (property)', async () => {
    await inTempDir(async (dir) => {
      const store = await openSqliteStore(join(dir, 'kith.db'));
      try {
        const nameArb = fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }), fc.constantFrom('__proto__', 'constructor', '0', '10', 's'));
        const fieldsArb = fc
          .uniqueArray(fc.tuple(nameArb, fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>), { selector: ([k]) => k, maxLength: 6 })
          .map((entries) => Object.assign(Object.create(null) as JsonObject, Object.fromEntries(entries)));
        const opArb = fc.record({ fields: fieldsArb, shared: fc.boolean(), extra: fc.option(fc.jsonValue({ maxDepth: 1 }) as fc.Arbitrary<JsonValue>) });
        let n = 0;
        await fc.assert(
          fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 8 }), async (specs) => {
            const rows: RecordRow[] = [];
            const ops: JsonObject[] = specs.map(({ fields, shared, extra }) => {
              const id = `r${n++}`;
              rows.push({ collection: 'c', id, fields, deleted: false, state: {}, conflicted: false, updated: 'u' });
              const op: Record<string, JsonValue | undefined> = { c: 'c', i: id, t: '0000000000001', k: 'p', s: shared ? fields : { ...fields }, a: true };
              // Keys after s, and an undefined one JSON.stringify leaves out.
              if (extra !== null) op['x'] = extra;
              op['gone'] = undefined;
              return op as JsonObject;
            });
            const before = (await store.read((tx) => tx.readOutbox(1e6))).length;
            await store.write(async (tx) => {
              await tx.putRecords(rows);
              await tx.appendOwnOps!(ops, 'dev1');
            });
            const back = (await store.read((tx) => tx.readOutbox(1e6))).slice(before).map((e) => e.op);
            assert.equal(JSON.stringify(back), JSON.stringify(ops));
          }),
          { seed: 0x6b697468, numRuns: 60 },
        );
      } finally {
        await store.close();
      }
    });
  });

  test('pruning sees the history the outbox stands for: old entries go, each record keeps its newest, the ops stay until pushed', async () => {
    await inTempDir(async (dir) => {
      const store = await openSqliteStore(join(dir, 'kith.db'));
      try {
        const op = (id: string, t: number): JsonObject => ({ c: 'notes', i: id, t: String(t).padStart(13, '0'), k: 'p', s: { t }, a: true });
        const ops = [op('x', 1), op('x', 2), op('y', 3), op('x', 50)];
        await store.write((tx) => tx.appendOwnOps!(ops.slice(0, 3), 'dev1'));
        await store.write((tx) => tx.appendOwnOps!(ops.slice(3), 'dev1'));
        const before = '0000000000010';
        assert.equal(await store.pruneLog(before, 100), 2, "x's two old entries go: x has a newer one, still in the outbox");
        const ids = async (): Promise<string[]> => (await store.read((tx) => tx.readLog({}))).map((e) => `${e.id}${Number(e.stamp.slice(0, 13))}`);
        assert.deepEqual(await ids(), ['y3', 'x50']);
        assert.equal(await store.pruneLog(before, 100), 0);
        assert.deepEqual(
          (await store.read((tx) => tx.readOutbox(10))).map((e) => e.op),
          ops,
          'the ops wait for their push',
        );
        await store.write((tx) => tx.deleteOutbox(4));
        assert.deepEqual(await ids(), ['y3', 'x50'], 'pushing adds no entry twice');
      } finally {
        await store.close();
      }
    });
  });

  test('a store written at schema version 4 opens with its history and outbox; pushing its old outbox rows adds no history twice', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'kith.db');
      // The v4 schema and rows as the v4 store wrote them: a history row per write, outbox rows of many ops.
      const old = new Database(file);
      old.pragma('journal_mode = WAL');
      for (const m of MIGRATIONS.slice(0, 4)) old.exec(m);
      old.pragma(`application_id = ${APPLICATION_ID}`);
      old.pragma('user_version = 4');
      const entries: LogEntry[] = [0, 1, 2].map((i) => ({
        collection: 'notes',
        id: `r${i}`,
        stamp: `000000000000${i}dev1`,
        device: 'dev1',
        kind: 'put',
        fields: ['n'],
      }));
      const log = old.prepare('INSERT INTO log (collection, id, stamp, device, kind, fields) VALUES (?, ?, ?, ?, ?, ?)');
      for (const e of entries) log.run(e.collection, e.id, e.stamp, e.device, e.kind, JSON.stringify(e.fields));
      const ops: JsonObject[] = [0, 1, 2].map((i) => ({ c: 'notes', i: `r${i}`, t: `000000000000${i}`, k: 'p', s: { n: i }, a: true }));
      old.prepare('INSERT INTO outbox (seq, first, ops) VALUES (?, ?, ?)').run(3, 1, JSON.stringify(ops));
      old.close();

      const store = await openSqliteStore(file);
      try {
        assert.deepEqual(await store.read((tx) => tx.readLog({})), entries);
        assert.deepEqual(
          await store.read((tx) => tx.readOutbox(10)),
          ops.map((op, i) => ({ seq: i + 1, op })),
        );
        await store.write((tx) => tx.deleteOutbox(2));
        await store.write((tx) => tx.deleteOutbox(3));
        assert.deepEqual(await store.read((tx) => tx.readLog({})), entries, 'the old rows stood for no history');
        const own: JsonObject = { c: 'notes', i: 'r3', t: '0000000000003', k: 'm', s: { n: 3 }, a: true };
        await store.write((tx) => tx.appendOwnOps!([own], 'dev1'));
        const added: LogEntry = { collection: 'notes', id: 'r3', stamp: '0000000000003dev1', device: 'dev1', kind: 'patch', fields: ['n'] };
        assert.deepEqual(await store.read((tx) => tx.readLog({})), [...entries, added]);
        assert.deepEqual(
          (await store.read((tx) => tx.readOutbox(10))).map((e) => e.seq),
          [4],
          'seqs go on after the old high-water mark',
        );
      } finally {
        await store.close();
      }
      const db = new Database(file, { readonly: true });
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.equal(SCHEMA_VERSION, 6);
      db.close();
    });
  });
});
