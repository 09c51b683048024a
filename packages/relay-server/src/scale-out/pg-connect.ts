/**
 * @module server/scale-out/pg-connect
 * PostgreSQL connection settings from a URL, and failures turned into one
 * line that says what to check. Passwords are accepted in the URL (as libpq
 * does) but never printed; PGPASSWORD and ~/.pgpass work too.
 */
import pg from 'pg';
import { ErrorCode, KithError } from '@kith/core/adapter';

/** A parsed `postgres://` URL: driver settings and a printable form (password masked). */
export interface PostgresTarget {
  readonly config: pg.ClientConfig;
  /** `postgres://user@host:port/db`, never with the password. */
  readonly display: string;
}

/** Every connection of a relay says so, so an operator can tell them apart in `pg_stat_activity`. */
export const APPLICATION_NAME = 'kith-relay';
/** The change bus's LISTEN connection: one a process. */
export const BUS_APPLICATION_NAME = 'kith-relay-bus';

/**
 * Checks a PostgreSQL URL (`postgres://` or `postgresql://`); throws
 * KITH_BAD_REMOTE_URL with a hint when it is not one.
 *
 * @example
 * parsePostgresUrl('postgres://kith@db.internal:5432/kith').display // 'postgres://kith@db.internal:5432/kith'
 */
export function parsePostgresUrl(url: string): PostgresTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new KithError(ErrorCode.BadRemoteUrl, 'invalid PostgreSQL URL: not a URL', { hint: 'use postgres://USER@HOST:PORT/DATABASE' });
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new KithError(ErrorCode.BadRemoteUrl, `invalid PostgreSQL URL: the scheme must be postgres:// (got ${u.protocol}//)`, {
      hint: 'use postgres://USER@HOST:PORT/DATABASE',
    });
  }
  if (u.password) u.password = '***';
  // TCP keepalive after 10 s idle and a cap on every query, so a connection that died silently fails a request instead of holding it.
  return {
    config: { connectionString: url, application_name: APPLICATION_NAME, keepAlive: true, keepAliveInitialDelayMillis: 10_000, query_timeout: 30_000 },
    display: u.toString(),
  };
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE', '57P01', '57P03']);

/** Maps a driver failure to a one-line KithError naming the server (never its password). */
export function postgresError(e: unknown, target: PostgresTarget): KithError {
  if (e instanceof KithError) return e;
  const err = e as { code?: string; message?: string };
  const code = err.code ?? '';
  const message = String(err.message ?? e).split('\n')[0]!;
  const where = target.display;
  if (UNREACHABLE.has(code) || /timeout|terminated|Connection terminated/i.test(message)) {
    return new KithError(ErrorCode.RemoteUnavailable, `cannot reach PostgreSQL at ${where} (${code || message})`, {
      cause: e,
      hint: 'check --postgres, and that the server runs and accepts TCP connections from here',
    });
  }
  if (code === '28P01' || code === '28000') {
    return new KithError(ErrorCode.RemoteAuth, `PostgreSQL at ${where} refused the login: ${message}`, {
      cause: e,
      hint: 'give the password in PGPASSWORD or ~/.pgpass, and check pg_hba.conf',
    });
  }
  if (code === '3D000') {
    const db = new URL(where).pathname.slice(1) || 'the database';
    return new KithError(ErrorCode.RemoteNotFound, `PostgreSQL at ${where}: ${message}`, { cause: e, hint: `create it first (createdb ${db})` });
  }
  return new KithError(ErrorCode.RemoteUnavailable, `PostgreSQL at ${where} failed: ${code ? `${code} ` : ''}${message}`, { cause: e });
}

/**
 * A pool for `target` whose first connection has succeeded, so a wrong
 * URL or a server that is down fails here, in one line, not at the first
 * request. Idle connections that break later are dropped and replaced.
 */
export async function openPool(target: PostgresTarget, max: number, onError: (e: Error) => void): Promise<pg.Pool> {
  const pool = new pg.Pool({ ...target.config, max, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000 });
  // Without a listener, an idle connection killed by a server restart would crash the process.
  pool.on('error', onError);
  try {
    await pool.query('SELECT 1');
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw postgresError(e, target);
  }
  return pool;
}
