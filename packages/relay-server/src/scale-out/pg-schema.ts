/**
 * @module server/scale-out/pg-schema
 * The scale-out relay's tables in PostgreSQL, created and migrated on
 * start. Migrations are numbered and applied in order inside one
 * transaction that first takes an advisory lock, so any number of relay
 * processes may start at once against a fresh or an old database: one
 * migrates, the others wait and then find nothing to do.
 *
 * Tables (all names start with `kith_relay_`):
 * - `objects`: one row per (vault, key): size, etag, and the bytes either
 *   inline (small objects) or as the S3 key of an immutable upload. Text
 *   columns use the "C" collation, so the primary key orders keys by bytes,
 *   which is the order listings promise.
 * - `orphans`: S3 keys that may be referenced by no row: uploads in flight
 *   (`doomed = false`, since the upload began) and superseded or refused
 *   uploads (`doomed = true`). The sweep deletes doomed ones from S3, and
 *   dooms pending ones older than the grace period.
 * - `claims` (version 3): names held by one owner per vault, inserted once
 *   and never changed (see `RelayStorage.claim`): the primary key decides
 *   between processes racing for one name.
 * - `schema`: the version applied.
 */
import type pg from 'pg';
import { ErrorCode, KithError } from '@kith/core/adapter';

/** An arbitrary constant naming "kith relay schema migration" among advisory locks. */
const MIGRATION_LOCK = 0x6b697468_0001;

/**
 * `kith_relay_put(vault, key, size, etag, inline, s3_key, if_absent)`, one
 * round trip, one transaction: claims the upload's orphan row (failing if
 * a sweep doomed it, so a pointer to deleted bytes can never commit),
 * then inserts or replaces the row. Returns whether it wrote, and the S3
 * key that is now garbage (the replaced upload, or ours when refused),
 * already recorded as a doomed orphan for the caller to delete.
 */
const PUT_FUNCTION = `
CREATE FUNCTION kith_relay_put(p_vault text, p_key text, p_size bigint, p_etag text, p_inline bytea, p_s3 text, p_if_absent boolean)
RETURNS TABLE (wrote boolean, garbage text) LANGUAGE plpgsql AS $$
DECLARE
  old_s3 text;
BEGIN
  IF p_s3 IS NOT NULL THEN
    DELETE FROM kith_relay_orphans WHERE s3_key = p_s3 AND NOT doomed;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'upload % was swept before it committed', p_s3 USING ERRCODE = 'KR001';
    END IF;
  END IF;
  LOOP
    SELECT o.s3_key INTO old_s3 FROM kith_relay_objects o WHERE o.vault = p_vault AND o.key = p_key FOR UPDATE;
    IF FOUND THEN
      IF p_if_absent THEN
        IF p_s3 IS NOT NULL THEN
          INSERT INTO kith_relay_orphans (s3_key, since, doomed) VALUES (p_s3, now(), true);
        END IF;
        RETURN QUERY SELECT false, p_s3;
        RETURN;
      END IF;
      UPDATE kith_relay_objects o SET size = p_size, etag = p_etag, inline = p_inline, s3_key = p_s3
        WHERE o.vault = p_vault AND o.key = p_key;
      IF old_s3 IS NOT NULL THEN
        INSERT INTO kith_relay_orphans (s3_key, since, doomed) VALUES (old_s3, now(), true);
      END IF;
      RETURN QUERY SELECT true, old_s3;
      RETURN;
    END IF;
    INSERT INTO kith_relay_objects (vault, key, size, etag, inline, s3_key)
      VALUES (p_vault, p_key, p_size, p_etag, p_inline, p_s3) ON CONFLICT DO NOTHING;
    IF FOUND THEN
      RETURN QUERY SELECT true, NULL::text;
      RETURN;
    END IF;
    -- A rival inserted the key between our SELECT and INSERT; its row is committed now: go round.
  END LOOP;
END $$`;

/**
 * Version 2 of `kith_relay_put`: the same, and also returns the size of
 * the object it replaced (0 when there was none), so the quota needs no
 * lookup of its own before a write.
 */
const PUT_FUNCTION_V2 = `
CREATE FUNCTION kith_relay_put(p_vault text, p_key text, p_size bigint, p_etag text, p_inline bytea, p_s3 text, p_if_absent boolean)
RETURNS TABLE (wrote boolean, garbage text, replaced bigint) LANGUAGE plpgsql AS $$
DECLARE
  old_s3 text;
  old_size bigint;
BEGIN
  IF p_s3 IS NOT NULL THEN
    DELETE FROM kith_relay_orphans WHERE s3_key = p_s3 AND NOT doomed;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'upload % was swept before it committed', p_s3 USING ERRCODE = 'KR001';
    END IF;
  END IF;
  LOOP
    SELECT o.s3_key, o.size INTO old_s3, old_size FROM kith_relay_objects o WHERE o.vault = p_vault AND o.key = p_key FOR UPDATE;
    IF FOUND THEN
      IF p_if_absent THEN
        IF p_s3 IS NOT NULL THEN
          INSERT INTO kith_relay_orphans (s3_key, since, doomed) VALUES (p_s3, now(), true);
        END IF;
        RETURN QUERY SELECT false, p_s3, old_size;
        RETURN;
      END IF;
      UPDATE kith_relay_objects o SET size = p_size, etag = p_etag, inline = p_inline, s3_key = p_s3
        WHERE o.vault = p_vault AND o.key = p_key;
      IF old_s3 IS NOT NULL THEN
        INSERT INTO kith_relay_orphans (s3_key, since, doomed) VALUES (old_s3, now(), true);
      END IF;
      RETURN QUERY SELECT true, old_s3, old_size;
      RETURN;
    END IF;
    INSERT INTO kith_relay_objects (vault, key, size, etag, inline, s3_key)
      VALUES (p_vault, p_key, p_size, p_etag, p_inline, p_s3) ON CONFLICT DO NOTHING;
    IF FOUND THEN
      RETURN QUERY SELECT true, NULL::text, 0::bigint;
      RETURN;
    END IF;
    -- A rival inserted the key between our SELECT and INSERT; its row is committed now: go round.
  END LOOP;
END $$`;

/** Migration i brings the schema from version i to i + 1. Append only; never edit a released one. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE kith_relay_objects (
     vault text COLLATE "C" NOT NULL,
     key text COLLATE "C" NOT NULL,
     size bigint NOT NULL,
     etag text NOT NULL,
     inline bytea,
     s3_key text,
     PRIMARY KEY (vault, key),
     CHECK ((inline IS NULL) <> (s3_key IS NULL))
   );
   -- Ciphertext does not compress: store it as it is, without a compression attempt per write.
   ALTER TABLE kith_relay_objects ALTER COLUMN inline SET STORAGE EXTERNAL;
   CREATE TABLE kith_relay_orphans (
     s3_key text PRIMARY KEY,
     since timestamptz NOT NULL DEFAULT now(),
     doomed boolean NOT NULL DEFAULT false
   );
   ${PUT_FUNCTION};`,
  `DROP FUNCTION kith_relay_put(text, text, bigint, text, bytea, text, boolean);
   ${PUT_FUNCTION_V2};`,
  `CREATE TABLE kith_relay_claims (
     vault text COLLATE "C" NOT NULL,
     name text COLLATE "C" NOT NULL,
     owner text NOT NULL,
     PRIMARY KEY (vault, name)
   );`,
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database to {@link SCHEMA_VERSION} (or to `target`, an older
 * one: for upgrade tests); idempotent, and safe when several processes
 * call it at once. Returns the version found before. Throws
 * KITH_STORE_TOO_NEW for a database migrated by a newer relay.
 */
export async function migrate(pool: pg.Pool, target = SCHEMA_VERSION): Promise<number> {
  const c = await pool.connect();
  let failed = false;
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query('CREATE TABLE IF NOT EXISTS kith_relay_schema (version integer NOT NULL)');
    const { rows } = await c.query<{ version: number }>('SELECT version FROM kith_relay_schema');
    const found = rows[0]?.version ?? 0;
    if (found > SCHEMA_VERSION) {
      throw new KithError(ErrorCode.StoreTooNew, `the relay database has schema version ${found}; this relay knows up to ${SCHEMA_VERSION}`, {
        hint: 'upgrade this relay to the version the other relay processes run',
      });
    }
    const to = Math.max(found, Math.min(target, SCHEMA_VERSION));
    for (let v = found; v < to; v++) await c.query(MIGRATIONS[v]!);
    if (rows.length === 0) await c.query('INSERT INTO kith_relay_schema (version) VALUES ($1)', [to]);
    else if (found < to) await c.query('UPDATE kith_relay_schema SET version = $1', [to]);
    await c.query('COMMIT');
    return found;
  } catch (e) {
    failed = true;
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    c.release(failed); // a connection that failed mid-transaction is not reused
  }
}
