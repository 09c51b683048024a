import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import type { JsonObject, JsonValue, RecordRow } from '@kith/core/adapter';
import { openSqliteStore } from './index.js';
import { OUTBOX_ROW_OPS } from './outbox.js';
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from './schema.js';
import { decodeState, encodeState } from './state-codec.js';
import { inTempDir } from './sqlite-store.test.support.js';

/** The state a record has after one write of all its fields (see state-codec.ts). */
function oneWrite(fields: JsonObject, stamp: string): JsonObject {
  return Object.fromEntries([...Object.keys(fields), ''].map((k) => [k, { w: stamp }]));
}

const row = (id: string, fields: JsonObject, state: JsonObject, updated = 'u1'): RecordRow => ({
  collection: 'c',
  id,
  fields,
  deleted: false,
  state,
  conflicted: false,
  updated,
});

describe('sqlite store schema 4', () => {
  test('a state of the one-write shape is stored as an empty column and read back exactly, key order included (property)', () => {
    const fieldsArb = fc.dictionary(fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }), fc.jsonValue() as fc.Arbitrary<JsonValue>, { maxKeys: 6 });
    fc.assert(
      fc.property(fieldsArb, fc.string({ minLength: 1, maxLength: 30 }), (fields, stamp) => {
        const parsed = JSON.parse(JSON.stringify(fields)) as JsonObject; // own keys only, as the store reads them
        const state = oneWrite(parsed, stamp);
        assert.equal(encodeState(parsed, state, stamp), '');
        const back = decodeState('', parsed, stamp);
        assert.deepEqual(back, state);
        assert.equal(JSON.stringify(back), JSON.stringify(state));
        // Any other stamp, an extra register, a loser or a missing liveness register is kept as JSON.
        for (const other of [
          { ...state, '': { w: `${stamp}x` } },
          { ...state, extra: { w: stamp } },
          { ...state, '': { w: stamp, l: [[stamp]] } },
          Object.fromEntries(Object.entries(state).filter(([k]) => k !== '')),
        ]) {
          const text = encodeState(parsed, other, stamp);
          assert.notEqual(text, '');
          assert.deepEqual(decodeState(text, parsed, stamp), other);
        }
      }),
    );
  });

  test('one-write states with prototype-named fields and reordered registers round-trip through the store', async () => {
    await inTempDir(async (dir) => {
      const store = await openSqliteStore(join(dir, 'kith.db'));
      const proto = JSON.parse('{"__proto__":1,"constructor":2,"10":3,"b":4}') as JsonObject;
      const reordered: JsonObject = { b: { w: 'u1' }, a: { w: 'u1' }, '': { w: 'u1' } };
      const rows = [
        row('p', proto, oneWrite(proto, 'u1'), 'u1'),
        row('r', { a: 1, b: 2 }, reordered, 'u1'),
        row('e', {}, { '': { w: 'u1' } }, 'u1'),
        { ...row('d', {}, { a: { w: 'u1' }, '': { w: 'u1' } }, 'u1'), deleted: true },
      ];
      await store.write((tx) => tx.putRecords(rows));
      const got = await store.read((tx) => tx.getRecords('c', ['p', 'r', 'e', 'd']));
      for (const r of rows) {
        assert.deepEqual(got.get(r.id), r);
        assert.equal(JSON.stringify(got.get(r.id)?.state), JSON.stringify(r.state));
      }
      assert.equal(Object.getPrototypeOf(got.get('p')!.state), Object.prototype);
      await store.close();
      const db = new Database(join(dir, 'kith.db'), { readonly: true });
      const states = Object.fromEntries(
        db
          .prepare('SELECT id, state FROM records')
          .all()
          .map((r) => [(r as { id: string }).id, (r as { state: string }).state]),
      );
      db.close();
      assert.equal(states['p'], '');
      assert.equal(states['e'], '');
      assert.notEqual(states['r'], '', 'a reordered state is not the one-write shape');
    });
  });

  test('outbox rows: many ops per row, deleting inside a row keeps the rest, seqs stay consecutive and are never reused', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'kith.db');
      const store = await openSqliteStore(file);
      const n = OUTBOX_ROW_OPS * 2 + 7;
      await store.write((tx) => tx.appendOutbox(Array.from({ length: n }, (_, i) => ({ n: i }))));
      await store.write((tx) => tx.appendOutbox([{ n: n }]));
      const all = await store.read((tx) => tx.readOutbox(10 * n));
      assert.equal(all.length, n + 1);
      all.forEach((e, i) => {
        assert.equal(e.op['n'], i);
        assert.equal(e.seq, all[0]!.seq + i);
      });
      const rows = (): number => {
        const db = new Database(file, { readonly: true });
        const count = db.prepare('SELECT count(*) FROM outbox').pluck().get() as number;
        db.close();
        return count;
      };
      assert.equal(rows(), 4);
      // Delete through the middle of the second row: the rest of it stays, in order.
      const cut = all[OUTBOX_ROW_OPS + 10]!.seq;
      await store.write((tx) => tx.deleteOutbox(cut));
      assert.equal(await store.read((tx) => tx.countOutbox()), n + 1 - (OUTBOX_ROW_OPS + 11));
      assert.deepEqual(await store.read((tx) => tx.readOutbox(3)), all.slice(OUTBOX_ROW_OPS + 11, OUTBOX_ROW_OPS + 14));
      assert.deepEqual(await store.read((tx) => tx.readOutbox(10 * n)), all.slice(OUTBOX_ROW_OPS + 11));
      await store.write((tx) => tx.deleteOutbox(all.at(-1)!.seq));
      assert.equal(await store.read((tx) => tx.countOutbox()), 0);
      await store.close();
      const again = await openSqliteStore(file);
      await again.write((tx) => tx.appendOutbox([{ n: 'later' }]));
      assert.equal((await again.read((tx) => tx.readOutbox(1)))[0]!.seq, all.at(-1)!.seq + 1);
      await again.close();
    });
  });

  test('a store written at schema version 3 opens with its outbox (same seqs), records and seq high-water mark', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'kith.db');
      // The v3 schema and rows as the v3 store wrote them: one outbox row per op, state as JSON text.
      const old = new Database(file);
      old.pragma('journal_mode = WAL');
      for (const m of MIGRATIONS.slice(0, 3)) old.exec(m);
      old.pragma(`application_id = ${APPLICATION_ID}`);
      old.pragma('user_version = 3');
      const put = old.prepare('INSERT INTO records (collection, id, fields, deleted, state, conflicted, updated) VALUES (?, ?, jsonb(?), ?, ?, ?, ?)');
      const fields = { title: 't', n: 1 };
      put.run('c', 'a', JSON.stringify(fields), 0, JSON.stringify(oneWrite(fields, 's1')), 0, 's1');
      put.run('c', 'b', JSON.stringify({ n: 2 }), 0, JSON.stringify({ n: { w: 's2', l: [['s0', 3]] }, '': { w: 's2' } }), 1, 's2');
      const append = old.prepare('INSERT INTO outbox (op) VALUES (?)');
      for (let i = 0; i < 12; i++) append.run(JSON.stringify({ k: 'p', n: i }));
      old.prepare('DELETE FROM outbox WHERE seq <= 9').run(); // pushed: seqs 10..12 wait
      const pending = old.prepare('SELECT seq, op FROM outbox ORDER BY seq').all() as { seq: number; op: string }[];
      old.close();

      const store = await openSqliteStore(file);
      await store.read(async (tx) => {
        assert.deepEqual(
          await tx.readOutbox(100),
          pending.map((r) => ({ seq: r.seq, op: JSON.parse(r.op) as JsonObject })),
        );
        assert.equal(await tx.countOutbox(), 3);
        const got = await tx.getRecords('c', ['a', 'b']);
        assert.deepEqual(got.get('a')?.state, oneWrite(fields, 's1'));
        assert.deepEqual(got.get('b')?.state, { n: { w: 's2', l: [['s0', 3]] }, '': { w: 's2' } });
        assert.deepEqual(
          (await tx.listConflicted()).map((r) => r.id),
          ['b'],
        );
      });
      await store.write((tx) => tx.deleteOutbox(12));
      await store.write((tx) => tx.appendOutbox([{ k: 'p', n: 12 }]));
      assert.deepEqual(await store.read((tx) => tx.readOutbox(10)), [{ seq: 13, op: { k: 'p', n: 12 } }], 'seqs go on after the old high-water mark');
      await store.close();
      const db = new Database(file, { readonly: true });
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      db.close();

      // An outbox emptied by a push before the upgrade: the seqs it gave are not given again.
      const emptied = join(dir, 'emptied.db');
      const v3 = new Database(emptied);
      for (const m of MIGRATIONS.slice(0, 3)) v3.exec(m);
      v3.pragma(`application_id = ${APPLICATION_ID}`);
      v3.pragma('user_version = 3');
      for (let i = 0; i < 5; i++) v3.prepare('INSERT INTO outbox (op) VALUES (?)').run('{}');
      v3.prepare('DELETE FROM outbox').run();
      v3.close();
      const upgraded = await openSqliteStore(emptied);
      assert.equal(await upgraded.read((tx) => tx.countOutbox()), 0);
      await upgraded.write((tx) => tx.appendOutbox([{ n: 'after' }]));
      assert.equal((await upgraded.read((tx) => tx.readOutbox(1)))[0]!.seq, 6);
      await upgraded.close();
    });
  });
});
