/** Shared by the sqlite store's tests; named `*.test.*` so the package's tarball leaves it out. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ErrorCode, KithError } from '@kith/core/adapter';
import { APPLICATION_ID, MIGRATIONS } from './schema.js';

export const tempDir = (): string => mkdtempSync(join(tmpdir(), 'kith-sqlite-'));

/** Runs `fn` with a fresh temp dir and always removes it. */
export async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir();
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const storeFailed =
  (pattern: RegExp) =>
  (e: unknown): boolean =>
    KithError.is(e, ErrorCode.StoreFailed) && pattern.test(e.message) && (e.hint ?? '') !== '';

/** A new store file at schema `version`, as the build of that version made it, open for the test to fill. */
export function oldStore(file: string, version: number): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  for (const m of MIGRATIONS.slice(0, version)) db.exec(m);
  db.pragma(`application_id = ${APPLICATION_ID}`);
  db.pragma(`user_version = ${version}`);
  return db;
}
