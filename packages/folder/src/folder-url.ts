/**
 * @module folder-url
 * Where a folder remote lives: `file:///abs/dir`, an absolute path, or a
 * path relative to the working directory.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, KithError } from '@kith/core';

/** The absolute directory a folder remote location names. */
export function parseFolderUrl(location: string): string {
  if (location.trim() === '' || location.includes('\u0000')) throw new KithError(ErrorCode.BadRemoteUrl, 'the remote location is empty or invalid');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    if (!location.startsWith('file://')) throw new KithError(ErrorCode.BadRemoteUrl, `not a folder location: ${location}`);
    try {
      return fileURLToPath(location);
    } catch (cause) {
      throw new KithError(ErrorCode.BadRemoteUrl, `invalid file URL ${location}`, { cause, hint: 'use file:///absolute/path' });
    }
  }
  return isAbsolute(location) ? resolve(location) : resolve(process.cwd(), location);
}
