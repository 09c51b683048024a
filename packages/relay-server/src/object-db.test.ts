import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { CACHED_OBJECT_MAX } from './object-cache.js';
import { ObjectDb } from './object-db.js';
import { etagOf } from './relay-storage.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-objectdb-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('puts of one turn commit together, in the order they came: put-if-absent, overwrites and sizes as if one by one', async () => {
  const db = new ObjectDb(dir);
  try {
    const results = await Promise.all([
      db.put('v', 'k/a', Uint8Array.of(1), true),
      db.put('v', 'k/a', Uint8Array.of(2, 2), true), // the first of the turn holds the key
      db.put('v', 'k/b', Uint8Array.of(3, 3, 3)),
      db.put('v', 'k/b', Uint8Array.of(4)), // replaces the one just before it
      db.put('w', 'k/a', new Uint8Array(0)),
    ]);
    assert.deepEqual(results, [0, null, 0, 3, 0]);
    assert.deepEqual([...(await db.get('v', 'k/a'))!], [1]);
    assert.deepEqual([...(await db.get('v', 'k/b'))!], [4]);
    assert.equal((await db.get('w', 'k/a'))?.length, 0);
    // The next turn sees everything committed.
    assert.equal(await db.put('v', 'k/a', Uint8Array.of(5)), 1);
  } finally {
    await db.close();
  }
});

test('close commits puts still waiting; a put after close fails and writes nothing', async () => {
  const db = new ObjectDb(dir);
  const waiting = db.put('v', 'late', Uint8Array.of(7));
  await db.close();
  assert.equal(await waiting, 0);
  await assert.rejects(db.put('v', 'later', Uint8Array.of(8)));
  const again = new ObjectDb(dir);
  try {
    assert.deepEqual([...(await again.get('v', 'late'))!], [7]);
    assert.equal(await again.head('v', 'later'), null);
  } finally {
    await again.close();
  }
});

test('a commit that waits for the file holds up no reads: they answer while a put waits for another connection, which then commits it', async () => {
  const sub = fs.mkdtempSync(path.join(dir, 'busy-'));
  const db = new ObjectDb(sub);
  // Another writer of the same file (as a second relay process would be), holding its write lock.
  const other = new Database(path.join(sub, 'relay.sqlite'));
  try {
    assert.equal(await db.put('v', 'old', Uint8Array.of(1)), 0);
    other.exec('BEGIN IMMEDIATE');
    let settled = false;
    const put = db.put('v', 'new', Uint8Array.of(2)).finally(() => (settled = true));
    // Turns of the event loop in which the put's commit has started and waits for the lock.
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual([...(await db.get('v', 'old'))!], [1], 'a read answers while the put waits');
    assert.equal(await db.head('v', 'new'), null, 'the waiting put is not visible');
    assert.equal(settled, false, 'the put is not acknowledged before it commits');
    other.exec('COMMIT');
    assert.equal(await put, 0);
    assert.deepEqual([...(await db.get('v', 'new'))!], [2]);
    assert.equal(await db.delete('v', 'new'), true);
    assert.equal(await db.delete('v', 'new'), false);
  } finally {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
    await db.close();
  }
});

test('reads answered from the cache agree with storage: any mix of puts, put-if-absent, deletes and reads through two ObjectDbs sharing the file', async () => {
  const sub = fs.mkdtempSync(path.join(dir, 'shared-'));
  const dbs = [new ObjectDb(sub, 'normal'), new ObjectDb(sub, 'normal')] as const;
  let run = 0;
  try {
    const key = fc.constantFrom('heads/a', 'heads/b', 'registry/000000000001');
    // Small objects (cached with their bytes) and one past the cache's bound (only its absence is cached).
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 8 }), fc.constant(new Uint8Array(CACHED_OBJECT_MAX + 1).fill(9)));
    const op = fc.record({
      via: fc.constantFrom(0, 1),
      what: fc.constantFrom('put', 'putIfAbsent', 'delete', 'get', 'head', 'range'),
      key,
      bytes,
    });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const vault = `p${run++}`;
        const model = new Map<string, Uint8Array>();
        for (const o of ops) {
          const db = dbs[o.via];
          const had = model.get(o.key);
          const label = `${o.what} ${o.key} via ${o.via}`;
          if (o.what === 'put' || o.what === 'putIfAbsent') {
            const ifAbsent = o.what === 'putIfAbsent';
            const result = await db.put(vault, o.key, o.bytes, ifAbsent);
            assert.equal(result, ifAbsent && had ? null : (had?.length ?? 0), label);
            if (result !== null) model.set(o.key, o.bytes);
          } else if (o.what === 'delete') {
            assert.equal(await db.delete(vault, o.key), had !== undefined, label);
            model.delete(o.key);
          } else if (o.what === 'get') {
            const got = await db.get(vault, o.key);
            assert.deepEqual(got === null ? null : [...got], had === undefined ? null : [...had], label);
          } else if (o.what === 'range') {
            const got = await db.get(vault, o.key, { offset: 1, length: 3 });
            assert.deepEqual(got === null ? null : [...got], had === undefined ? null : [...had.subarray(1, 4)], label);
          } else {
            const info = await db.head(vault, o.key);
            assert.equal(info?.size, had?.length, label);
            if (info && had) assert.equal(info.etag, etagOf(had), label);
          }
        }
      }),
      { numRuns: 60 },
    );
  } finally {
    await Promise.all(dbs.map((db) => db.close()));
  }
});
