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
 * thread was most of the cache's cost. Durability: packs are fsynced when full or released
 * (on `flush`, which an attach calls, too), which records how far each is durable (`synced`);
 * after a reboot the rows past that point (written, never fsynced, so possibly torn by the
 * power cut) are dropped on open. An attach's copy may be what a push restores a collected
 * blob from (`Blobs.ensureUploaded`), hence the flush.
 *
 * Eviction: deleting rows frees nothing by itself; a pack left with no
 * live object is removed, and one whose live bytes fall under half its size
 * is compacted (its live objects appended elsewhere, fsynced there, then removed).
 *
 * Caches written by the file-per-object layout (`<dir>/c/ab/abcd…`) are
 * still read, listed and evicted where they lie; new writes go to packs.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import type { BlobCache, CachedObject } from '@kith/core/adapter';
import { FsBlobCache, checkBlobCacheKey } from './fs-blob-cache.js';
import { PackReaders, closeFd, isMissing, syncFd, writeAt, type Writer } from './pack-blob-cache-readers.js';
import {
  PACK_BYTES,
  claimPack,
  commitRows,
  currentBoot,
  dropRow,
  forgetPack,
  newBatch,
  syncOrphans,
  openIndex,
  statementsOf,
  type Batch,
  type IndexStatements,
  type ObjectRow,
  type PackRow,
} from './pack-blob-cache-index.js';

export { PACK_BYTES } from './pack-blob-cache-index.js';

/** Instances with a pack claimed: released (not fsynced) when the process exits, so the next process can append to it. */
const claimers = new Set<PackBlobCache>();
let exitHooked = false;

export class PackBlobCache implements BlobCache {
  readonly #me = `${process.pid}:${randomBytes(6).toString('hex')}`;
  readonly #boot: string;
  #opening: Promise<Database> | undefined;
  #db: Database | undefined;
  #sql: IndexStatements | undefined;
  /** Rows and last-use times for the next commit (scheduled once any is queued). */
  #batch: Batch | undefined;
  readonly #usedAt = new Map<string, number>();
  #legacy: FsBlobCache | undefined;
  #writer: Writer | undefined;
  /** Read descriptors of the packs (pack-blob-cache-readers.ts). */
  readonly #readers: PackReaders;
  /** Releases and fsyncs running in the background; `close` waits for them. */
  readonly #background = new Set<Promise<void>>();
  #closed = false;

  /** `boot` stands in for this boot's id (tests: a reboot). */
  constructor(
    readonly dir: string,
    o: { boot?: string } = {},
  ) {
    this.#boot = o.boot ?? currentBoot();
    this.#readers = new PackReaders(join(dir, 'packs'));
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
    const db = openIndex(Sqlite, this.dir, this.#boot);
    if (existsSync(join(this.dir, 'c')) || existsSync(join(this.dir, 'm'))) this.#legacy = new FsBlobCache(this.dir);
    this.#db = db;
    this.#sql = statementsOf(db);
    this.#track(syncOrphans(db, this.#packs, () => this.#closed));
    return db;
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
      this.#track((w.released = this.#release(w, true)));
    }
    const claimed = claimPack(db, this.#me, this.#boot, length);
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
      forgetPack(db, claimed.id);
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
      emptied = commitRows(db, sql, b.rows, used);
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
      const bytes = await this.#readers.read(row.name, row.offset, row.length);
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
    const pack = dropRow(db, key);
    await this.#legacy?.delete(key);
    if (pack !== undefined) await this.#reclaim(pack);
  }

  /**
   * Frees a pack nobody appends to once it holds less live than dead
   * (its live objects appended to this instance's pack, then removed);
   * one with no live byte is just removed, unless nothing in it is dead
   * either (a pack of empty objects: moving them would free nothing, and
   * the pack they moved to would be just such a pack, released and
   * compacted again, without end).
   */
  async #reclaim(id: number): Promise<void> {
    const db = this.#db;
    if (!db || this.#closed) return;
    const p = db.prepare('SELECT * FROM packs WHERE id = ?').get(id) as PackRow | undefined;
    if (!p || p.owner !== null || p.live * 2 >= p.size) return;
    // Claimed for the compaction, so no other process appends to it or compacts it meanwhile.
    if (db.prepare('UPDATE packs SET owner = ? WHERE id = ? AND owner IS NULL').run(this.#me, id).changes === 0) return;
    const targets = new Set<Writer>();
    try {
      const rows = db.prepare('SELECT key, offset, length FROM objects WHERE pack = ? ORDER BY offset').all(id) as ObjectRow[];
      for (const o of rows) {
        const bytes = await this.#readers.read(p.name, o.offset, o.length);
        if (typeof bytes === 'string') break;
        const w = this.#writerFor(db, o.length);
        targets.add(w);
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
      // The copies are made durable before the originals go: after a power cut, rows past a pack's fsync are dropped.
      for (const w of targets) {
        if (w !== this.#writer) await w.released;
        else {
          this.#writer = undefined;
          await this.#release(w, true);
        }
      }
      if (this.#closed) return;
      const gone = db.transaction(() => {
        const live = (db.prepare('SELECT COUNT(*) AS n FROM objects WHERE pack = ?').get(id) as { n: number }).n;
        if (live > 0) return false;
        db.prepare('DELETE FROM packs WHERE id = ?').run(id);
        return true;
      })();
      if (gone) {
        this.#readers.forget(p.name);
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
   * Makes every put so far survive a power cut (as {@link close} does,
   * staying open): the pack this instance appends to is fsynced and
   * released, as when full (the next put claims one again), and fsyncs
   * under way end. `Blobs.put` calls it once an attach's copy is written.
   */
  async flush(): Promise<void> {
    if (this.#closed || !this.#db) return; // nothing written
    const w = this.#writer;
    this.#writer = undefined;
    if (w) await this.#release(w, true);
    await Promise.allSettled([...this.#background]);
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
    await this.#readers.closeAll();
    this.#db?.close();
    this.#db = undefined;
    this.#sql = undefined;
  }
}

/** Opens the blob cache in `dir` (created on first use; a cache in the file-per-object layout is still read). */
export function openFsBlobCache(dir: string): PackBlobCache {
  return new PackBlobCache(dir);
}
