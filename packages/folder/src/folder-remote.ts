/**
 * @module folder-remote
 * A remote in a directory: a NAS share, a USB stick, a synced folder. Each
 * key is a file at the same relative path. Writes go to a temp file in
 * `.tmp/`, are fsynced, then renamed (or, for put-if-absent, hard-linked)
 * into place, and the directory is fsynced before the put resolves: a
 * reader never sees a torn object and a written object survives a crash.
 * Concurrent puts into one directory share its fsyncs (group commit).
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, watch, type FSWatcher } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rm, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  assertRemotePrefix,
  ErrorCode,
  KithError,
  throwIfAborted,
  type GetOptions,
  type ListOptions,
  type PutOptions,
  type PutOutcome,
  type WatchableRemote,
  type RemoteCallOptions,
  type RemoteObjectInfo,
} from '@kith/core/adapter';
import { onLocalDisk } from './folder-disk.js';
import { errnoOf, folderError, isMissing } from './folder-errors.js';
import { placeDurably, readRange, syncDir, writeAll } from './folder-files.js';
import { infoOf, walkFolder } from './folder-listing.js';
import { FOLDER_TMP_DIR, FolderPaths } from './folder-paths.js';
import { parseFolderUrl } from './folder-url.js';
import { GroupSync } from './group-sync.js';

export { FOLDER_TMP_DIR };
/** Temp files older than this were left by a killed writer (no put takes an hour). */
export const STALE_TMP_MS = 60 * 60_000;

/**
 * A {@link Remote} over a local directory (see the module comment). Open
 * one with {@link openFolderRemote}.
 */
export class FolderRemote implements WatchableRemote {
  /** `file://` URL of the root. */
  readonly url: string;
  /** The root directory, symlinks resolved. */
  readonly root: string;
  /** Put-if-absent is atomic (`link()`); `watch` sees one directory level; `local`: on this machine's disk (see folder-disk). */
  readonly capabilities: { readonly putIfAbsent: true; readonly watch: true; readonly local: boolean };
  /** Request counters since the remote was opened. */
  readonly #paths: FolderPaths;
  readonly #watchers = new Set<FSWatcher>();
  readonly #dirSyncs = new GroupSync(syncDir);
  #lastTmpClean = Date.now();

  /** Use {@link openFolderRemote}, which checks and prepares the directory. */
  constructor(root: string, o: { local?: boolean } = {}) {
    this.root = root;
    this.capabilities = { putIfAbsent: true, watch: true, local: o.local === true };
    this.#paths = new FolderPaths(root);
    this.url = pathToFileURL(root).href;
  }

  /** Writes `bytes` under `key` atomically and durably (temp file, fsync, rename, fsync of the directory). */
  async put(key: string, bytes: Uint8Array, o: PutOptions = {}): Promise<void | PutOutcome> {
    const path = this.#paths.keyPath(key);
    throwIfAborted(o.signal);
    // Checked while the temp file is written; nothing is placed unless it passes. The
    // last component needs no check: rename and link replace or refuse a symlink, never follow it.
    const confined = this.#paths.confinedDir(key);
    confined.catch(() => undefined);
    this.#cleanTempNowAndThen();
    const tmp = join(this.root, FOLDER_TMP_DIR, `${randomBytes(12).toString('hex')}.tmp`);
    try {
      const fh = await open(tmp, 'wx', 0o644);
      try {
        await writeAll(fh, bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await confined;
      // Cancelled while writing: the temp file goes, the object is untouched.
      throwIfAborted(o.signal);
      // A link that did not fail: this file is the object (put-if-absent's answer, which spares a read-back).
      return (await placeDurably(tmp, path, o.ifAbsent === true, this.#dirSyncs)) && o.ifAbsent ? { stored: true } : undefined;
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      if (isMissing(e)) await this.#assertRoot();
      throw folderError(e, `writing ${key}`);
    }
  }

  /** The object's bytes (or the requested range of them), or null if it does not exist. */
  async get(key: string, o: GetOptions = {}): Promise<Uint8Array | null> {
    const path = this.#paths.keyPath(key);
    throwIfAborted(o.signal);
    // Checked before the open: a directory symlinked out of the folder is never opened through.
    await this.#paths.confinedDir(key);
    try {
      return await readRange(await this.#openToRead(key, path), o.range?.offset ?? 0, o.range?.length ?? Number.MAX_SAFE_INTEGER, o.into);
    } catch (e) {
      if (isMissing(e) || errnoOf(e) === 'EISDIR') return this.#missing();
      throw folderError(e, `reading ${key}`);
    }
  }

  /** Opens the file of `key` (its directories checked); a symlink in last place is followed only if it stays inside. */
  async #openToRead(key: string, path: string): Promise<FileHandle> {
    try {
      return await open(path, fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0));
    } catch (e) {
      if (errnoOf(e) !== 'ELOOP') throw e;
      await this.#paths.confined(key);
      return open(path, 'r');
    }
  }

  /** Size and etag (inode, size and mtime in ns) of the object, or null if it does not exist. */
  async head(key: string, o: RemoteCallOptions = {}): Promise<RemoteObjectInfo | null> {
    const path = this.#paths.keyPath(key);
    throwIfAborted(o.signal);
    await this.#paths.confinedDir(key);
    try {
      let st = await lstat(path, { bigint: true });
      if (st.isSymbolicLink()) {
        await this.#paths.confined(key);
        st = await stat(path, { bigint: true });
      }
      return st.isFile() ? infoOf(key, st) : null;
    } catch (e) {
      if (isMissing(e)) return this.#missing();
      throw folderError(e, `reading ${key}`);
    }
  }

  /**
   * Keys starting with `prefix`, strictly after `after`, in byte order, at
   * most `limit`. Walks only the directories the prefix can reach
   * (`segments/ab/0` reads `segments/ab/` and filters); symlinks inside the
   * folder are not followed.
   */
  async list(prefix: string, o: ListOptions = {}): Promise<RemoteObjectInfo[]> {
    assertRemotePrefix(prefix);
    throwIfAborted(o.signal);
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const out: RemoteObjectInfo[] = [];
    try {
      await this.#paths.confined(base);
      await walkFolder(this.root, base, prefix, o.after, out, o.signal);
      // Nothing found: tell "no such keys" from "the folder is gone".
      if (out.length === 0) await this.#assertRoot();
    } catch (e) {
      throw folderError(e, `listing ${prefix === '' ? 'the remote folder' : prefix}`);
    }
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return o.limit === undefined ? out : out.slice(0, o.limit);
  }

  /** Removes the object; a missing one is fine. */
  async delete(key: string, o: RemoteCallOptions = {}): Promise<void> {
    const path = await this.#paths.pathOf(key);
    throwIfAborted(o.signal);
    try {
      await unlink(path);
    } catch (e) {
      if (isMissing(e)) return void (await this.#assertRoot());
      throw folderError(e, `deleting ${key}`);
    }
    await this.#pruneEmptyParents(path);
  }

  /**
   * Removes directories left empty by a delete (garbage-collected segment
   * and blob trees), up to but not including the top level, whose
   * directories stay so that watchers on them (`heads/`) keep working.
   */
  async #pruneEmptyParents(path: string): Promise<void> {
    for (let d = dirname(path); d.length > this.root.length && dirname(d) !== this.root; d = dirname(d)) {
      // ENOTEMPTY (or a rival already removed it) ends the climb.
      if (
        !(await rmdir(d).then(
          () => true,
          () => false,
        ))
      )
        return;
    }
  }

  /**
   * Calls `onChange` when an entry in the directory `prefix` ends in changes
   * and its name matches the rest of the prefix. One level only: Node 20 has
   * no recursive `fs.watch` on Linux, and the engine watches `heads/`.
   */
  watch(prefix: string, onChange: () => void): () => void {
    assertRemotePrefix(prefix);
    const cut = prefix.lastIndexOf('/');
    const rel = cut < 0 ? '' : prefix.slice(0, cut);
    const namePrefix = prefix.slice(cut + 1);
    let w: FSWatcher | undefined;
    let stopped = false;
    const start = async (): Promise<void> => {
      const dir = await this.#paths.confined(rel);
      await mkdir(dir, { recursive: true });
      if (stopped) return;
      w = watch(dir, (_event, name) => {
        if (name === null || String(name).startsWith(namePrefix)) onChange();
      });
      // The directory vanished (unmounted): the next sync reports it; watching just stops.
      w.on('error', () => undefined);
      this.#watchers.add(w);
    };
    start().catch(() => undefined);
    return () => {
      stopped = true;
      if (w) {
        w.close();
        this.#watchers.delete(w);
      }
    };
  }

  /** Stops every watcher. */
  async close(): Promise<void> {
    for (const w of this.#watchers) w.close();
    this.#watchers.clear();
  }

  /** `null` for a missing object, unless the whole folder is gone (then KITH_REMOTE_NOT_FOUND). */
  async #missing(): Promise<null> {
    await this.#assertRoot();
    return null;
  }

  async #assertRoot(): Promise<void> {
    const st = await stat(this.root).catch(() => undefined);
    if (!st?.isDirectory()) throw notFound(this.root);
  }

  /** Long-lived writers (sync --watch) sweep the temp directory about once an hour. */
  #cleanTempNowAndThen(): void {
    const now = Date.now();
    if (now - this.#lastTmpClean < STALE_TMP_MS) return;
    this.#lastTmpClean = now;
    this.cleanStaleTemp(now).catch(() => undefined);
  }

  /** Removes temp files a killed writer left behind (older than an hour); returns how many. */
  async cleanStaleTemp(now = Date.now()): Promise<number> {
    const dir = join(this.root, FOLDER_TMP_DIR);
    let removed = 0;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const st = await stat(join(dir, name)).catch(() => undefined);
      if (st && now - st.mtimeMs > STALE_TMP_MS) {
        await rm(join(dir, name), { force: true, recursive: true });
        removed++;
      }
    }
    return removed;
  }
}

function notFound(dir: string): KithError {
  return new KithError(ErrorCode.RemoteNotFound, `the remote folder ${dir} does not exist`, {
    hint: 'create it (kith init creates it), mount the disk or share, or check the path',
  });
}

/** Options of {@link openFolderRemote}. */
export interface OpenFolderOptions {
  /** Make the directory (and its parents) if missing. Default: a missing directory is KITH_REMOTE_NOT_FOUND. */
  readonly create?: boolean;
  /**
   * Whether the folder is on this machine's own disk, so devices read blobs
   * from it in place and keep no cache copy of them (`capabilities.local`).
   * Default: told from the file system (a Linux disk file system is; a
   * network share, FUSE mount or FAT/exFAT stick is not; other platforms: not).
   */
  readonly local?: boolean;
}

/**
 * Opens a folder remote at `location` (`file:///abs/dir`, an absolute or a
 * relative path), preparing its temp directory and removing stale temp
 * files. A missing directory is KITH_REMOTE_NOT_FOUND unless `create`.
 *
 * @example
 * const remote = await openFolderRemote('file:///mnt/nas/kith', { create: true });
 * await remote.put('heads/abc', bytes);
 */
export async function openFolderRemote(location: string, options: OpenFolderOptions = {}): Promise<FolderRemote> {
  const dir = parseFolderUrl(location);
  try {
    if (options.create) await mkdir(dir, { recursive: true });
    const st = await stat(dir).catch(() => undefined);
    if (!st?.isDirectory()) throw notFound(dir);
    const root = await realpath(dir);
    await mkdir(join(root, FOLDER_TMP_DIR), { recursive: true });
    const remote = new FolderRemote(root, { local: options.local ?? (await onLocalDisk(root)) });
    await remote.cleanStaleTemp();
    return remote;
  } catch (e) {
    throw folderError(e, `opening ${dir}`);
  }
}
