/**
 * @module idb-errors
 * IndexedDB failures as KithErrors. IndexedDB reports them as DOMExceptions
 * named after the cause, on a request or as the `error` of an aborted
 * transaction; only those are mapped here, never a rejection the caller's
 * own transaction function made.
 */
import { ErrorCode, KithError } from '@kith/core';

/** The DOMException name of an IDB failure, or undefined for anything else. */
export function domErrorName(e: unknown): string | undefined {
  // Newer Chromium raises quota errors as a QuotaExceededError class of its own: match by name.
  if (typeof e !== 'object' || e === null || e instanceof KithError) return undefined;
  const name = (e as { name?: unknown }).name;
  return typeof name === 'string' && (e instanceof Error || (typeof DOMException !== 'undefined' && e instanceof DOMException)) ? name : undefined;
}

/** True for a full origin quota (a request's error, or the reason a transaction aborted at commit). */
export function isQuotaError(e: unknown): boolean {
  return domErrorName(e) === 'QuotaExceededError';
}

/** Maps an IndexedDB failure on the store `name` to a KithError; KithErrors and other Errors pass through. */
export function toStoreError(e: unknown, name: string): Error {
  const dom = domErrorName(e);
  if (dom === undefined) {
    if (e instanceof Error) return e;
    return new KithError(ErrorCode.StoreFailed, `the store ${name} failed: ${String(e)}`);
  }
  const detail = (e as Error).message;
  if (dom === 'QuotaExceededError') {
    return new KithError(ErrorCode.StorageFull, `the store ${name} is full: the browser's storage quota for this site is used up`, {
      hint: 'free space on the device or remove other site data; nothing of the failed write was kept',
      cause: e,
    });
  }
  if (dom === 'VersionError') {
    return new KithError(ErrorCode.StoreTooNew, `the store ${name} was written by a newer version of this app`, {
      hint: 'reload the page to get the newest version of the app',
      cause: e,
    });
  }
  if (dom === 'TransactionInactiveError') {
    return new KithError(
      ErrorCode.Internal,
      `internal error: the store ${name} committed a transaction left idle (its function awaited something other than the transaction)`,
      { cause: e },
    );
  }
  return new KithError(ErrorCode.StoreFailed, `the store ${name} failed: ${dom}${detail ? `: ${detail.split('\n')[0]}` : ''}`, { cause: e });
}
