/**
 * @module server/scale-out/pg-s3-storage
 * Scale-out storage: metadata in PostgreSQL, bytes in any S3 API, so relay
 * processes keep no state of their own and any number can share them.
 *
 * How a write stays "acknowledged means durable" and never tears:
 * - Small objects (≤ `inlineMax`) live inline in their PostgreSQL row: a
 *   put is one statement (the `kith_relay_put` function), so it is atomic.
 * - A larger object goes to S3 under a fresh random key, never reused, so
 *   no upload can overwrite another: (1) an orphan row records the upload
 *   before it starts; (2) the bytes go to S3; (3) one transaction claims
 *   that row and points (vault, key) at the upload. A listing, head or get
 *   sees the object only after (3), when its bytes are already in S3. A
 *   crash before (3) leaves bytes that no row points at and an orphan row
 *   that the sweep finds once it is older than the grace period.
 * - An overwrite or a delete swaps the pointer in the same transaction
 *   that records the old upload as doomed garbage; the old bytes are
 *   deleted after the commit (by the writer, or by a later sweep if the
 *   writer died). A reader that loses that race — it read the old pointer,
 *   then found the bytes gone — reads the row again.
 * - The sweep dooms a pending upload in a committed statement before it
 *   deletes any bytes, and a put commits only if its orphan row is still
 *   pending, so a slow put and a sweep can never leave a row pointing at
 *   deleted bytes: the put fails instead (and was never acknowledged).
 * - Put-if-absent is decided by the primary key inside that one
 *   transaction, so it is atomic across processes.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { ErrorCode, KithError, type RemoteObjectInfo } from '@kith/core/adapter';
import { openS3Remote, parseS3Url, type S3Remote, type S3RemoteOptions } from '@kith/s3';
import { etagOf, pageOf, PREFIX_END, type ByteRange, type ObjectPage, type RelayStorage } from '../relay-storage.js';
import { silentLogger, type RelayLogger } from '../relay-log.js';
import { openPool, parsePostgresUrl, postgresError } from './pg-connect.js';
import { migrate } from './pg-schema.js';

/**
 * Objects up to this size live inline in PostgreSQL (default 64 KiB).
 * Measured on loopback against s3rver (see the package README): an inline
 * put of 1–64 KiB takes about a third of the time of the S3 path (which
 * costs an S3 PUT, two more PostgreSQL round trips and, on overwrite, an S3
 * DELETE), and heads, registry entries and most segments are far smaller.
 * Larger objects go to S3, where bytes are cheaper than in database pages.
 */
export const DEFAULT_INLINE_MAX = 64 * 1024;

/** Options of {@link openPgS3Storage}. */
export interface PgS3StorageOptions {
  /** `postgres://USER@HOST:PORT/DATABASE` (password from PGPASSWORD or ~/.pgpass, or in the URL). */
  readonly postgres: string;
  /** Where bytes go, as S3 remotes take it: `s3://BUCKET/PREFIX?endpoint=...&region=...`. */
  readonly s3: string;
  /** Largest object kept inline in PostgreSQL (default {@link DEFAULT_INLINE_MAX}); 0 sends every non-empty object to S3. */
  readonly inlineMax?: number;
  /** PostgreSQL connections in this process's pool (default 10). */
  readonly poolSize?: number;
  /** How often this process sweeps garbage uploads (default 10 minutes; 0: only at start and on demand). */
  readonly sweepEveryMs?: number;
  /**
   * An upload that has not committed after this long is abandoned and
   * swept (default 1 hour). A put gives up its upload after half of it, so
   * no bytes can land after the sweep looked.
   */
  readonly uploadGraceMs?: number;
  /** Passed to the S3 client (retries, timeouts, part size...). */
  readonly s3Options?: S3RemoteOptions;
  readonly logger?: RelayLogger;
}

interface ObjectRow {
  key: string;
  size: string;
  etag: string;
  inline: Buffer | null;
  s3_key: string | null;
}

/** The bucket prefix (under the URL's) of every upload. */
export const UPLOADS = 'v/';
/**
 * Written (never deleted) by every start to prove the bucket takes writes.
 * It also keeps the uploads "directory" from ever being empty, which
 * s3rver, the S3 test server, needs: it prunes an emptied directory even
 * while a put into it is still opening its file, and crashes.
 */
export const PROBE_KEY = `${UPLOADS}probe`;

/** S3 fetches in flight at once for one batch-get. */
const BATCH_CONCURRENCY = 8;
/** Rows a sweep takes at a time. */
const SWEEP_BATCH = 500;

/** Where an upload's bytes go in the bucket: fresh and random, so no upload ever overwrites another. */
const uploadKey = (): string => `${UPLOADS}${randomBytes(16).toString('base64url')}`;

/** The code of a failure, for logs (never a message: it could carry a key). */
const codeOf = (e: unknown): string => String((e as { code?: string }).code ?? (e as Error)?.name ?? 'error');

/**
 * Opens scale-out storage: connects to PostgreSQL (creating or migrating
 * the schema), checks that the bucket takes writes, and starts the
 * periodic sweep. Fails in one line (KITH_REMOTE_UNAVAILABLE,
 * KITH_REMOTE_AUTH, KITH_REMOTE_NOT_FOUND, KITH_BAD_REMOTE_URL) when
 * either cannot be used.
 *
 * @example
 * const storage = await openPgS3Storage({ postgres: 'postgres://kith@db/kith', s3: 's3://kith-relay/objects?region=eu-west-1' });
 * const relay = await startRelay({ storage, bus: await openPgChangeBus({ postgres: 'postgres://kith@db/kith' }) });
 */
export async function openPgS3Storage(o: PgS3StorageOptions): Promise<PgS3Storage> {
  const target = parsePostgresUrl(o.postgres);
  parseS3Url(o.s3); // a bad URL fails before anything connects
  const log = o.logger ?? silentLogger;
  const pool = await openPool(target, o.poolSize ?? 10, (e) => log({ level: 'warn', msg: 'postgres connection lost', error: codeOf(e) }));
  let s3: S3Remote | undefined;
  try {
    await migrate(pool).catch((e: unknown) => {
      throw postgresError(e, target);
    });
    await probeS3(o.s3, o.s3Options);
    s3 = await openS3Remote(o.s3, o.s3Options);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  return new PgS3Storage(pool, s3, o, log);
}

/** One small write with few retries, so a wrong bucket, endpoint or credentials fail at start in seconds. */
async function probeS3(url: string, options: S3RemoteOptions | undefined): Promise<void> {
  const probe = await openS3Remote(url, { ...options, retry: { maxAttempts: 3, maxDelayMs: 500, deadlineMs: 10_000 } });
  try {
    await probe.put(PROBE_KEY, new Uint8Array(0));
  } catch (e) {
    const k = KithError.is(e) ? e : new KithError(ErrorCode.RemoteUnavailable, String((e as Error)?.message ?? e));
    throw new KithError(k.code, `cannot store objects in ${url.split('?')[0]}: ${k.message}`, { cause: e, ...(k.hint ? { hint: k.hint } : {}) });
  } finally {
    await probe.close();
  }
}

/** {@link RelayStorage} on PostgreSQL and S3. Open it with {@link openPgS3Storage}. */
export class PgS3Storage implements RelayStorage {
  readonly #pool: pg.Pool;
  readonly #s3: S3Remote;
  readonly #log: RelayLogger;
  readonly #inlineMax: number;
  readonly #graceMs: number;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  /** Deletions of garbage uploads still running (awaited on close). */
  readonly #pending = new Set<Promise<void>>();
  #sweeping: Promise<number> | undefined;
  #closed = false;

  /** Prefer {@link openPgS3Storage}, which connects, migrates and checks both services. */
  constructor(pool: pg.Pool, s3: S3Remote, o: Omit<PgS3StorageOptions, 'postgres' | 's3'> = {}, log: RelayLogger = silentLogger) {
    this.#pool = pool;
    this.#s3 = s3;
    this.#log = log;
    this.#inlineMax = o.inlineMax ?? DEFAULT_INLINE_MAX;
    this.#graceMs = o.uploadGraceMs ?? 60 * 60 * 1000;
    const every = o.sweepEveryMs ?? 10 * 60 * 1000;
    this.#track(this.#backgroundSweep());
    if (every > 0) {
      this.#timer = setInterval(() => this.#track(this.#backgroundSweep()), every);
      this.#timer.unref();
    }
  }

  async put(vault: string, key: string, bytes: Uint8Array, ifAbsent = false): Promise<number | null> {
    const etag = etagOf(bytes);
    const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length <= this.#inlineMax) return this.#commit(vault, key, bytes.length, etag, body, null, ifAbsent);
    // Checked again atomically at commit; asking first only saves uploading bytes that would be refused.
    if (ifAbsent && (await this.head(vault, key))) return null;
    const s3Key = uploadKey();
    await this.#pool.query({ name: 'kr_intent', text: 'INSERT INTO kith_relay_orphans (s3_key) VALUES ($1)', values: [s3Key] });
    try {
      await this.#s3.put(s3Key, bytes, { signal: AbortSignal.timeout(this.#graceMs / 2) });
    } catch (e) {
      // Whether any bytes landed is unknown: doom the upload so the sweep removes whatever did.
      await this.#pool.query('UPDATE kith_relay_orphans SET doomed = true WHERE s3_key = $1', [s3Key]).then(
        () => this.#collect(s3Key),
        () => undefined,
      );
      throw e;
    }
    return this.#commit(vault, key, bytes.length, etag, null, s3Key, ifAbsent);
  }

  /** Points (vault, key) at the new bytes in one transaction; deletes what that made garbage. Returns the size replaced, or null. */
  async #commit(
    vault: string,
    key: string,
    size: number,
    etag: string,
    inline: Buffer | null,
    s3Key: string | null,
    ifAbsent: boolean,
  ): Promise<number | null> {
    let result: { wrote: boolean; garbage: string | null; replaced: string | null };
    try {
      const { rows } = await this.#pool.query<{ wrote: boolean; garbage: string | null; replaced: string | null }>({
        name: 'kr_put',
        text: 'SELECT wrote, garbage, replaced FROM kith_relay_put($1, $2, $3, $4, $5, $6, $7)',
        values: [vault, key, size, etag, inline, s3Key, ifAbsent],
      });
      result = rows[0]!;
    } catch (e) {
      if ((e as { code?: string }).code === 'KR001') {
        // A sweep took our upload for abandoned; bytes it could not see yet may have landed since.
        if (s3Key) this.#track(this.#s3.delete(s3Key).catch(() => undefined));
        throw new KithError(ErrorCode.RemoteUnavailable, 'the upload took longer than the grace period and was swept; write again', { cause: e });
      }
      throw e;
    }
    if (result.garbage !== null) this.#collect(result.garbage);
    return result.wrote ? Number(result.replaced ?? 0) : null;
  }

  async get(vault: string, key: string, range?: ByteRange): Promise<Uint8Array | null> {
    let previous: string | undefined;
    for (;;) {
      const { rows } = await this.#pool.query<ObjectRow>(
        range
          ? {
              name: 'kr_get_range',
              text: `SELECT key, size, etag, CASE WHEN s3_key IS NULL THEN substring(inline FROM $3 FOR $4) END AS inline, s3_key
                     FROM kith_relay_objects WHERE vault = $1 AND key = $2`,
              values: [vault, key, range.offset + 1, range.length],
            }
          : { name: 'kr_get', text: 'SELECT key, size, etag, inline, s3_key FROM kith_relay_objects WHERE vault = $1 AND key = $2', values: [vault, key] },
      );
      const row = rows[0];
      if (!row) return null;
      const bytes = await this.#bytesOf(row, range);
      if (bytes) return bytes;
      // The row pointed at an upload that is gone. If it still does, S3 lost it: say so rather than "missing".
      if (row.s3_key === previous) throw new KithError(ErrorCode.Internal, 'an object\u2019s bytes are missing from S3');
      previous = row.s3_key ?? undefined;
    }
  }

  /** The bytes a row names (inline, or fetched from S3); null when its upload is gone (an overwrite or delete won a race). */
  async #bytesOf(row: ObjectRow, range?: ByteRange): Promise<Uint8Array | null> {
    if (row.s3_key === null) return row.inline ?? Buffer.alloc(0);
    if (range && range.offset >= Number(row.size)) return new Uint8Array(0);
    return this.#s3.get(row.s3_key, range ? { range } : {});
  }

  async getMany(vault: string, keys: readonly string[]): Promise<(Uint8Array | null)[]> {
    const { rows } = await this.#pool.query<ObjectRow>({
      name: 'kr_get_many',
      text: 'SELECT key, size, etag, inline, s3_key FROM kith_relay_objects WHERE vault = $1 AND key = ANY($2::text[])',
      values: [vault, keys],
    });
    const byKey = new Map(rows.map((r) => [r.key, r]));
    const out: (Uint8Array | null)[] = new Array<Uint8Array | null>(keys.length).fill(null);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length) {
        const i = next++;
        const row = byKey.get(keys[i]!);
        if (row) out[i] = (await this.#bytesOf(row)) ?? (await this.get(vault, row.key));
      }
    };
    await Promise.all(Array.from({ length: BATCH_CONCURRENCY }, worker));
    return out;
  }

  async head(vault: string, key: string): Promise<RemoteObjectInfo | null> {
    const { rows } = await this.#pool.query<ObjectRow>({
      name: 'kr_head',
      text: 'SELECT key, size, etag FROM kith_relay_objects WHERE vault = $1 AND key = $2',
      values: [vault, key],
    });
    const row = rows[0];
    return row ? { key: row.key, size: Number(row.size), etag: row.etag } : null;
  }

  async list(vault: string, prefix: string, after: string, limit: number, bodiesUpTo?: number): Promise<ObjectPage> {
    const { rows } = await this.#pool.query<ObjectRow>({
      // Bodies of small inline objects only (S3 holds none that small unless inlineMax is set below it);
      // a NULL bound (a plain listing) matches no size, so no bytes are read.
      name: 'kr_list',
      text: `SELECT key, size, etag, CASE WHEN size <= $6 THEN inline END AS inline FROM kith_relay_objects
             WHERE vault = $1 AND key >= $2 AND key < $3 AND key > $4 ORDER BY key LIMIT $5`,
      values: [vault, prefix, prefix + PREFIX_END, after, limit + 1, bodiesUpTo ?? null],
    });
    return pageOf(
      rows.map((r) => ({ key: r.key, size: Number(r.size), etag: r.etag, ...(r.inline ? { body: r.inline } : {}) })),
      limit,
    );
  }

  async claim(vault: string, name: string, owner: string): Promise<string> {
    // Two statements, not one: a statement's snapshot predates a rival's insert it waited for, so only a fresh one reads that row.
    const won = await this.#pool.query({
      name: 'kr_claim',
      text: 'INSERT INTO kith_relay_claims (vault, name, owner) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      values: [vault, name, owner],
    });
    if (won.rowCount === 1) return owner;
    const { rows } = await this.#pool.query<{ owner: string }>({
      name: 'kr_claimed',
      text: 'SELECT owner FROM kith_relay_claims WHERE vault = $1 AND name = $2',
      values: [vault, name],
    });
    // Claims are never deleted, so the row that refused the insert is there.
    return rows[0]!.owner;
  }

  async delete(vault: string, key: string): Promise<boolean> {
    const { rows } = await this.#pool.query<{ s3_key: string | null }>({
      name: 'kr_delete',
      text: `WITH gone AS (DELETE FROM kith_relay_objects WHERE vault = $1 AND key = $2 RETURNING s3_key),
             doomed AS (INSERT INTO kith_relay_orphans (s3_key, doomed) SELECT s3_key, true FROM gone WHERE s3_key IS NOT NULL)
             SELECT s3_key FROM gone`,
      values: [vault, key],
    });
    const s3Key = rows[0]?.s3_key;
    if (s3Key) this.#collect(s3Key);
    return rows.length > 0;
  }

  /**
   * Deletes garbage uploads: every doomed one, and every pending one older
   * than `graceMs` (default: the storage's grace period), which is doomed
   * first, so its put can no longer commit. Returns how many it removed.
   * Safe to run in several processes at once.
   */
  sweep(graceMs = this.#graceMs): Promise<number> {
    return (this.#sweeping ??= this.#sweep(graceMs).finally(() => (this.#sweeping = undefined)));
  }

  async #sweep(graceMs: number): Promise<number> {
    await this.#pool.query("UPDATE kith_relay_orphans SET doomed = true WHERE NOT doomed AND since <= now() - $1::float8 * interval '1 millisecond'", [
      graceMs,
    ]);
    let removed = 0;
    for (;;) {
      const { rows } = await this.#pool.query<{ s3_key: string }>('SELECT s3_key FROM kith_relay_orphans WHERE doomed ORDER BY s3_key LIMIT $1', [SWEEP_BATCH]);
      const keys = rows.map((r) => r.s3_key);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < keys.length) await this.#s3.delete(keys[next++]!);
      };
      await Promise.all(Array.from({ length: BATCH_CONCURRENCY }, worker));
      if (keys.length > 0) await this.#pool.query('DELETE FROM kith_relay_orphans WHERE s3_key = ANY($1::text[]) AND doomed', [keys]);
      removed += keys.length;
      if (keys.length < SWEEP_BATCH) return removed;
    }
  }

  async #backgroundSweep(): Promise<void> {
    if (this.#closed) return;
    try {
      const removed = await this.sweep();
      if (removed > 0) this.#log({ level: 'info', msg: 'swept garbage uploads', count: removed });
    } catch (e) {
      this.#log({ level: 'warn', msg: 'sweep failed; the next one retries', error: codeOf(e) });
    }
  }

  /** Deletes a doomed upload now; if that fails, the sweep does it later. */
  #collect(s3Key: string): void {
    this.#track(
      (async () => {
        await this.#s3.delete(s3Key);
        await this.#pool.query({ name: 'kr_collected', text: 'DELETE FROM kith_relay_orphans WHERE s3_key = $1 AND doomed', values: [s3Key] });
      })().catch((e: unknown) => this.#log({ level: 'warn', msg: 'garbage upload left to the sweep', error: codeOf(e) })),
    );
  }

  #track(p: Promise<void>): void {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  /** Resolves once the garbage deletions started so far (and a running sweep) have finished. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Waits for garbage deletions in flight, then closes the pool and the S3 client. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.settled();
    await this.#pool.end();
    await this.#s3.close();
  }
}
