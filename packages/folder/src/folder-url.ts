/**
 * @module folder-url
 * Where a folder remote lives: `file:///abs/dir`, an absolute path, or a
 * path relative to the working directory.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, KithError } from '@kith/core/adapter';

const HINT = 'use a folder path or file:///absolute/path';

/**
 * The absolute directory a folder remote location names: a `file:` URL
 * (percent-decoded; `file:///abs` or `file:/abs`), or a path, resolved
 * against the working directory when relative. Other URL schemes are
 * KITH_BAD_REMOTE_URL.
 */
export function parseFolderUrl(location: string): string {
  if (location.trim() === '' || location.includes('\u0000'))
    throw new KithError(ErrorCode.BadRemoteUrl, 'the remote location is empty or invalid', { hint: HINT });
  if (/^file:/i.test(location)) {
    try {
      return fileURLToPath(new URL(location));
    } catch (cause) {
      throw new KithError(ErrorCode.BadRemoteUrl, `invalid file URL ${location}`, { cause, hint: HINT });
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) throw new KithError(ErrorCode.BadRemoteUrl, `not a folder location: ${location}`, { hint: HINT });
  return isAbsolute(location) ? resolve(location) : resolve(process.cwd(), location);
}
