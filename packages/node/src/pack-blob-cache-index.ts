/**
 * @module pack-blob-cache-index
 * The pack cache's SQLite index (`<dir>/index.db`): which packs exist, who
 * appends to each and how far each is durable, and where every object lies
 * (key → pack, offset, length, last use). Only the SQL lives here; the pack
 * files are pack-blob-cache.ts's.
 */
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { uptime } from 'node:os';
import { join } from 'node:path';
import type { Database, Statement } from 'better-sqlite3';
import { closeFd, openFd, syncFd } from './pack-blob-cache-readers.js';

/** A pack is closed to appends past this size (an object larger than it still gets a pack of its own). */
export const PACK_BYTES = 64 * 1024 * 1024;

/**
 * This boot of the machine: Linux's boot id, else the boot time (ms).
 * Data written but not fsynced survives a killed process, not a reboot.
 */
export function currentBoot(): string {
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

export interface PackRow {
  id: number;
  name: string;
  size: number;
  live: number;
  synced: number;
  boot: string;
  owner: string | null;
}

export interface ObjectRow {
  key: string;
  pack: number;
  offset: number;
  length: number;
}

/** An object row waiting for the next batch commit. */
export interface PendingRow {
  key: string;
  pack: number;
  offset: number;
  length: number;
}

/** Waiters of one batch commit. */
export interface Batch {
  readonly rows: PendingRow[];
  readonly promise: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

export function newBatch(): Batch {
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
export type IndexStatements = Record<'find' | 'exists' | 'old' | 'upsert' | 'grow' | 'shrink' | 'used', Statement>;

export function statementsOf(db: Database): IndexStatements {
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

/** Opens (creating) the index in `dir` and recovers it after a reboot or a dead process (see {@link recoverIndex}). */
export function openIndex(Sqlite: typeof import('better-sqlite3'), dir: string, boot: string): Database {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'index.db');
  closeSync(openSync(path, 'a', 0o600)); // SQLite gives its -wal and -shm files the database file's mode
  const db = new Sqlite(path);
  try {
    db.pragma('busy_timeout = 10000');
    db.pragma('journal_mode = WAL');
    // A commit survives a killed process; one lost to a power cut is a cache entry lost, never a wrong one.
    db.pragma('synchronous = NORMAL');
    db.exec(SCHEMA);
    db.transaction(() => recoverIndex(db, boot))();
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

/**
 * After a reboot, rows past a pack's fsynced length may name bytes that
 * never reached the disk: dropped, and appends resume there. Claims of
 * processes that are gone are cleared (their written bytes are intact).
 */
export function recoverIndex(db: Database, boot: string): void {
  for (const p of db.prepare('SELECT * FROM packs').all() as PackRow[]) {
    if (!sameBoot(p.boot, boot)) {
      if (p.size > p.synced) {
        db.prepare('DELETE FROM objects WHERE pack = ? AND offset + length > ?').run(p.id, p.synced);
        const live = (db.prepare('SELECT COALESCE(SUM(length), 0) AS n FROM objects WHERE pack = ?').get(p.id) as { n: number }).n;
        db.prepare('UPDATE packs SET size = synced, live = ?, boot = ?, owner = NULL WHERE id = ?').run(live, boot, p.id);
      } else {
        db.prepare('UPDATE packs SET boot = ?, owner = NULL WHERE id = ?').run(boot, p.id);
      }
    } else if (p.owner !== null && !pidAlive(p.owner)) {
      db.prepare('UPDATE packs SET owner = NULL WHERE id = ?').run(p.id);
    }
  }
}

/** Claims for `me` a pack with room for `length` bytes nobody appends to, else a new one. */
export function claimPack(db: Database, me: string, boot: string, length: number): { id: number; name: string; size: number; fresh: boolean } {
  return db.transaction(() => {
    const free = db.prepare('SELECT id, name, size FROM packs WHERE owner IS NULL AND size + ? <= ? ORDER BY size DESC LIMIT 1').get(length, PACK_BYTES) as
      PackRow | undefined;
    if (free) {
      db.prepare('UPDATE packs SET owner = ?, boot = ? WHERE id = ?').run(me, boot, free.id);
      return { id: free.id, name: free.name, size: free.size, fresh: false };
    }
    const name = randomBytes(12).toString('hex');
    const id = Number(db.prepare('INSERT INTO packs (name, size, live, synced, boot, owner) VALUES (?, 0, 0, 0, ?, ?)').run(name, boot, me).lastInsertRowid);
    return { id, name, size: 0, fresh: true };
  })();
}

/** Forgets a pack and its objects (its file is gone). */
export function forgetPack(db: Database, id: number): void {
  db.transaction(() => {
    db.prepare('DELETE FROM objects WHERE pack = ?').run(id);
    db.prepare('DELETE FROM packs WHERE id = ?').run(id);
  })();
}

/**
 * Commits a batch's object rows (replacing older ones, with the packs' live
 * bytes and sizes) and last-use times; returns the packs that lost objects
 * to replacements.
 */
export function commitRows(db: Database, sql: IndexStatements, rows: readonly PendingRow[], used: readonly (readonly [string, number])[]): number[] {
  return db.transaction(() => {
    const now = Date.now();
    const packs = new Map<number, { live: number; end: number }>();
    const shrunk = new Set<number>();
    for (const r of rows) {
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
}

/** Deletes an object's row; returns its pack, whose live bytes shrink (undefined: no such row). */
export function dropRow(db: Database, key: string): number | undefined {
  return db.transaction(() => {
    const old = db.prepare('SELECT pack, length FROM objects WHERE key = ?').get(key) as ObjectRow | undefined;
    if (!old) return undefined;
    db.prepare('DELETE FROM objects WHERE key = ?').run(key);
    db.prepare('UPDATE packs SET live = live - ? WHERE id = ?').run(old.length, old.pack);
    return old.pack;
  })();
}

/** Fsyncs the packs released without one (a process that exited or was killed), so they outlive a reboot. */
export async function syncOrphans(db: Database, packsDir: string, closed: () => boolean): Promise<void> {
  const orphans = db.prepare('SELECT id, name, size FROM packs WHERE owner IS NULL AND synced < size').all() as PackRow[];
  for (const p of orphans) {
    if (closed()) return;
    try {
      const fd = await openFd(join(packsDir, `${p.name}.pack`), 'r');
      try {
        await syncFd(fd);
      } finally {
        await closeFd(fd);
      }
      if (!closed()) db.prepare('UPDATE packs SET synced = MAX(synced, ?) WHERE id = ?').run(p.size, p.id);
    } catch {
      // Gone (compacted by another process) or unreadable: nothing to make durable.
    }
  }
}
