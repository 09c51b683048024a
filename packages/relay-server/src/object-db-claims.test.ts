import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ObjectDb } from './object-db.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-objectdb-claims-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('claims on one SQLite file shared by two ObjectDbs: the first holds a name for good, every claimant is told who; claims are no objects', async () => {
  const [a, b] = [new ObjectDb(dir), new ObjectDb(dir)];
  try {
    for (let round = 0; round < 20; round++) {
      const name = `device/${round}`;
      const held = await Promise.all([a.claim('s', name, 'alice'), b.claim('s', name, 'bob'), a.claim('s', name, 'carol')]);
      assert.equal(new Set(held).size, 1, `round ${round}: one holder, told to all (${held.join()})`);
      assert.ok(['alice', 'bob'].includes(held[0]), held[0]);
      assert.equal(await b.claim('s', name, 'dave'), held[0]);
      assert.equal(await a.claim('other', name, 'dave'), 'dave', 'per vault');
    }
    assert.deepEqual((await a.list('s', '', '', 10)).items, []);
    assert.equal(await a.head('s', 'device/0'), null);
  } finally {
    await a.close();
    await b.close();
  }
});
