import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore } from './index.js';
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from './schema.js';
import { inTempDir } from './sqlite-store.test.support.js';

/** Everything a file's schema is: its objects as SQLite keeps them, the AUTOINCREMENT counters, and the two header fields. */
function schemaOf(file: string): unknown {
  const db = new Database(file, { readonly: true });
  try {
    return {
      objects: db.prepare('SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name').all(),
      sequences: db.prepare('SELECT name, seq FROM sqlite_sequence ORDER BY name').all(),
      version: db.pragma('user_version', { simple: true }),
      applicationId: db.pragma('application_id', { simple: true }),
    };
  } finally {
    db.close();
  }
}

test('a new store gets in one step the schema every migration, run one after the other, makes of an empty file: text for text', async () => {
  await inTempDir(async (dir) => {
    const store = await openSqliteStore(join(dir, 'new.db'));
    await store.close();
    const stepped = new Database(join(dir, 'stepped.db'));
    for (const m of MIGRATIONS) stepped.exec(m);
    stepped.pragma(`application_id = ${APPLICATION_ID}`);
    stepped.pragma(`user_version = ${SCHEMA_VERSION}`);
    stepped.close();
    const got = schemaOf(join(dir, 'new.db')) as { objects: unknown[] };
    assert.deepEqual(got, schemaOf(join(dir, 'stepped.db')));
    assert.ok(got.objects.length >= 12, 'the tables, their indexes and triggers');
  });
});
