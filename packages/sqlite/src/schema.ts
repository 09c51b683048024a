/**
 * @module schema
 * The store's tables and their migrations, versioned by `PRAGMA user_version`.
 *
 * Migration `i` takes a database from version `i` to `i + 1`; add new ones at
 * the end and never edit a released one. A file whose version is higher than
 * {@link SCHEMA_VERSION} was written by a newer kith, and this build refuses
 * it rather than guess (KITH_STORE_TOO_NEW).
 */
import type Database from 'better-sqlite3';
import { ErrorCode, KithError } from '@kith/core/adapter';

/** `PRAGMA application_id` of a kith store ("KITH"), so foreign SQLite files are refused. */
export const APPLICATION_ID = 0x4b495448;

/** Migration `i` takes a store from schema version `i` to `i + 1`; exported for tests of old files. */
export const MIGRATIONS: readonly string[] = [
  // 0 → 1: the first schema.
  `
  CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL          -- JSON
  ) WITHOUT ROWID;

  CREATE TABLE records (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    fields TEXT NOT NULL,        -- JSON object: the winning values
    deleted INTEGER NOT NULL,    -- 0 or 1
    state TEXT NOT NULL,         -- JSON object: merge registers, opaque here
    conflicted INTEGER NOT NULL, -- 0 or 1
    updated TEXT NOT NULL,       -- HLC stamp
    PRIMARY KEY (collection, id)
  );
  -- Conflicts are rare: a partial index lists them without a scan.
  CREATE INDEX records_conflicted ON records (collection, id) WHERE conflicted = 1;

  CREATE TABLE log (
    seq INTEGER PRIMARY KEY,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    stamp TEXT NOT NULL,
    device TEXT NOT NULL,
    kind TEXT NOT NULL,
    fields TEXT NOT NULL         -- JSON array of field names
  );
  CREATE INDEX log_stamp ON log (stamp);
  CREATE INDEX log_record ON log (collection, id, stamp);

  -- AUTOINCREMENT: seqs must never be reused, even after the outbox empties.
  CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    op TEXT NOT NULL             -- JSON object
  );
  `,
  // 1 → 2: records.fields as JSONB, which queries read without parsing JSON text (about
  // 1.5× faster ordered pages over a large collection). The store reads it back with json().
  `
  UPDATE records SET fields = jsonb(fields);
  `,
  // 2 → 3: this device's own pushed segments, byte for byte, so it can put back what a remote loses.
  `
  CREATE TABLE own_segments (
    seq INTEGER PRIMARY KEY,
    bytes BLOB NOT NULL
  );
  `,
  // 3 → 4: the outbox holds ops in rows of many (outbox.ts), keeping every seq and the
  // high-water mark of seqs given; records.state may be '' for the one-write state (state-codec.ts),
  // which older builds would misread, hence the version.
  `
  CREATE TABLE outbox_rows (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, -- seq of the row's last op
    first INTEGER NOT NULL,               -- seq of its first op: the row holds first..seq
    ops TEXT NOT NULL                     -- JSON array of the ops
  );
  INSERT INTO outbox_rows (seq, first, ops) SELECT seq, seq, '[' || op || ']' FROM outbox ORDER BY seq;
  DELETE FROM sqlite_sequence WHERE name = 'outbox_rows';
  INSERT INTO sqlite_sequence (name, seq) SELECT 'outbox_rows', seq FROM sqlite_sequence WHERE name = 'outbox';
  DROP TABLE outbox;
  ALTER TABLE outbox_rows RENAME TO outbox;
  `,
  // 4 → 5: an outbox row may also stand for its ops' history (StoreTx.appendOwnOps): 'device' names
  // their writer, 'oldest' and 'last' are the least and greatest stamps of their entries, and deleting
  // the row (or pruning history older than 'oldest') moves the entries into 'log' (outbox.ts). NULL: the
  // history is in 'log' already. Older builds would drop that history on push, hence the version.
  `
  ALTER TABLE outbox ADD COLUMN device TEXT;
  ALTER TABLE outbox ADD COLUMN oldest TEXT;
  ALTER TABLE outbox ADD COLUMN last TEXT;
  CREATE INDEX outbox_history ON outbox (oldest) WHERE device IS NOT NULL;
  `,
  // 5 → 6: a put on an empty record is kept in the outbox as a reference [collection, id, t] to its row,
  // whose fields are the op's (put-refs.ts): 'owner' is the device whose stamps a row's references carry,
  // and records.state '@' marks a row a reference may point at. Before such a row changes, the triggers
  // keep its fields in outbox_kept, so the op pushed is the one written. Older builds would read the
  // references as ops, hence the version.
  `
  ALTER TABLE outbox ADD COLUMN owner TEXT;
  CREATE TABLE outbox_kept (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    updated TEXT NOT NULL,       -- the referenced op's full stamp
    fields BLOB NOT NULL,        -- JSONB, as records.fields
    PRIMARY KEY (collection, id, updated)
  ) WITHOUT ROWID;
  CREATE TRIGGER records_keep_on_update BEFORE UPDATE ON records WHEN OLD.state = '@' BEGIN
    INSERT OR IGNORE INTO outbox_kept (collection, id, updated, fields) VALUES (OLD.collection, OLD.id, OLD.updated, OLD.fields);
  END;
  CREATE TRIGGER records_keep_on_delete BEFORE DELETE ON records WHEN OLD.state = '@' BEGIN
    INSERT OR IGNORE INTO outbox_kept (collection, id, updated, fields) VALUES (OLD.collection, OLD.id, OLD.updated, OLD.fields);
  END;
  `,
];

/** The schema version this build writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * What the migrations make of an empty file, in one step: each statement as SQLite keeps it after them
 * (ALTERs and renames included), so a new store's `sqlite_schema` is the one a migrated store has, text
 * for text (schema.test.ts holds it to that). A new store took ~1.2 ms to run every migration against
 * ~0.3 ms for this. A new migration changes it too.
 */
export const CURRENT_SCHEMA = `
  CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL          -- JSON
  ) WITHOUT ROWID;
  CREATE TABLE records (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    fields TEXT NOT NULL,        -- JSON object: the winning values
    deleted INTEGER NOT NULL,    -- 0 or 1
    state TEXT NOT NULL,         -- JSON object: merge registers, opaque here
    conflicted INTEGER NOT NULL, -- 0 or 1
    updated TEXT NOT NULL,       -- HLC stamp
    PRIMARY KEY (collection, id)
  );
  CREATE INDEX records_conflicted ON records (collection, id) WHERE conflicted = 1;
  CREATE TABLE log (
    seq INTEGER PRIMARY KEY,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    stamp TEXT NOT NULL,
    device TEXT NOT NULL,
    kind TEXT NOT NULL,
    fields TEXT NOT NULL         -- JSON array of field names
  );
  CREATE INDEX log_stamp ON log (stamp);
  CREATE INDEX log_record ON log (collection, id, stamp);
  CREATE TABLE own_segments (
    seq INTEGER PRIMARY KEY,
    bytes BLOB NOT NULL
  );
  CREATE TABLE "outbox" (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, -- seq of the row's last op
    first INTEGER NOT NULL,               -- seq of its first op: the row holds first..seq
    ops TEXT NOT NULL                     -- JSON array of the ops
  , device TEXT, oldest TEXT, last TEXT, owner TEXT);
  CREATE INDEX outbox_history ON outbox (oldest) WHERE device IS NOT NULL;
  CREATE TABLE outbox_kept (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    updated TEXT NOT NULL,       -- the referenced op's full stamp
    fields BLOB NOT NULL,        -- JSONB, as records.fields
    PRIMARY KEY (collection, id, updated)
  ) WITHOUT ROWID;
  CREATE TRIGGER records_keep_on_update BEFORE UPDATE ON records WHEN OLD.state = '@' BEGIN
    INSERT OR IGNORE INTO outbox_kept (collection, id, updated, fields) VALUES (OLD.collection, OLD.id, OLD.updated, OLD.fields);
  END;
  CREATE TRIGGER records_keep_on_delete BEFORE DELETE ON records WHEN OLD.state = '@' BEGIN
    INSERT OR IGNORE INTO outbox_kept (collection, id, updated, fields) VALUES (OLD.collection, OLD.id, OLD.updated, OLD.fields);
  END;
`;

/**
 * Brings `db` to {@link SCHEMA_VERSION} in one IMMEDIATE transaction, so two
 * processes opening a fresh file at once do not both create the tables.
 * Throws KITH_STORE_TOO_NEW for a newer file and KITH_STORE_FAILED for a
 * SQLite file that is not a kith store.
 */
export function migrate(db: Database.Database, file: string): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    const version = db.pragma('user_version', { simple: true }) as number;
    const appId = db.pragma('application_id', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new KithError(ErrorCode.StoreTooNew, `the store ${file} has schema version ${version}; this kith reads up to ${SCHEMA_VERSION}`, {
        hint: 'upgrade kith to the version that last wrote this store (or newer)',
      });
    }
    const foreign =
      (appId !== 0 && appId !== APPLICATION_ID) || (version === 0 && (db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get() as number) > 0);
    if (foreign) {
      throw new KithError(ErrorCode.StoreFailed, `${file} is a SQLite database but not a kith store`, {
        hint: 'point kith at its own home directory; it will not modify other databases',
      });
    }
    if (version === 0) db.exec(CURRENT_SCHEMA);
    else for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
    if (version !== SCHEMA_VERSION) {
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }
    db.exec('COMMIT');
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw e;
  }
}
