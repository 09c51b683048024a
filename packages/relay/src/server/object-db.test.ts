import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ObjectDb } from './object-db.js';

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
