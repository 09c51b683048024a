/**
 * @module folder-remote
 * A remote in a directory: a NAS share, a USB stick, a synced folder. Each
 * key is a file at the same relative path. Writes go to a temp file in
 * `.tmp/`, are fsynced, then renamed (or, for put-if-absent, hard-linked)
 * into place, and the directory is fsynced: a reader never sees a torn
 * object and a written object survives a crash.
 */
import { randomBytes } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { link, lstat, mkdir, open, readdir, readFile, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  assertRemoteKey,
  assertRemotePrefix,
  ErrorCode,
  KithError,
  newRemoteStats,
  throwIfAborted,
  type GetOptions,
  type ListOptions,
  type PutOptions,
  type Remote,
  type RemoteCallOptions,
  type RemoteObjectInfo,
} from '@kith/core';
import { parseFolderUrl } from './folder-url.js';

const TMP_DIR = '.tmp';
const STALE_TMP_MS = 60 * 60_000;

/** Maps a file-system error to a one-line KithError. */
function remoteError(e: unknown, what: string): KithError {
  if (e instanceof KithError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new KithError(ErrorCode.RemoteUnavailable, `disk full while ${what}`, { cause: e, hint: 'free space on the remote folder and retry' });
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new KithError(ErrorCode.RemoteAuth, `permission denied while ${what}`, { cause: e, hint: 'check that you may read and write the remote folder' });
  }
  return new KithError(ErrorCode.RemoteUnavailable, `the remote folder failed while ${what} (${code ?? (e as Error).message})`, { cause: e });
}

export class FolderRemote implements Remote {
  readonly url: string;
  readonly root: string;
  readonly capabilities = { putIfAbsent: true, watch: true } as const;
  readonly stats = newRemoteStats();
  readonly #watchers = new Set<FSWatcher>();

  constructor(root: string) {
    this.root = root;
    this.url = pathToFileURL(root).href;
  }

  /** The file of `key`, after checking it cannot leave the root (symlinks included). */
  async #pathOf(key: string): Promise<string> {
    assertRemoteKey(key);
    const path = join(this.root, ...key.split('/'));
    let dir = this.root;
    for (const part of key.split('/')) {
      dir = join(dir, part);
      const st = await lstat(dir).catch(() => undefined);
      if (!st) break;
      if (st.isSymbolicLink()) {
        const real = await realpath(dir);
        if (real !== this.root && !real.startsWith(this.root + sep)) {
          throw new KithError(ErrorCode.BadName, `remote key ${JSON.stringify(key)} leads outside the remote folder through a symlink`);
        }
      }
    }
    return path;
  }

  async put(key: string, bytes: Uint8Array, o: PutOptions = {}): Promise<void> {
    const path = await this.#pathOf(key);
    throwIfAborted(o.signal);
    this.stats.puts++;
    this.stats.bytesSent += bytes.length;
    const tmp = join(this.root, TMP_DIR, `${randomBytes(12).toString('hex')}.tmp`);
    try {
      const fh = await open(tmp, 'wx', 0o644);
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      const dir = path.slice(0, path.lastIndexOf(sep));
      await mkdir(dir, { recursive: true });
      if (o.ifAbsent) {
        await link(tmp, path).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e;
        });
        await unlink(tmp);
      } else {
        await rename(tmp, path);
      }
      await syncDir(dir);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw remoteError(e, `writing ${key}`);
    }
  }

  async get(key: string, o: GetOptions = {}): Promise<Uint8Array | null> {
    const path = await this.#pathOf(key);
    throwIfAborted(o.signal);
    this.stats.gets++;
    try {
      let out: Uint8Array;
      if (o.range) {
        const fh = await open(path, 'r');
        try {
          const buf = Buffer.alloc(o.range.length);
          const { bytesRead } = await fh.read(buf, 0, o.range.length, o.range.offset);
          out = new Uint8Array(buf.buffer, buf.byteOffset, bytesRead);
        } finally {
          await fh.close();
        }
      } else {
        const buf = await readFile(path);
        out = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
      }
      this.stats.bytesReceived += out.length;
      return out;
    } catch (e) {
      if (isMissing(e)) return this.#missing();
      throw remoteError(e, `reading ${key}`);
    }
  }

  async head(key: string, o: RemoteCallOptions = {}): Promise<RemoteObjectInfo | null> {
    const path = await this.#pathOf(key);
    throwIfAborted(o.signal);
    this.stats.heads++;
    try {
      const st = await stat(path, { bigint: true });
      if (!st.isFile()) return null;
      return { key, size: Number(st.size), etag: etagOf(st) };
    } catch (e) {
      if (isMissing(e)) return this.#missing();
      throw remoteError(e, `reading ${key}`);
    }
  }

  async list(prefix: string, o: ListOptions = {}): Promise<RemoteObjectInfo[]> {
    assertRemotePrefix(prefix);
    throwIfAborted(o.signal);
    this.stats.lists++;
    // Walk only the directory the prefix can reach: "segments/ab/0" → segments/ab/.
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const out: RemoteObjectInfo[] = [];
    try {
      await this.#walk(base, prefix, o.after, out);
    } catch (e) {
      throw remoteError(e, `listing ${prefix || 'the remote'}`);
    }
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return o.limit === undefined ? out : out.slice(0, o.limit);
  }

  async #walk(rel: string, prefix: string, after: string | undefined, out: RemoteObjectInfo[]): Promise<void> {
    const dir = rel === '' ? this.root : join(this.root, ...rel.split('/'));
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (isMissing(e)) {
        if (rel === '') await this.#assertRoot();
        return;
      }
      throw e;
    }
    for (const ent of entries) {
      if (rel === '' && ent.name === TMP_DIR) continue;
      const key = rel === '' ? ent.name : `${rel}/${ent.name}`;
      if (ent.isDirectory()) {
        // Descend only where keys under it can match the prefix.
        if (key.startsWith(prefix) || prefix.startsWith(key + '/')) await this.#walk(key, prefix, after, out);
      } else if (ent.isFile() && key.startsWith(prefix) && (after === undefined || key > after)) {
        const st = await stat(join(dir, ent.name), { bigint: true }).catch(() => undefined);
        if (st) out.push({ key, size: Number(st.size), etag: etagOf(st) });
      }
    }
  }

  async delete(key: string, o: RemoteCallOptions = {}): Promise<void> {
    const path = await this.#pathOf(key);
    throwIfAborted(o.signal);
    this.stats.deletes++;
    try {
      await unlink(path);
    } catch (e) {
      if (!isMissing(e)) throw remoteError(e, `deleting ${key}`);
    }
  }

  /** Watches one directory level (Node 20 has no recursive fs.watch on Linux); the engine watches `heads/`. */
  watch(prefix: string, onChange: () => void): () => void {
    assertRemotePrefix(prefix);
    const dir = join(this.root, ...prefix.replace(/\/$/, '').split('/'));
    let w: FSWatcher | undefined;
    let stopped = false;
    void mkdir(dir, { recursive: true })
      .then(() => {
        if (stopped) return;
        w = watch(dir, () => onChange());
        w.on('error', () => undefined);
        this.#watchers.add(w);
      })
      .catch(() => undefined);
    return () => {
      stopped = true;
      if (w) {
        w.close();
        this.#watchers.delete(w);
      }
    };
  }

  async close(): Promise<void> {
    for (const w of this.#watchers) w.close();
    this.#watchers.clear();
  }

  async #missing(): Promise<null> {
    await this.#assertRoot();
    return null;
  }

  async #assertRoot(): Promise<void> {
    const st = await stat(this.root).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new KithError(ErrorCode.RemoteNotFound, `the remote folder ${this.root} does not exist`, { hint: 'mount or create it, or check the path' });
    }
  }

  /** Removes temp files a killed writer left behind (older than an hour). */
  async cleanStaleTemp(now = Date.now()): Promise<number> {
    let removed = 0;
    const dir = join(this.root, TMP_DIR);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const st = await stat(join(dir, name)).catch(() => undefined);
      if (st && now - st.mtimeMs > STALE_TMP_MS) {
        await rm(join(dir, name), { force: true });
        removed++;
      }
    }
    return removed;
  }
}

const isMissing = (e: unknown): boolean => ['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '');

function etagOf(st: { ino: bigint; size: bigint; mtimeNs: bigint }): string {
  return `${st.ino.toString(36)}-${st.size.toString(36)}-${st.mtimeNs.toString(36)}`;
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Opens a folder remote at `location` (`file:///abs`, an absolute or a
 * relative path). `create: true` makes the directory; otherwise a missing
 * one is KITH_REMOTE_NOT_FOUND.
 */
export async function openFolderRemote(location: string, options: { create?: boolean } = {}): Promise<FolderRemote> {
  const dir = parseFolderUrl(location);
  try {
    if (options.create) await mkdir(dir, { recursive: true });
    const st = await stat(dir).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new KithError(ErrorCode.RemoteNotFound, `the remote folder ${dir} does not exist`, { hint: 'create it, mount it, or check the path' });
    }
    const root = await realpath(dir);
    await mkdir(join(root, TMP_DIR), { recursive: true });
    const remote = new FolderRemote(root);
    await remote.cleanStaleTemp();
    return remote;
  } catch (e) {
    throw remoteError(e, `opening ${dir}`);
  }
}
