/**
 * @module pack-blob-cache
 * The Node blob cache: encrypted chunk and manifest objects appended to
 * pack files of up to 64 MiB (`<dir>/packs/<name>.pack`), found through an
 * SQLite index (`<dir>/index.db`: key → pack, offset, length, last use).
 * A GiB cached is ~16 files instead of ~1,000: on this kind of machine
 * each new file costs the kernel milliseconds, which was the cache's cost.
 *
 * Writers: each instance appends to a pack it owns (claimed in the index,
 * so processes sharing a home never append to the same pack), and an
 * object's index row is committed only after its bytes are written: a
 * process killed mid-write leaves bytes no row names, and the next owner
 * appends over them. Rows of puts that finish together are committed in
 * one transaction (a put resolves once its row is), and last-use times
 * are written with the next batch: one SQLite commit per chunk on the main
 * thread was most of the cache's cost. Durability: packs are fsynced when full or released,
 * which records how far each is durable (`synced`); after a reboot the
 * rows past that point (written, never fsynced, so possibly torn by the
 * power cut) are dropped on open. The cache is never what an
 * acknowledged write depends on (the remote is), as before.
 *
 * Eviction: deleting rows frees nothing by itself; a pack left with no
 * live object is removed, and one whose live bytes fall under half its size
 * is compacted (its live objects appended elsewhere, then removed).
 *
 * Caches written by the file-per-object layout (`<dir>/c/ab/abcd…`) are
 * still read, listed and evicted where they lie; new writes go to packs.
 */
import { randomBytes } from 'node:crypto';
import { close, closeSync, existsSync, fdatasync, mkdirSync, open, openSync, read, readFileSync, write } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { uptime } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Database } from 'better-sqlite3';
import type { BlobCache, CachedObject } from '@kith/core/adapter';
import { FsBlobCache, checkBlobCacheKey } from './fs-blob-cache.js';

/** A pack is closed to appends past this size (an object larger than it still gets a pack of its own). */
export const PACK_BYTES = 64 * 1024 * 1024;
/** Read descriptors kept open across gets. */
const READERS = 16;

const writeAt = promisify(write);
const readAt = promisify(read);
const openFd = promisify(open);
const closeFd = promisify(close);
const syncFd = promisify(fdatasync);

const isMissing = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ENOENT';

/**
 * This boot of the machine: Linux's boot id, else the boot time (ms).
 * Data written but not fsynced survives a killed process, not a reboot.
 */
function currentBoot(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return `T${Math.round(Date.now() - uptime() * 1000)}`;
  }
}

/** Boot times read twice differ by clock adjustments: within two minutes is the same boot. */
const sameBoot = (a: string, b: string): boolean =>
  a === b || (a.startsWith('T') && b.startsWith('T') && Math.abs(Number(a.slice(1)) - Number(b.slice(1))) < 120_000);

const pidAlive = (owner: string): boolean => {
  const pid = Number(owner.split(':')[0]);
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

interface PackRow {
  id: number;
  name: string;
  size: number;
  live: number;
  synced: number;
  boot: string;
  owner: string | null;
}

interface ObjectRow {
  key: string;
  pack: number;
  offset: number;
  length: number;
}

/** The pack this instance appends to: `end` is where the next reservation starts. */
interface Writer {
  readonly id: number;
  readonly name: string;
  readonly fd: number;
  end: number;
  readonly inflight: Set<Promise<unknown>>;
}

/** An object row waiting for the next batch commit. */
interface PendingRow {
  key: string;
  pack: number;
  offset: number;
  length: number;
}

/** Waiters of one batch commit. */
interface Batch {
  readonly rows: PendingRow[];
  readonly promise: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // a batch nobody waits for (last-use times only) must not reject unhandled
  return { rows: [], promise, resolve, reject };
}

/** The statements of the hot paths, prepared once per index. */
function statementsOf(db: Database) {
  return {
    find: db.prepare('SELECT o.pack, o.offset, o.length, p.name FROM objects o JOIN packs p ON p.id = o.pack WHERE o.key = ?'),
    exists: db.prepare('SELECT 1 FROM objects WHERE key = ?').pluck(),
    old: db.prepare('SELECT pack, length FROM objects WHERE key = ?'),
    upsert: db.prepare('INSERT OR REPLACE INTO objects (key, pack, offset, length, used_at) VALUES (?, ?, ?, ?, ?)'),
    grow: db.prepare('UPDATE packs SET live = live + ?, size = MAX(size, ?) WHERE id = ?'),
    shrink: db.prepare('UPDATE packs SET live = live - ? WHERE id = ?'),
    used: db.prepare('UPDATE objects SET used_at = ? WHERE key = ?'),
  };
}

/** Instances with a pack claimed: released (not fsynced) when the process exits, so the next process can append to it. */
const claimers = new Set<PackBlobCache>();
let exitHooked = false;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS packs (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  live INTEGER NOT NULL,
  synced INTEGER NOT NULL,
  boot TEXT NOT NULL,
  owner TEXT
);
CREATE TABLE IF NOT EXISTS objects (
  key TEXT PRIMARY KEY,
  pack INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  length INTEGER NOT NULL,
  used_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_by_pack ON objects (pack, offset);
`;

export class PackBlobCache implements BlobCache {
  readonly #me = `${process.pid}:${randomBytes(6).toString('hex')}`;
  readonly #boot: string;
  #opening: Promise<Database> | undefined;
  #db: Database | undefined;
  #sql: ReturnType<typeof statementsOf> | undefined;
  /** Rows and last-use times for the next commit (scheduled once any is queued). */
  #batch: Batch | undefined;
  readonly #usedAt = new Map<string, number>();
  #legacy: FsBlobCache | undefined;
  #writer: Writer | undefined;
  /** Read descriptors by pack name (names are never reused; ids may be). */
  readonly #readers = new Map<string, { fd: Promise<number>; users: number }>();
  /** Releases and fsyncs running in the background; `close` waits for them. */
  readonly #background = new Set<Promise<void>>();
  #closed = false;

  /** `boot` stands in for this boot's id (tests: a reboot). */
  constructor(
    readonly dir: string,
    o: { boot?: string } = {},
  ) {
    this.#boot = o.boot ?? currentBoot();
  }

  get #packs(): string {
    return join(this.dir, 'packs');
  }

  /** Opens the index on first use (better-sqlite3 loads only then). */
  async #ready(): Promise<Database> {
    if (this.#closed) throw new Error(`blob cache ${this.dir} is closed`);
    if (this.#db) return this.#db;
    this.#opening ??= this.#open();
    return this.#opening;
  }

  async #open(): Promise<Database> {
    const { default: Sqlite } = await import('better-sqlite3');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, 'index.db');
    closeSync(openSync(path, 'a', 0o600)); // SQLite gives its -wal and -shm files the database file's mode
    const db = new Sqlite(path);
    try {
      db.pragma('busy_timeout = 10000');
      db.pragma('journal_mode = WAL');
      // A commit survives a killed process; one lost to a power cut is a cache entry lost, never a wrong one.
      db.pragma('synchronous = NORMAL');
      db.exec(SCHEMA);
      db.transaction(() => this.#recover(db))();
    } catch (e) {
      db.close();
      throw e;
    }
    if (existsSync(join(this.dir, 'c')) || existsSync(join(this.dir, 'm'))) this.#legacy = new FsBlobCache(this.dir);
    this.#db = db;
    this.#sql = statementsOf(db);
    this.#track(this.#syncOrphans(db));
    return db;
  }

  /**
   * After a reboot, rows past a pack's fsynced length may name bytes that
   * never reached the disk: dropped, and appends resume there. Claims of
   * processes that are gone are cleared (their written bytes are intact).
   */
  #recover(db: Database): void {
    for (const p of db.prepare('SELECT * FROM packs').all() as PackRow[]) {
      if (!sameBoot(p.boot, this.#boot)) {
        if (p.size > p.synced) {
          db.prepare('DELETE FROM objects WHERE pack = ? AND offset + length > ?').run(p.id, p.synced);
          const live = (db.prepare('SELECT COALESCE(SUM(length), 0) AS n FROM objects WHERE pack = ?').get(p.id) as { n: number }).n;
          db.prepare('UPDATE packs SET size = synced, live = ?, boot = ?, owner = NULL WHERE id = ?').run(live, this.#boot, p.id);
        } else {
          db.prepare('UPDATE packs SET boot = ?, owner = NULL WHERE id = ?').run(this.#boot, p.id);
        }
      } else if (p.owner !== null && !pidAlive(p.owner)) {
        db.prepare('UPDATE packs SET owner = NULL WHERE id = ?').run(p.id);
      }
    }
  }

  /** Fsyncs the packs released without one (a process that exited or was killed), so they outlive a reboot. */
  async #syncOrphans(db: Database): Promise<void> {
    const orphans = db.prepare('SELECT id, name, size FROM packs WHERE owner IS NULL AND synced < size').all() as PackRow[];
    for (const p of orphans) {
      if (this.#closed) return;
      try {
        const fd = await openFd(join(this.#packs, `${p.name}.pack`), 'r');
        try {
          await syncFd(fd);
        } finally {
          await closeFd(fd);
        }
        if (!this.#closed) db.prepare('UPDATE packs SET synced = MAX(synced, ?) WHERE id = ?').run(p.size, p.id);
      } catch {
        // Gone (compacted by another process) or unreadable: nothing to make durable.
      }
    }
  }

  #track(p: Promise<void>): void {
    const t = p.catch(() => undefined).finally(() => this.#background.delete(t));
    this.#background.add(t);
  }

  /** The pack to append `length` bytes to, claimed (an existing one with room, else a new one) when needed. */
  #writerFor(db: Database, length: number): Writer {
    const w = this.#writer;
    if (w && (w.end + length <= PACK_BYTES || w.end === 0)) return w;
    if (w) {
      this.#writer = undefined;
      this.#track(this.#release(w, true));
    }
    const claimed = db.transaction(() => {
      const free = db.prepare('SELECT id, name, size FROM packs WHERE owner IS NULL AND size + ? <= ? ORDER BY size DESC LIMIT 1').get(length, PACK_BYTES) as
        PackRow | undefined;
      if (free) {
        db.prepare('UPDATE packs SET owner = ?, boot = ? WHERE id = ?').run(this.#me, this.#boot, free.id);
        return { id: free.id, name: free.name, size: free.size, fresh: false };
      }
      const name = randomBytes(12).toString('hex');
      const id = Number(
        db.prepare('INSERT INTO packs (name, size, live, synced, boot, owner) VALUES (?, 0, 0, 0, ?, ?)').run(name, this.#boot, this.#me).lastInsertRowid,
      );
      return { id, name, size: 0, fresh: true };
    })();
    let fd: number;
    try {
      const path = join(this.#packs, `${claimed.name}.pack`);
      if (claimed.fresh) mkdirSync(this.#packs, { recursive: true, mode: 0o700 });
      fd = openSync(path, claimed.fresh ? 'wx' : 'r+', 0o600);
    } catch (e) {
      if (claimed.fresh) {
        db.prepare('DELETE FROM packs WHERE id = ?').run(claimed.id);
        throw e; // an unwritable home: the caller's error
      }
      if (!isMissing(e)) {
        db.prepare('UPDATE packs SET owner = NULL WHERE id = ?').run(claimed.id);
        throw e;
      }
      // A pack whose file is gone holds nothing readable: forget it and claim another.
      this.#forgetPack(db, claimed.id);
      return this.#writerFor(db, length);
    }
    if (!exitHooked) {
      exitHooked = true;
      process.once('exit', () => {
        for (const c of claimers) c.#releaseNow();
      });
    }
    claimers.add(this);
    this.#writer = { id: claimed.id, name: claimed.name, fd, end: claimed.size, inflight: new Set() };
    return this.#writer;
  }

  #forgetPack(db: Database, id: number): void {
    db.transaction(() => {
      db.prepare('DELETE FROM objects WHERE pack = ?').run(id);
      db.prepare('DELETE FROM packs WHERE id = ?').run(id);
    })();
  }

  /** Lets other instances append to the pack once this one's writes have settled; `sync` fsyncs it first and records it durable. */
  async #release(w: Writer, sync: boolean): Promise<void> {
    await Promise.allSettled([...w.inflight]);
    this.#commitNow(); // the pack's rows before its size is recorded durable
    try {
      if (sync) await syncFd(w.fd);
      const db = this.#db!;
      if (sync) db.prepare('UPDATE packs SET synced = size, owner = NULL WHERE id = ? AND owner = ?').run(w.id, this.#me);
      else db.prepare('UPDATE packs SET owner = NULL WHERE id = ? AND owner = ?').run(w.id, this.#me);
    } finally {
      await closeFd(w.fd);
      if (!this.#writer) claimers.delete(this);
    }
    await this.#reclaim(w.id);
  }

  /** At process exit: release the claim without waiting (writes still in flight are not indexed, so nothing is lost but space). */
  #releaseNow(): void {
    try {
      this.#commitNow(); // written objects not yet indexed: their puts never resolved, but the bytes are whole
      this.#db?.prepare('UPDATE packs SET owner = NULL WHERE owner = ?').run(this.#me);
    } catch {
      // The index is already closed or unwritable: the next open clears a dead process's claim anyway.
    }
  }

  /** The batch rows and last-use times join; committed on the next turn of the event loop, so puts finishing together share it. */
  #nextBatch(): Batch {
    if (this.#batch) return this.#batch;
    const b = (this.#batch = newBatch());
    setImmediate(() => this.#commit(b));
    return b;
  }

  /** Commits the open batch now (a release, a listing, process exit): after it, the index holds every row queued so far. */
  #commitNow(): void {
    if (this.#batch) this.#commit(this.#batch);
  }

  #commit(b: Batch): void {
    if (this.#batch !== b) return; // committed early
    this.#batch = undefined;
    const db = this.#db;
    const sql = this.#sql;
    if (!db || !sql) return b.resolve(); // closed: the rows' puts resolve unindexed, as a put finishing after close always did
    const used = [...this.#usedAt];
    this.#usedAt.clear();
    let emptied: number[];
    try {
      emptied = db.transaction(() => {
        const now = Date.now();
        const packs = new Map<number, { live: number; end: number }>();
        const shrunk = new Set<number>();
        for (const r of b.rows) {
          const old = sql.old.get(r.key) as ObjectRow | undefined;
          sql.upsert.run(r.key, r.pack, r.offset, r.length, now);
          const p = packs.get(r.pack) ?? { live: 0, end: 0 };
          p.live += r.length;
          p.end = Math.max(p.end, r.offset + r.length);
          packs.set(r.pack, p);
          if (old) {
            if (packs.has(old.pack)) packs.get(old.pack)!.live -= old.length;
            else sql.shrink.run(old.length, old.pack);
            if (old.pack !== r.pack) shrunk.add(old.pack);
          }
        }
        for (const [id, p] of packs) sql.grow.run(p.live, p.end, id);
        for (const [key, at] of used) sql.used.run(at, key);
        return [...shrunk];
      })();
    } catch (e) {
      return b.reject(e);
    }
    if (emptied.length === 0) return b.resolve();
    // Packs that lost objects to replacements may now be mostly dead: the puts resolve once they are dealt with.
    const reclaimed = Promise.allSettled(emptied.map((id) => this.#reclaim(id))).then(() => b.resolve());
    this.#track(reclaimed);
  }

  async get(key: string): Promise<Uint8Array | null> {
    checkBlobCacheKey(key);
    await this.#ready();
    for (let attempt = 0; attempt < 2; attempt++) {
      const row = this.#sql!.find.get(key) as (ObjectRow & { name: string }) | undefined;
      if (!row) return this.#legacy ? this.#legacy.get(key) : null;
      const bytes = await this.#readObject(row.name, row.offset, row.length);
      if (bytes === 'gone') continue; // compacted away between the lookup and the read: look again
      if (bytes === 'short') {
        // Fewer bytes on disk than the row says (a file cut short behind the index's back): not an object.
        await this.delete(key);
        return null;
      }
      this.#usedLater(key);
      return bytes;
    }
    return null;
  }

  async #readObject(name: string, offset: number, length: number): Promise<Uint8Array | 'gone' | 'short'> {
    let r = this.#readers.get(name);
    if (!r) {
      r = { fd: openFd(join(this.#packs, `${name}.pack`), 'r'), users: 0 };
      r.fd.catch(() => undefined);
      this.#readers.set(name, r);
      this.#trimReaders();
    }
    r.users++;
    try {
      const fd = await r.fd;
      const out = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await readAt(fd, out, got, length - got, offset + got);
        if (bytesRead === 0) return 'short';
        got += bytesRead;
      }
      return out;
    } catch (e) {
      if (!isMissing(e)) throw e;
      this.#readers.delete(name);
      return 'gone';
    } finally {
      r.users--;
      this.#trimReaders();
    }
  }

  #trimReaders(): void {
    for (const [name, r] of this.#readers) {
      if (this.#readers.size <= READERS) return;
      if (r.users > 0) continue;
      this.#readers.delete(name);
      void r.fd.then((fd) => closeFd(fd)).catch(() => undefined);
    }
  }

  async touch(key: string): Promise<boolean> {
    checkBlobCacheKey(key);
    await this.#ready();
    if (this.#sql!.exists.get(key) !== undefined) {
      this.#usedLater(key);
      return true;
    }
    return this.#legacy ? this.#legacy.touch(key) : false;
  }

  /** Last use is for eviction order only: written with the next batch, not a commit of its own. */
  #usedLater(key: string): void {
    this.#usedAt.set(key, Date.now());
    this.#nextBatch();
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    checkBlobCacheKey(key);
    const db = await this.#ready();
    const w = this.#writerFor(db, bytes.length);
    const offset = w.end;
    w.end += bytes.length;
    // The row is queued only once the bytes are written (a reader never meets a partial object, a crash leaves none
    // indexed), and within the write's promise, so a release waiting for the pack's writes commits it first.
    const written = (async (): Promise<Batch | undefined> => {
      for (let at = 0; at < bytes.length;) at += (await writeAt(w.fd, bytes, at, bytes.length - at, offset + at)).bytesWritten;
      if (this.#closed) return undefined;
      const b = this.#nextBatch();
      b.rows.push({ key, pack: w.id, offset, length: bytes.length });
      return b;
    })();
    w.inflight.add(written);
    let batch: Batch | undefined;
    try {
      batch = await written;
    } finally {
      w.inflight.delete(written);
    }
    await batch?.promise;
  }

  async delete(key: string): Promise<void> {
    checkBlobCacheKey(key);
    const db = await this.#ready();
    this.#commitNow(); // a put of this key that has finished writing lands first, as it would have unbatched
    const pack = db.transaction(() => {
      const old = db.prepare('SELECT pack, length FROM objects WHERE key = ?').get(key) as ObjectRow | undefined;
      if (!old) return undefined;
      db.prepare('DELETE FROM objects WHERE key = ?').run(key);
      db.prepare('UPDATE packs SET live = live - ? WHERE id = ?').run(old.length, old.pack);
      return old.pack;
    })();
    await this.#legacy?.delete(key);
    if (pack !== undefined) await this.#reclaim(pack);
  }

  /**
   * Frees a pack nobody appends to once it holds nothing live (removed),
   * or less live than dead (its live objects appended to this instance's
   * pack, then removed).
   */
  async #reclaim(id: number): Promise<void> {
    const db = this.#db;
    if (!db || this.#closed) return;
    const p = db.prepare('SELECT * FROM packs WHERE id = ?').get(id) as PackRow | undefined;
    if (!p || p.owner !== null || (p.live > 0 && p.live * 2 >= p.size)) return;
    // Claimed for the compaction, so no other process appends to it or compacts it meanwhile.
    if (db.prepare('UPDATE packs SET owner = ? WHERE id = ? AND owner IS NULL').run(this.#me, id).changes === 0) return;
    try {
      const rows = db.prepare('SELECT key, offset, length FROM objects WHERE pack = ? ORDER BY offset').all(id) as ObjectRow[];
      for (const o of rows) {
        const bytes = await this.#readObject(p.name, o.offset, o.length);
        if (typeof bytes === 'string') break;
        const w = this.#writerFor(db, o.length);
        const offset = w.end;
        w.end += o.length;
        const written = writeAt(w.fd, bytes, 0, o.length, offset).then((r) => r.bytesWritten);
        w.inflight.add(written);
        let n: number;
        try {
          n = await written;
        } finally {
          w.inflight.delete(written);
        }
        if (n !== o.length || this.#closed) return; // the rest stays where it is
        db.transaction(() => {
          const moved = db
            .prepare('UPDATE objects SET pack = ?, offset = ? WHERE key = ? AND pack = ? AND offset = ?')
            .run(w.id, offset, o.key, id, o.offset).changes;
          if (moved === 0) return; // deleted or replaced meanwhile
          db.prepare('UPDATE packs SET live = live - ? WHERE id = ?').run(o.length, id);
          db.prepare('UPDATE packs SET live = live + ?, size = MAX(size, ?) WHERE id = ?').run(o.length, offset + o.length, w.id);
        })();
      }
      const gone = db.transaction(() => {
        const live = (db.prepare('SELECT COUNT(*) AS n FROM objects WHERE pack = ?').get(id) as { n: number }).n;
        if (live > 0) return false;
        db.prepare('DELETE FROM packs WHERE id = ?').run(id);
        return true;
      })();
      if (gone) {
        const r = this.#readers.get(p.name);
        this.#readers.delete(p.name);
        void r?.fd.then((fd) => closeFd(fd)).catch(() => undefined);
        await unlink(join(this.#packs, `${p.name}.pack`)).catch(() => undefined);
      }
    } finally {
      db.prepare('UPDATE packs SET owner = NULL WHERE id = ? AND owner = ?').run(id, this.#me);
    }
  }

  async list(): Promise<CachedObject[]> {
    const db = await this.#ready();
    this.#commitNow();
    const out = (db.prepare('SELECT key, length AS size, used_at AS usedAt FROM objects').all() as CachedObject[]).map((o) => ({ ...o }));
    if (this.#legacy) {
      const indexed = new Set(out.map((o) => o.key));
      for (const o of await this.#legacy.list()) if (!indexed.has(o.key)) out.push(o);
    }
    return out;
  }

  /**
   * Fsyncs and releases the pack this instance appends to, closes the index.
   * Optional: at process exit the claim is released without a fsync, and
   * the next instance to open the cache fsyncs what was left.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    const w = this.#writer;
    this.#writer = undefined;
    if (w) await this.#release(w, true);
    this.#closed = true;
    claimers.delete(this);
    this.#commitNow();
    await Promise.allSettled([...this.#background]);
    for (const r of this.#readers.values()) await r.fd.then((fd) => closeFd(fd)).catch(() => undefined);
    this.#readers.clear();
    this.#db?.close();
    this.#db = undefined;
    this.#sql = undefined;
  }
}

/** Opens the blob cache in `dir` (created on first use; a cache in the file-per-object layout is still read). */
export function openFsBlobCache(dir: string): PackBlobCache {
  return new PackBlobCache(dir);
}
