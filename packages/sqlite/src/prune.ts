/**
 * @module prune
 * History pruning and giving space back (issue #15 point 5).
 *
 * New files are created with `auto_vacuum = INCREMENTAL`, so pages freed by
 * pruning return to the file system with `incremental_vacuum` inside the
 * pruning transaction. A file made before that (auto_vacuum NONE) is
 * converted once, with VACUUM, when it is small enough for that to be
 * quick; a larger one is left as it is (its free pages are still reused)
 * and {@link SpaceMode} says so.
 */
import type Database from 'better-sqlite3';

/** Files up to this size are converted to incremental vacuum on open (VACUUM rewrites the whole file). */
export const CONVERT_MAX_BYTES = 64 * 1024 * 1024;

/** How the file gives space back: `incremental`, or why not. */
export type SpaceMode = 'incremental' | 'none: too large to convert' | 'none: busy';

/** Must run before anything else touches a new file (journal_mode included): only an empty file takes the setting directly. */
export function preferIncrementalVacuum(db: Database.Database): void {
  db.pragma('auto_vacuum = INCREMENTAL');
}

/** After migration: converts an older, small file once; says what the file does. */
export function ensureIncrementalVacuum(db: Database.Database, maxBytes = CONVERT_MAX_BYTES): SpaceMode {
  if ((db.pragma('auto_vacuum', { simple: true }) as number) === 2) return 'incremental';
  if (fileBytes(db) > maxBytes) return 'none: too large to convert';
  try {
    db.pragma('auto_vacuum = INCREMENTAL');
    db.exec('VACUUM');
  } catch {
    return 'none: busy'; // another process holds the file; the next open tries again
  }
  return (db.pragma('auto_vacuum', { simple: true }) as number) === 2 ? 'incremental' : 'none: busy';
}

/** The file's size in pages times the page size (free pages included). */
export function fileBytes(db: Database.Database): number {
  return (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
}

/** Deletes history older than a stamp, never a record's newest entry, a batch at a time. */
export class LogPruner {
  readonly #db: Database.Database;
  readonly #delete: Database.Statement;
  readonly #any: Database.Statement;

  constructor(db: Database.Database) {
    this.#db = db;
    // Newest entry per record is kept: "at least the last version". Both lookups use the existing indexes.
    const prunable = `
      SELECT l.seq FROM log l
      WHERE l.stamp < @before
        AND EXISTS (SELECT 1 FROM log n WHERE n.collection = l.collection AND n.id = l.id AND n.stamp > l.stamp)
      ORDER BY l.stamp`;
    this.#delete = db.prepare(`DELETE FROM log WHERE seq IN (${prunable} LIMIT @limit)`);
    this.#any = db.prepare(`${prunable} LIMIT 1`).pluck();
  }

  /** Whether {@link prune} would delete anything: checked in a read, so an open with nothing to prune takes no write lock. */
  any(before: string): boolean {
    return this.#any.get({ before }) !== undefined;
  }

  /** Inside the caller's write transaction: deletes up to `limit` entries, then frees the pages they held. */
  prune(before: string, limit: number): number {
    const n = this.#delete.run({ before, limit }).changes;
    if (n > 0) this.#db.pragma('incremental_vacuum');
    return n;
  }
}
