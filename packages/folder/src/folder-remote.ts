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
import { link, lstat, mkdir, open, readdir, readlink, realpath, rename, rm, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  assertRemoteKey,
  assertRemotePrefix,
  ErrorCode,
  KithError,
  throwIfAborted,
  type GetOptions,
  type ListOptions,
  type PutOptions,
  type WatchableRemote,
  type RemoteCallOptions,
  type RemoteObjectInfo,
} from '@kith/core';
import { errnoOf, folderError, isMissing } from './folder-errors.js';
import { parseFolderUrl } from './folder-url.js';
import { GroupSync } from './group-sync.js';

/** The folder's own temp directory; a key cannot start with it. */
export const FOLDER_TMP_DIR = '.tmp';
/** Temp files older than this were left by a killed writer (no put takes an hour). */
export const STALE_TMP_MS = 60 * 60_000;

const inTmpDir = (rel: string): boolean => rel === FOLDER_TMP_DIR || rel.startsWith(FOLDER_TMP_DIR + '/');

/**
 * A {@link Remote} over a local directory (see the module comment). Open
 * one with {@link openFolderRemote}.
 */
export class FolderRemote implements WatchableRemote {
  /** `file://` URL of the root. */
  readonly url: string;
  /** The root directory, symlinks resolved. */
  readonly root: string;
  /** Put-if-absent is atomic (`link()`); `watch` sees one directory level. */
  readonly capabilities = { putIfAbsent: true, watch: true } as const;
  /** Request counters since the remote was opened. */
  readonly #watchers = new Set<FSWatcher>();
  readonly #dirSyncs = new GroupSync(syncDir);
  #lastTmpClean = Date.now();

  /** Use {@link openFolderRemote}, which checks and prepares the directory. */
  constructor(root: string) {
    this.root = root;
    this.url = pathToFileURL(root).href;
  }

  /** The file of `key`, after checking the key; the disk is not consulted (see {@link #confined}). */
  #keyPath(key: string): string {
    assertRemoteKey(key);
    if (inTmpDir(key)) {
      throw new KithError(ErrorCode.BadName, `remote key ${JSON.stringify(key)} is inside the folder remote's temp directory`, { hint: `keys may not start with "${FOLDER_TMP_DIR}/"` });
    }
    return join(this.root, ...key.split('/'));
  }

  /** The file of `key`, after checking it cannot leave the root. */
  async #pathOf(key: string): Promise<string> {
    this.#keyPath(key);
    return this.#confined(key);
  }

  /** True when `p` (absolute, normalized) is neither the root nor under it. */
  #outside(p: string): boolean {
    return p !== this.root && !p.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep); // a root of "/" ends in sep already
  }

  /**
   * Checks the directories of `key` as {@link #confined} does, in one
   * thread-pool job (a realpath) where they all exist; the last component
   * is the caller's to judge. Blob transfers make thousands of calls, so
   * the three lstats per call of the walk were a cost of their own.
   */
  async #confinedDir(key: string): Promise<void> {
    const cut = key.lastIndexOf('/');
    if (cut < 0) return;
    const rel = key.slice(0, cut);
    const real = await realpath(join(this.root, ...rel.split('/'))).catch(() => undefined);
    if (real !== undefined && !this.#outside(real)) return;
    // Missing, dangling or leading out: the walk judges and names the link.
    await this.#confined(rel);
    if (real !== undefined) throw new KithError(ErrorCode.BadName, `remote key ${JSON.stringify(key)} leads outside the remote folder through a symlink`);
  }

  /**
   * Defense in depth behind key validation: the joined path stays under the
   * root, and no component that exists on disk is a symlink leading out.
   */
  async #confined(rel: string): Promise<string> {
    const parts = rel === '' ? [] : rel.split('/');
    const path = join(this.root, ...parts);
    if (this.#outside(path)) throw new KithError(ErrorCode.BadName, `remote key ${JSON.stringify(rel)} leads outside the remote folder`);
    let at = this.root;
    for (const part of parts) {
      at = join(at, part);
      const st = await lstat(at).catch(() => undefined);
      if (!st) break;
      // A dangling link is judged by where it points.
      if (st.isSymbolicLink() && this.#outside(await realpath(at).catch(async () => resolve(dirname(at), await readlink(at))))) {
        throw new KithError(ErrorCode.BadName, `remote key ${JSON.stringify(rel)} leads outside the remote folder through a symlink`, { hint: `remove the symlink ${at}` });
      }
    }
    return path;
  }

  /** Writes `bytes` under `key` atomically and durably (temp file, fsync, rename, fsync of the directory). */
  async put(key: string, bytes: Uint8Array, o: PutOptions = {}): Promise<void> {
    const path = this.#keyPath(key);
    throwIfAborted(o.signal);
    // Checked while the temp file is written; nothing is placed unless it passes. The
    // last component needs no check: rename and link replace or refuse a symlink, never follow it.
    const confined = this.#confinedDir(key);
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
      await placeDurably(tmp, path, o.ifAbsent === true, this.#dirSyncs);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      if (isMissing(e)) await this.#assertRoot();
      throw folderError(e, `writing ${key}`);
    }
  }

  /** The object's bytes (or the requested range of them), or null if it does not exist. */
  async get(key: string, o: GetOptions = {}): Promise<Uint8Array | null> {
    const path = this.#keyPath(key);
    throwIfAborted(o.signal);
    await this.#confinedDir(key);
    try {
      return await readRange(await this.#openToRead(key, path), o.range?.offset ?? 0, o.range?.length ?? Number.MAX_SAFE_INTEGER);
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
      await this.#confined(key);
      return open(path, 'r');
    }
  }

  /** Size and etag (inode, size and mtime in ns) of the object, or null if it does not exist. */
  async head(key: string, o: RemoteCallOptions = {}): Promise<RemoteObjectInfo | null> {
    const path = this.#keyPath(key);
    throwIfAborted(o.signal);
    await this.#confinedDir(key);
    try {
      let st = await lstat(path, { bigint: true });
      if (st.isSymbolicLink()) {
        await this.#confined(key);
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
      await this.#confined(base);
      await this.#walk(base, prefix, o.after, out, o.signal);
      // Nothing found: tell "no such keys" from "the folder is gone".
      if (out.length === 0) await this.#assertRoot();
    } catch (e) {
      throw folderError(e, `listing ${prefix === '' ? 'the remote folder' : prefix}`);
    }
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return o.limit === undefined ? out : out.slice(0, o.limit);
  }

  async #walk(rel: string, prefix: string, after: string | undefined, out: RemoteObjectInfo[], signal: AbortSignal | undefined): Promise<void> {
    if (inTmpDir(rel)) return;
    throwIfAborted(signal);
    const dir = rel === '' ? this.root : join(this.root, ...rel.split('/'));
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
    for (const key of subdirs) await this.#walk(key, prefix, after, out, signal);
  }

  /** Removes the object; a missing one is fine. */
  async delete(key: string, o: RemoteCallOptions = {}): Promise<void> {
    const path = await this.#pathOf(key);
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
      if (!(await rmdir(d).then(() => true, () => false))) return;
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
      const dir = await this.#confined(rel);
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

/** True when every key starting with `dirPrefix` sorts at or before `after`, so a listing can skip that directory. */
const allBefore = (dirPrefix: string, after: string | undefined): boolean => after !== undefined && dirPrefix < after && !after.startsWith(dirPrefix);
const toBytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);

function notFound(dir: string): KithError {
  return new KithError(ErrorCode.RemoteNotFound, `the remote folder ${dir} does not exist`, { hint: 'create it (kith init creates it), mount the disk or share, or check the path' });
}

function infoOf(key: string, st: { ino: bigint; size: bigint; mtimeNs: bigint }): RemoteObjectInfo {
  // A put renames a new inode into place, so the inode alone changes on every write; size and mtime cover in-place edits.
  return { key, size: Number(st.size), etag: `${st.ino.toString(36)}-${st.size.toString(36)}-${st.mtimeNs.toString(36)}` };
}

/**
 * Reads at most `length` bytes at `offset` and closes the file, never allocating more than the
 * file holds; a whole object usually in one read (readFile reads 512 KiB
 * at a time, each a round trip through the thread pool).
 */
async function readRange(fh: FileHandle, offset: number, length: number): Promise<Uint8Array> {
  try {
    const size = (await fh.stat()).size;
    const n = Math.max(0, Math.min(length, size - offset));
    // Unzeroed is fine: only the bytes read are returned.
    const buf = Buffer.allocUnsafeSlow(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(buf, got, n - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return toBytes(buf.subarray(0, got));
  } finally {
    await fh.close();
  }
}

/** Writes all of `bytes` from the file's start, in as few writes as the kernel takes (FileHandle.writeFile writes 512 KiB at a time). */
async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length; ) at += (await fh.write(bytes, at, bytes.length - at, at)).bytesWritten;
}

/**
 * Moves the fsynced temp file to `path` (making its directory if missing),
 * then fsyncs the directories whose entries changed.
 */
async function placeDurably(tmp: string, path: string, ifAbsent: boolean, dirSyncs: GroupSync): Promise<void> {
  const dir = dirname(path);
  let created: string | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      await placeTemp(tmp, path, ifAbsent);
      break;
    } catch (e) {
      // No directory yet, or a concurrent delete pruned it: make it and try again.
      if (errnoOf(e) !== 'ENOENT' || attempt === 5) throw e;
      created = (await mkdir(dir, { recursive: true })) ?? created;
    }
  }
  // New directories' own entries must be durable too. ENOENT here means a rival
  // delete already removed the object and its directory: nothing left to sync.
  try {
    if (created !== undefined) await syncParents(created, dir);
    await dirSyncs.sync(dir);
  } catch (e) {
    if (errnoOf(e) !== 'ENOENT') throw e;
  }
}

/** Moves the fsynced temp file to `path`; put-if-absent uses link(), which fails with EEXIST instead of replacing. */
async function placeTemp(tmp: string, path: string, ifAbsent: boolean): Promise<void> {
  if (!ifAbsent) return rename(tmp, path);
  try {
    await link(tmp, path);
  } catch (e) {
    if (errnoOf(e) !== 'EEXIST') throw e;
  }
  await unlink(tmp);
}

/** Fsyncs the parent of every directory from `first` (the outermost one mkdir created) down to `dir`. */
async function syncParents(first: string, dir: string): Promise<void> {
  const stop = dirname(first);
  for (let d = dirname(dir); ; d = dirname(d)) {
    await syncDir(d);
    if (d === stop || dirname(d) === d) return;
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Options of {@link openFolderRemote}. */
export interface OpenFolderOptions {
  /** Make the directory (and its parents) if missing. Default: a missing directory is KITH_REMOTE_NOT_FOUND. */
  readonly create?: boolean;
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
    const remote = new FolderRemote(root);
    await remote.cleanStaleTemp();
    return remote;
  } catch (e) {
    throw folderError(e, `opening ${dir}`);
  }
}
