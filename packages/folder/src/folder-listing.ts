/**
 * @module folder-listing
 * Object info (size and etag from the file's metadata) and the directory
 * walk behind a folder remote's `list`.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { throwIfAborted, type RemoteObjectInfo } from '@kith/core/adapter';
import { isMissing } from './folder-errors.js';
import { inTmpDir } from './folder-paths.js';

/** Size and etag of `key` from its file's (bigint) stat. */
export function infoOf(key: string, st: { ino: bigint; size: bigint; mtimeNs: bigint }): RemoteObjectInfo {
  // A put renames a new inode into place, so the inode alone changes on every write; size and mtime cover in-place edits.
  return { key, size: Number(st.size), etag: `${st.ino.toString(36)}-${st.size.toString(36)}-${st.mtimeNs.toString(36)}` };
}

/** True when every key starting with `dirPrefix` sorts at or before `after`, so a listing can skip that directory. */
const allBefore = (dirPrefix: string, after: string | undefined): boolean => after !== undefined && dirPrefix < after && !after.startsWith(dirPrefix);

/**
 * Appends to `out` the files under the directory `rel` of `root` whose keys
 * start with `prefix` and sort after `after`, descending only into
 * directories that can hold such keys; unsorted. Symlinks are not followed
 * (dirent types come from lstat) and the temp directory is skipped.
 */
export async function walkFolder(
  root: string,
  rel: string,
  prefix: string,
  after: string | undefined,
  out: RemoteObjectInfo[],
  signal: AbortSignal | undefined,
): Promise<void> {
  if (inTmpDir(rel)) return;
  throwIfAborted(signal);
  const dir = rel === '' ? root : join(root, ...rel.split('/'));
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (!isMissing(e)) throw e;
    return;
  }
  const subdirs: string[] = [];
  const files: string[] = [];
  for (const ent of entries) {
    const key = rel === '' ? ent.name : `${rel}/${ent.name}`;
    // Dirent types come from lstat: a symlink is neither, so it is never followed.
    if (ent.isDirectory()) {
      if (!inTmpDir(key) && (key.startsWith(prefix) || prefix.startsWith(key + '/')) && !allBefore(key + '/', after)) subdirs.push(key);
    } else if (ent.isFile() && key.startsWith(prefix) && (after === undefined || key > after)) {
      files.push(key);
    }
  }
  await Promise.all(
    files.map(async (key) => {
      const st = await stat(join(dir, key.slice(key.lastIndexOf('/') + 1)), { bigint: true }).catch((e: unknown) => {
        if (!isMissing(e)) throw e; // a file deleted since readdir is simply not listed
      });
      if (st) out.push(infoOf(key, st));
    }),
  );
  for (const key of subdirs) await walkFolder(root, key, prefix, after, out, signal);
}
