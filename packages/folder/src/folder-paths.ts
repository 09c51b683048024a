/**
 * @module folder-paths
 * Where a key lives in a folder remote, and the checks that keep it there:
 * key validation first, then, as defense in depth, no component that
 * exists on disk may be a symlink leading out of the root.
 */
import { lstat, readlink, realpath } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { ErrorCode, KithError } from '@kith/core';
import { assertRemoteKey } from '@kith/core/adapter';

/** The folder's own temp directory; a key cannot start with it. */
export const FOLDER_TMP_DIR = '.tmp';

/** True for the temp directory and anything under it. */
export const inTmpDir = (rel: string): boolean => rel === FOLDER_TMP_DIR || rel.startsWith(FOLDER_TMP_DIR + '/');

/** Key → file path for one root (absolute, symlinks resolved). */
export class FolderPaths {
  constructor(readonly root: string) {}

  /** The file of `key`, after checking the key; the disk is not consulted (see {@link confined}). */
  keyPath(key: string): string {
    assertRemoteKey(key);
    if (inTmpDir(key)) {
      throw new KithError(ErrorCode.BadName, `remote key ${JSON.stringify(key)} is inside the folder remote's temp directory`, {
        hint: `keys may not start with "${FOLDER_TMP_DIR}/"`,
      });
    }
    return join(this.root, ...key.split('/'));
  }

  /** The file of `key`, after checking it cannot leave the root. */
  async pathOf(key: string): Promise<string> {
    this.keyPath(key);
    return this.confined(key);
  }

  /** True when `p` (absolute, normalized) is neither the root nor under it. */
  outside(p: string): boolean {
    return p !== this.root && !p.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep); // a root of "/" ends in sep already
  }

  /**
   * Checks the directories of `key` as {@link confined} does, in one
   * thread-pool job (a realpath) where they all exist; the last component
   * is the caller's to judge. Blob transfers make thousands of calls, so
   * the three lstats per call of the walk were a cost of their own.
   */
  async confinedDir(key: string): Promise<void> {
    const cut = key.lastIndexOf('/');
    if (cut < 0) return;
    const rel = key.slice(0, cut);
    const real = await realpath(join(this.root, ...rel.split('/'))).catch(() => undefined);
    if (real !== undefined && !this.outside(real)) return;
    // Missing, dangling or leading out: the walk judges and names the link.
    await this.confined(rel);
    if (real !== undefined) throw new KithError(ErrorCode.BadName, `remote key ${JSON.stringify(key)} leads outside the remote folder through a symlink`);
  }

  /**
   * Defense in depth behind key validation: the joined path stays under the
   * root, and no component that exists on disk is a symlink leading out.
   */
  async confined(rel: string): Promise<string> {
    const parts = rel === '' ? [] : rel.split('/');
    const path = join(this.root, ...parts);
    if (this.outside(path)) throw new KithError(ErrorCode.BadName, `remote key ${JSON.stringify(rel)} leads outside the remote folder`);
    let at = this.root;
    for (const part of parts) {
      at = join(at, part);
      const st = await lstat(at).catch(() => undefined);
      if (!st) break;
      // A dangling link is judged by where it points.
      if (st.isSymbolicLink() && this.outside(await realpath(at).catch(async () => resolve(dirname(at), await readlink(at))))) {
        throw new KithError(ErrorCode.BadName, `remote key ${JSON.stringify(rel)} leads outside the remote folder through a symlink`, {
          hint: `remove the symlink ${at}`,
        });
      }
    }
    return path;
  }
}
