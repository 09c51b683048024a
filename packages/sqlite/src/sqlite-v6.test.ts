import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { ErrorCode, KithError, Vault } from '@kith/core';
import { historyOfOwnOp, oneWriteState, type JsonObject, type JsonValue, type LogEntry, type RecordRow, type Store, type StoreTx } from '@kith/core/adapter';
import { openMemoryRemote, seededRandom } from '@kith/core/testing';
import { openSqliteStore, type SqliteStore } from './index.js';
import { SCHEMA_VERSION } from './schema.js';
import { inTempDir, oldStore } from './sqlite-store.test.support.js';

/**
 * A store that records, per committed write transaction, the JSON text of the own ops it was given (what
 * was written, fixed at that moment), and every op `readOutbox` returned by seq (what a push reads).
 */
function recording(store: SqliteStore): { store: Store; written: string[]; read: Map<number, string> } {
  const written: string[] = [];
  const read = new Map<number, string>();
  const wrap = (tx: StoreTx, ops: string[] | undefined): StoreTx =>
    new Proxy(tx, {
      get(target, name) {
        const value = Reflect.get(target, name, target) as unknown;
        if (typeof value !== 'function') return value;
        if (name === 'appendOwnOps' && ops !== undefined) {
          return async (list: readonly JsonObject[], device: string) => {
            for (const op of list) ops.push(JSON.stringify(op));
            return tx.appendOwnOps!(list, device);
          };
        }
        if (name === 'readOutbox') {
          return async (limit: number) => {
            const entries = await tx.readOutbox(limit);
            for (const e of entries) read.set(e.seq, JSON.stringify(e.op));
            return entries;
          };
        }
        return (value as (...a: unknown[]) => unknown).bind(target);
      },
    });
  return {
    written,
    read,
    store: {
      read: (fn) => store.read((tx) => fn(wrap(tx, undefined))),
      write: async (fn) => {
        const ops: string[] = [];
        const out = await store.write((tx) => fn(wrap(tx, ops)));
        written.push(...ops);
        return out;
      },
      close: () => store.close(),
      pruneLog: (before, limit) => store.pruneLog(before, limit),
    },
  };
}

/** Rows and bytes of the outbox, read beside the store. */
function outboxFigures(file: string): { rows: number; opsBytes: number; fieldsBytes: number; kept: number } {
  const db = new Database(file, { readonly: true });
  try {
    const count = (sql: string): number => db.prepare(sql).pluck().get() as number;
    return {
      rows: count('SELECT count(*) FROM outbox'),
      opsBytes: count('SELECT coalesce(sum(length(ops)), 0) FROM outbox'),
      fieldsBytes: count("SELECT coalesce(sum(length(json(fields))), 0) FROM records WHERE collection = 'notes'"),
      kept: count('SELECT count(*) FROM outbox_kept'),
    };
  } finally {
    db.close();
  }
}

async function newVault(store: Store): Promise<Vault> {
  const { vault } = await Vault.create({ store, remote: openMemoryRemote(new Map()), remoteUrl: 'memory:', deps: { random: seededRandom(11) } });
  return vault;
}

/** A row as a pull leaves it after another device's put (`deleted`: its delete) stamped `stamp`. */
function remoteRow(id: string, fields: JsonObject, stamp: string, deleted: boolean): RecordRow {
  const kept = deleted ? {} : fields;
  return { collection: 'notes', id, fields: kept, deleted, state: oneWriteState(kept, stamp), conflicted: false, updated: stamp };
}

type Step =
  | { kind: 'batch'; writes: { kind: 'put' | 'patch' | 'delete'; id: string; fields: JsonObject }[] }
  | { kind: 'remote'; id: string; fields: JsonObject; deleted: boolean }
  | { kind: 'push' };

const ids = fc.constantFrom('a', 'b', 'c', 'd');
const fieldName = fc.oneof(fc.constantFrom('title', 'n', '__proto__', 'constructor', '0'), fc.string({ minLength: 1, maxLength: 4 }));
const fieldsArb = fc
  .uniqueArray(fc.tuple(fieldName, fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>), { selector: ([k]) => k, minLength: 1, maxLength: 4 })
  .map((entries): JsonObject => Object.fromEntries<JsonValue>(entries));
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('batch' as const),
      writes: fc.array(fc.record({ kind: fc.constantFrom('put' as const, 'put' as const, 'patch' as const, 'delete' as const), id: ids, fields: fieldsArb }), {
        minLength: 1,
        maxLength: 6,
      }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remote' as const), id: ids, fields: fieldsArb, deleted: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'push' as const }) },
);

describe('sqlite store schema 6', () => {
  test('a batch of puts on new records keeps each op in the outbox as a reference to its row, not a second copy of its fields', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'kith.db');
      const vault = await newVault(await openSqliteStore(file));
      try {
        await vault.batch((b) => {
          for (let i = 0; i < 1000; i++) b.put('notes', `r${i}`, { title: `a title of some length, number ${i}`, body: 'x'.repeat(200), n: i });
        });
        const f = outboxFigures(file);
        assert.ok(f.opsBytes * 4 < f.fieldsBytes, `the outbox holds ${f.opsBytes} bytes for ${f.fieldsBytes} bytes of fields`);
        const pending = await vault.status();
        assert.equal(pending.pending, 1000);
      } finally {
        await vault.close();
      }
    });
  });

  test('any interleaving of local writes and merged remote rows before a push: the push reads each op as it was written, in order (property)', async () => {
    await inTempDir(async (dir) => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 14 }), async (steps) => {
          const file = join(dir, `p${run++}.db`);
          const rec = recording(await openSqliteStore(file));
          const vault = await newVault(rec.store);
          const device = vault.deviceId;
          try {
            let remoteClock = 0;
            let pushedThrough = 0;
            const checkPush = async (): Promise<void> => {
              await vault.push();
              const read = [...rec.read].sort((x, y) => x[0] - y[0]).map(([, text]) => text);
              assert.deepEqual(read, rec.written, 'the ops the push read are the ops written, in order');
              assert.equal((await vault.status()).pending, 0);
              pushedThrough = rec.written.length;
            };
            for (const step of steps) {
              if (step.kind === 'push') await checkPush();
              else if (step.kind === 'remote') {
                // Another device's write, merged: its stamp sorts before or after this device's, either may happen.
                const stamp = `${(remoteClock++ % 2 === 0 ? '0' : 'z').repeat(13)}remote${remoteClock}`;
                await rec.store.write((tx) => tx.putRecords([remoteRow(step.id, step.fields, stamp, step.deleted)]));
              } else {
                try {
                  await vault.batch((b) => {
                    for (const w of step.writes) {
                      if (w.kind === 'delete') b.delete('notes', w.id);
                      else b[w.kind]('notes', w.id, w.fields);
                    }
                  });
                } catch (e) {
                  // A patch or delete of a record that is not there rolls the whole batch back; the recorder saw no commit.
                  if (!(e instanceof KithError && e.code === ErrorCode.NotFound)) throw e;
                }
              }
            }
            const own = (await vault.log()).filter((e: LogEntry) => e.device === device && e.collection === 'notes');
            const expected = rec.written.map((text) => historyOfOwnOp(JSON.parse(text) as JsonObject, device)).filter((e) => e.collection === 'notes');
            assert.deepEqual(own, expected, 'the history is the written ops');
            await checkPush();
            assert.ok(pushedThrough === rec.written.length);
            assert.equal(outboxFigures(file).kept, 0, 'no kept copy outlives the outbox');
          } finally {
            await vault.close();
          }
        }),
        { seed: 0x6b697468, numRuns: 40 },
      );
    });
  });

  test('a record put and changed again in later rounds of the same batch pushes the put as written', async () => {
    await inTempDir(async (dir) => {
      const rec = recording(await openSqliteStore(join(dir, 'kith.db')));
      const vault = await newVault(rec.store);
      try {
        await vault.batch((b) => {
          for (let i = 0; i < 600; i++) b.put('notes', `r${i}`, { title: `t${i}`, n: i });
          for (let i = 0; i < 600; i += 7) b.patch('notes', `r${i}`, { title: `edited ${i}` });
          b.delete('notes', 'r1');
          b.put('notes', 'r2', { replaced: true });
        });
        await vault.push();
        const read = [...rec.read].sort((x, y) => x[0] - y[0]).map(([, text]) => text);
        assert.equal(read.length, 600 + 86 + 2);
        assert.deepEqual(read, rec.written);
        assert.deepEqual(JSON.parse(read[0]!), {
          c: 'notes',
          i: 'r0',
          t: (JSON.parse(read[0]!) as { t: string }).t,
          k: 'p',
          s: { title: 't0', n: 0 },
          a: true,
        });
      } finally {
        await vault.close();
      }
    });
  });

  test('a store written at schema version 5 opens with its outbox and history; its old rows push as before and new writes go on after them', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'kith.db');
      const old = oldStore(file, 5);
      const ops: JsonObject[] = [0, 1, 2].map((i) => ({ c: 'notes', i: `r${i}`, t: `000000000000${i}`, k: 'p', s: { n: i }, a: true }));
      old
        .prepare('INSERT INTO outbox (seq, first, ops, device, oldest, last) VALUES (?, ?, ?, ?, ?, ?)')
        .run(3, 1, JSON.stringify(ops), 'dev1', '0000000000000dev1', '0000000000002dev1');
      const row = old.prepare("INSERT INTO records (collection, id, fields, deleted, state, conflicted, updated) VALUES ('notes', ?, jsonb(?), 0, '', 0, ?)");
      for (const op of ops) row.run(op['i'], JSON.stringify(op['s']), `${op['t'] as string}dev1`);
      old.close();

      const store = await openSqliteStore(file);
      try {
        assert.deepEqual(
          await store.read((tx) => tx.readOutbox(10)),
          ops.map((op, i) => ({ seq: i + 1, op })),
        );
        assert.deepEqual(
          await store.read((tx) => tx.readLog({})),
          ops.map((op) => historyOfOwnOp(op, 'dev1')),
        );
        // A new own put on an empty record, the way the vault writes it: ops first, then the row from the op's fields.
        const fields: JsonObject = { n: 3 };
        const own: JsonObject = { c: 'notes', i: 'r3', t: '0000000000003', k: 'p', s: fields, a: true };
        await store.write(async (tx) => {
          await tx.appendOwnOps!([own], 'dev1');
          await tx.putRecords([
            {
              collection: 'notes',
              id: 'r3',
              fields,
              deleted: false,
              state: oneWriteState(fields, '0000000000003dev1'),
              conflicted: false,
              updated: '0000000000003dev1',
            },
          ]);
        });
        // An old row changes before its push: the old rows hold whole ops, which keep what was written.
        await store.write((tx) => tx.putRecords([remoteRow('r0', { n: 99 }, '9999999999999dev2', false)]));
        assert.deepEqual(
          await store.read((tx) => tx.readOutbox(10)),
          [...ops, own].map((op, i) => ({ seq: i + 1, op })),
        );
        await store.write((tx) => tx.deleteOutbox(2));
        await store.write((tx) => tx.deleteOutbox(4));
        assert.deepEqual(
          await store.read((tx) => tx.readLog({})),
          [...ops, own].map((op) => historyOfOwnOp(op, 'dev1')),
        );
      } finally {
        await store.close();
      }
      const db = new Database(file, { readonly: true });
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.equal(db.prepare("SELECT state FROM records WHERE id = 'r3'").pluck().get(), '@', 'the new put was kept by reference');
      db.close();
    });
  });

  test('a push that cuts an outbox row keeps the references after the cut, and the kept copies go with the ops they keep', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'kith.db');
      const store = await openSqliteStore(file);
      try {
        const put = (id: string, t: string): { op: JsonObject; row: RecordRow } => {
          const fields: JsonObject = { title: id, t };
          const stamp = `${t}dev1`;
          return {
            op: { c: 'notes', i: id, t, k: 'p', s: fields, a: true },
            row: { collection: 'notes', id, fields, deleted: false, state: oneWriteState(fields, stamp), conflicted: false, updated: stamp },
          };
        };
        const puts = ['a', 'b', 'c'].map((id, k) => put(id, `000000000000${k + 1}`));
        await store.write(async (tx) => {
          await tx.appendOwnOps!(
            puts.map((p) => p.op),
            'dev1',
          );
          await tx.putRecords(puts.map((p) => p.row));
        });
        const ops = puts.map((p) => JSON.parse(JSON.stringify(p.op)) as JsonObject);
        // Rows a and c change before the push: their ops must still read as written.
        await store.write((tx) => tx.putRecords([remoteRow('a', { n: 1 }, '9999999999999dev2', false), remoteRow('c', {}, '9999999999999dev2', true)]));
        assert.equal(outboxFigures(file).kept, 2);
        await store.write((tx) => tx.deleteOutbox(1));
        assert.equal(outboxFigures(file).kept, 1, "a's copy went with its op");
        assert.deepEqual(
          await store.read((tx) => tx.readOutbox(10)),
          [2, 3].map((seq) => ({ seq, op: ops[seq - 1]! })),
        );
        await store.write((tx) => tx.deleteOutbox(3));
        assert.equal(outboxFigures(file).kept, 0);
        assert.deepEqual(
          await store.read((tx) => tx.readLog({})),
          ops.map((op) => historyOfOwnOp(op, 'dev1')),
        );
      } finally {
        await store.close();
      }
    });
  });

  test('a reference whose row and kept copy are both gone fails the read with KITH_STORE_FAILED, changing nothing', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'kith.db');
      const vault = await newVault(await openSqliteStore(file));
      try {
        await vault.put('notes', 'a', { n: 1 });
        const db = new Database(file);
        // Damage no build makes: the row rewritten behind the triggers' back.
        db.exec("DROP TRIGGER records_keep_on_update; UPDATE records SET updated = 'x' WHERE id = 'a'");
        db.close();
        await assert.rejects(vault.push(), (e: unknown) => e instanceof KithError && e.code === ErrorCode.StoreFailed);
        assert.equal((await vault.status()).pending, 1);
      } finally {
        await vault.close();
      }
    });
  });
});
