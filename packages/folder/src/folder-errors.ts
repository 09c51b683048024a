/**
 * @module folder-errors
 * File-system failures as the Remote contract's KithErrors: one line each,
 * with the errno in the message and the original error as the cause.
 */
import { ErrorCode, KithError } from '@kith/core/adapter';

/** The errno code of a Node file-system error, if it has one. */
export const errnoOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;

/** True for errors that mean "no such file" (including a file where a directory was expected). */
export const isMissing = (e: unknown): boolean => {
  const code = errnoOf(e);
  return code === 'ENOENT' || code === 'ENOTDIR';
};

/**
 * Maps a file-system error met while doing `what` (e.g. "writing heads/x")
 * to a KithError: a full disk or quota is KITH_REMOTE_UNAVAILABLE ("disk
 * full"), a refusal KITH_REMOTE_AUTH, a key segment longer than a file
 * name may be KITH_BAD_NAME, anything else KITH_REMOTE_UNAVAILABLE
 * naming the errno. KithErrors pass through unchanged.
 */
export function folderError(e: unknown, what: string): KithError {
  if (e instanceof KithError) return e;
  const code = errnoOf(e);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new KithError(ErrorCode.RemoteUnavailable, `disk full while ${what} (${code})`, {
      cause: e,
      hint: 'free space on the disk that holds the remote folder, then retry',
    });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new KithError(ErrorCode.RemoteAuth, `permission denied while ${what} (${code})`, {
      cause: e,
      hint: 'check that this user may read and write the remote folder',
    });
  }
  if (code === 'ENAMETOOLONG') {
    return new KithError(ErrorCode.BadName, `a key segment is too long for this file system while ${what}`, {
      cause: e,
      hint: 'file names are limited to 255 bytes on most file systems',
    });
  }
  if (code === 'EROFS') {
    return new KithError(ErrorCode.RemoteAuth, `the remote folder is on a read-only file system (${what})`, {
      cause: e,
      hint: 'remount it read-write or choose another folder',
    });
  }
  const detail = code ?? (e instanceof Error ? e.message.split('\n')[0] : String(e));
  return new KithError(ErrorCode.RemoteUnavailable, `the remote folder failed while ${what} (${detail})`, {
    cause: e,
    hint: 'check the disk or share that holds the remote folder, then retry',
  });
}
