/**
 * @module sqlite-errors
 * Maps SQLite failures to KithError codes, so callers match on
 * KITH_STORE_FAILED instead of driver codes, and a full disk or a lock held
 * by another process reads as one clear line.
 */
import { ErrorCode, KithError } from '@kith/core/adapter';

/** The `code` better-sqlite3 puts on its errors (`SQLITE_FULL`, `SQLITE_IOERR_WRITE`, ...). */
function sqliteCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/** True when `e` came from SQLite (as opposed to the caller's own code). */
export function isSqliteError(e: unknown): boolean {
  return sqliteCode(e) !== undefined;
}

/** The errno code of a Node file-system error (`EACCES`, `ENOSPC`, ...), from creating the home or the file. */
function fsCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const { code, syscall } = e as { code?: unknown; syscall?: unknown };
  return typeof code === 'string' && typeof syscall === 'string' && /^E[A-Z]+$/.test(code) ? code : undefined;
}

/**
 * The KithError for a SQLite or file-system failure; other errors (the
 * caller's own) are returned unchanged. `file` names the store in the
 * message (never a secret).
 */
export function toStoreError(e: unknown, file: string): unknown {
  const failed = (message: string, hint: string): KithError => new KithError(ErrorCode.StoreFailed, `${message} (${file})`, { hint, cause: e });
  const errno = fsCode(e);
  if (errno !== undefined) {
    if (errno === 'ENOSPC' || errno === 'EDQUOT') return failed('disk full: the store could not be created', 'free some disk space and retry');
    return failed(`cannot create the store (${errno})`, 'check that the home directory is writable by you, or pass another home');
  }
  const code = sqliteCode(e);
  if (code === undefined) return e;
  if (code === 'SQLITE_FULL' || code === 'SQLITE_IOERR_NOSPC') {
    return failed('disk full: the store could not write', 'free some disk space and retry; nothing already saved was lost');
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return failed('the store is locked by another kith process', 'wait for the other kith command to finish (or stop it) and retry');
  }
  if (code.startsWith('SQLITE_IOERR')) {
    return failed(`I/O error on the store (${code})`, 'check the disk and the file system, then retry');
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return failed('the store file is damaged or not a kith store', 'restore the device from the remote (kith restore) into a fresh home');
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM')) {
    return failed(`cannot open the store for writing (${code})`, 'check that the directory exists and that you own it and may write to it');
  }
  if (code === 'SQLITE_TOOBIG') {
    return new KithError(ErrorCode.TooLarge, `a value is too large for the store (${file})`, { hint: 'store large content as an attachment', cause: e });
  }
  return failed(`the store failed: ${(e as Error).message} (${code})`, 'retry; if it persists, report it with this message');
}
