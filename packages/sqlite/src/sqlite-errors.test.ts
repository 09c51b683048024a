import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KithError } from '@kith/core/adapter';
import { toStoreError } from './sqlite-errors.js';
import { storeFailed } from './sqlite-store.test.support.js';

describe('sqlite error mapping', () => {
  const sqliteError = (code: string): Error => Object.assign(new Error(`sqlite says ${code}`), { code });
  const cases: Array<[string, ErrorCode, RegExp]> = [
    ['SQLITE_FULL', ErrorCode.StoreFailed, /disk full/],
    ['SQLITE_IOERR_NOSPC', ErrorCode.StoreFailed, /disk full/],
    ['SQLITE_BUSY', ErrorCode.StoreFailed, /locked by another kith process/],
    ['SQLITE_BUSY_SNAPSHOT', ErrorCode.StoreFailed, /locked by another kith process/],
    ['SQLITE_LOCKED', ErrorCode.StoreFailed, /locked by another kith process/],
    ['SQLITE_IOERR_WRITE', ErrorCode.StoreFailed, /I\/O error on the store \(SQLITE_IOERR_WRITE\)/],
    ['SQLITE_IOERR_FSYNC', ErrorCode.StoreFailed, /I\/O error/],
    ['SQLITE_CORRUPT', ErrorCode.StoreFailed, /damaged/],
    ['SQLITE_NOTADB', ErrorCode.StoreFailed, /damaged/],
    ['SQLITE_READONLY', ErrorCode.StoreFailed, /cannot open the store for writing/],
    ['SQLITE_CANTOPEN', ErrorCode.StoreFailed, /cannot open the store/],
    ['SQLITE_TOOBIG', ErrorCode.TooLarge, /too large/],
    ['SQLITE_MISUSE', ErrorCode.StoreFailed, /the store failed/],
  ];
  test('SQLite codes become KithErrors with the file named and a hint', () => {
    for (const [code, want, message] of cases) {
      const cause = sqliteError(code);
      const e = toStoreError(cause, '/home/me/.kith/kith.db');
      assert.ok(KithError.is(e, want), `${code} → ${String(e)}`);
      assert.match(e.message, message);
      assert.match(e.message, /\/home\/me\/\.kith\/kith\.db/);
      assert.ok((e.hint ?? '').length > 0, `${code} has a hint`);
      assert.equal(e.cause, cause);
    }
  });

  test('file-system errors become KITH_STORE_FAILED; other errors pass through unchanged', () => {
    const fsError = (code: string): Error => Object.assign(new Error(code), { code, syscall: 'mkdir' });
    assert.ok(storeFailed(/disk full/)(toStoreError(fsError('ENOSPC'), 'f')));
    assert.ok(storeFailed(/cannot create the store \(EACCES\)/)(toStoreError(fsError('EACCES'), 'f')));
    for (const e of [
      new Error('mine'),
      new KithError(ErrorCode.BadInput, 'x'),
      Object.assign(new Error('odd'), { code: 'NOT_SQLITE' }),
      'a string',
      undefined,
    ]) {
      assert.equal(toStoreError(e, 'f'), e);
    }
  });
});
