/**
 * @module outbox
 * The outbox table (schema 4, 5): a write's ops in rows of up to
 * {@link OUTBOX_ROW_OPS}, each row one JSON array. A row's key is the seq of
 * its last op and `first` the seq of its first, so the ops of a row have the
 * consecutive seqs `first..seq`. One row per op cost a b-tree insert, a row
 * header and a statement run for every local write; a batch of 10,000 puts
 * now writes 40 rows.
 *
 * Seqs are never reused: the key is AUTOINCREMENT, whose high-water mark
 * (`sqlite_sequence`) survives the table emptying, and the next seq is read
 * from it. Deleting through a seq inside a row rewrites that row's tail.
 *
 * A row with a `device` (schema 5, {@link OutboxTable.append} of own ops)
 * also stands for its ops' history: a local write then writes one row per
 * 256 ops instead of one history row and three b-tree entries per op. The
 * entries are derived by the core's `historyOfOwnOp` when read, and moved
 * into the log when the ops leave the outbox (push), off the write path.
 *
 * A row with an `owner` (schema 6) may hold references to record rows in
 * place of puts on empty records (put-refs.ts); every reader here resolves
 * them, and a row cut by a push keeps its remaining references as they are.
 */
import type Database from 'better-sqlite3';
import { historyOfOwnOp, ownOpStamp, type JsonObject, type JsonValue, type LogEntry, type OutboxEntry } from '@kith/core/adapter';
import { PutRefStore, type PendingRef, type PendingRefs } from './put-refs.js';

/**
 * Ops per outbox row. Push reads up to 10,000 ops and deletes through the
 * last one a segment took, which may cut a row; a cut row is parsed and
 * written again, so rows stay small enough for that to be cheap.
 */
export const OUTBOX_ROW_OPS = 256;

type OutboxRow = { seq: number; first: number; ops: string; device: string | null; owner: string | null };

/**
 * The least and greatest history stamps of `ops` by `device`. Every stamp ends with the same device id, so
 * they compare as their local parts do: those are compared, and the device appended to the two kept.
 */
function stampRange(ops: readonly JsonObject[], device: string): [string, string] {
  let oldest = '';
  let last = '';
  for (const op of ops) {
    const t = ownOpStamp(op, ''); // the local part alone
    if (oldest === '' || t < oldest) oldest = t;
    if (t > last) last = t;
  }
  return [oldest + device, last + device];
}

/** The outbox's prepared statements and the operations of the Store port. */
export class OutboxTable {
  readonly #insert: Database.Statement;
  readonly #historyThrough: Database.Statement;
  readonly #historyRows: Database.Statement;
  readonly #historyBefore: Database.Statement;
  readonly #allHistory: Database.Statement;
  readonly #settle: Database.Statement;
  readonly #row: Database.Statement;
  readonly #highWater: Database.Statement;
  readonly #rows: Database.Statement;
  readonly #deleteThrough: Database.Statement;
  readonly #straddling: Database.Statement;
  readonly #rewrite: Database.Statement;
  readonly #count: Database.Statement;
  readonly #refRowsThrough: Database.Statement;
  readonly #containing: Database.Statement;
  readonly #rewriteOps: Database.Statement;
  readonly #refs: PutRefStore;

  constructor(db: Database.Database) {
    this.#refs = new PutRefStore(db);
    this.#insert = db.prepare('INSERT INTO outbox (seq, first, ops, device, oldest, last, owner) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.#historyBefore = db.prepare('SELECT 1 FROM outbox WHERE device IS NOT NULL AND oldest < ? LIMIT 1').pluck();
    this.#allHistory = db.prepare('SELECT seq, first, ops, device, owner FROM outbox WHERE device IS NOT NULL ORDER BY seq');
    this.#settle = db.prepare('UPDATE outbox SET device = NULL, oldest = NULL, last = NULL WHERE device IS NOT NULL');
    this.#historyThrough = db.prepare('SELECT seq, first, ops, device, owner FROM outbox WHERE seq <= ? AND device IS NOT NULL ORDER BY seq');
    // instr() on the JSON text skips rows that cannot hold the collection or id asked for (instr(x, '') is 1).
    this.#historyRows = db.prepare('SELECT seq, last FROM outbox WHERE device IS NOT NULL AND instr(ops, ?) > 0 AND instr(ops, ?) > 0');
    this.#row = db.prepare('SELECT seq, first, ops, device, owner FROM outbox WHERE seq = ?');
    this.#highWater = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").pluck();
    this.#rows = db.prepare('SELECT seq, first, ops, owner FROM outbox ORDER BY seq');
    this.#deleteThrough = db.prepare('DELETE FROM outbox WHERE seq <= ?');
    this.#straddling = db.prepare('SELECT seq, first, ops, device, owner FROM outbox WHERE first <= ? ORDER BY seq LIMIT 1');
    this.#rewrite = db.prepare('UPDATE outbox SET first = ?, ops = ? WHERE seq = ?');
    this.#count = db.prepare('SELECT coalesce(sum(seq - first + 1), 0) FROM outbox').pluck();
    this.#refRowsThrough = db.prepare('SELECT ops, owner FROM outbox WHERE seq <= ? AND owner IS NOT NULL');
    this.#containing = db.prepare('SELECT seq, first, ops FROM outbox WHERE seq >= ? ORDER BY seq LIMIT 1');
    this.#rewriteOps = db.prepare('UPDATE outbox SET ops = ? WHERE seq = ?');
  }

  /** A row's ops, references resolved. */
  #ops(row: OutboxRow): JsonObject[] {
    return this.#refs.resolveAll(JSON.parse(row.ops) as JsonValue[], row.owner);
  }

  /**
   * Appends `ops` in order, numbered on from the highest seq ever given.
   * With `device`, the rows also stand for the ops' history (see the module);
   * with `pending` too, the ops it accepts are written as references that
   * wait there for their rows (put-refs.ts).
   */
  append(ops: readonly JsonObject[], device: string | null = null, pending?: PendingRefs): void {
    if (ops.length === 0) return;
    let next = ((this.#highWater.get() as number | undefined) ?? 0) + 1;
    for (let i = 0; i < ops.length; i += OUTBOX_ROW_OPS) {
      const part = ops.length <= OUTBOX_ROW_OPS ? ops : ops.slice(i, i + OUTBOX_ROW_OPS);
      const last = next + part.length - 1;
      let elements: readonly JsonValue[] = part;
      let owner: string | null = null;
      if (device !== null && pending !== undefined) {
        const out: JsonValue[] = new Array(part.length);
        for (let k = 0; k < part.length; k++) {
          const op = part[k]!;
          if (pending.offer(op, next + k, device)) {
            out[k] = [op['c']!, op['i']!, op['t']!];
            owner = device;
          } else out[k] = op;
        }
        elements = out;
      }
      // One JSON.stringify of the row's ops: about twice as fast as joining each op's text, even when an op's fields' text is at hand.
      const text = JSON.stringify(elements);
      const [oldest, newest] = device === null ? [null, null] : stampRange(part, device);
      this.#insert.run(last, next, text, device, oldest, newest, owner);
      next = last + 1;
    }
  }

  /** Writes whole the ops of references that no row came for (see PendingRefs), each outbox row they are in once. */
  writeWhole(refs: readonly PendingRef[]): void {
    const sorted = [...refs].sort((x, y) => x.seq - y.seq);
    for (let k = 0; k < sorted.length;) {
      const row = this.#containing.get(sorted[k]!.seq) as { seq: number; first: number; ops: string };
      const raw = JSON.parse(row.ops) as JsonValue[];
      for (; k < sorted.length && sorted[k]!.seq <= row.seq; k++) raw[sorted[k]!.seq - row.first] = sorted[k]!.op;
      this.#rewriteOps.run(JSON.stringify(raw), row.seq);
    }
  }

  /** The oldest `limit` entries, ascending seq. */
  read(limit: number): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    if (limit <= 0) return out;
    for (const row of this.#rows.iterate() as IterableIterator<OutboxRow>) {
      const ops = this.#ops(row);
      for (let k = 0; k < ops.length && out.length < limit; k++) out.push({ seq: row.first + k, op: ops[k]! });
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * Removes every entry with seq <= `through`, rewriting the row it falls
   * inside, if any. Returns the history entries the removed ops stood for,
   * in seq order, for the caller to append to the log.
   */
  delete(through: number): LogEntry[] {
    const moved: LogEntry[] = [];
    for (const row of this.#historyThrough.iterate(through) as IterableIterator<OutboxRow>) {
      for (const op of this.#ops(row)) moved.push(historyOfOwnOp(op, row.device!));
    }
    const kept = this.#refs.anyKept();
    if (kept) {
      // all(), not iterate(): forgetting writes, which better-sqlite3 refuses while a statement iterates.
      for (const row of this.#refRowsThrough.all(through) as Pick<OutboxRow, 'ops' | 'owner'>[]) {
        this.#refs.forget(JSON.parse(row.ops) as JsonValue[], row.owner!);
      }
    }
    this.#deleteThrough.run(through);
    const row = this.#straddling.get(through) as OutboxRow | undefined;
    if (row !== undefined) {
      // The elements as stored: the ops that stay keep their references.
      const raw = JSON.parse(row.ops) as JsonValue[];
      const cut = through + 1 - row.first;
      const gone = raw.slice(0, cut);
      // Resolved before their kept copies go (resolveAll replaces the references of the array it is given).
      if (row.device !== null) for (const op of this.#refs.resolveAll([...gone], row.owner)) moved.push(historyOfOwnOp(op, row.device));
      if (kept && row.owner !== null) this.#refs.forget(gone, row.owner);
      this.#rewrite.run(through + 1, JSON.stringify(raw.slice(cut)), row.seq);
    }
    if (kept && this.count() === 0) this.#refs.forgetAll();
    return moved;
  }

  /**
   * `logged` (the log's entries in order: all that match, or the newest
   * `limit`) with the history entries the outbox stands for merged in by
   * stamp, of one collection (and record) when given; with `limit`, the
   * newest `limit`. Rows are parsed greatest `last` first, and only as far
   * as the limit needs.
   */
  readHistory(logged: LogEntry[], collection: string | undefined, id: string | undefined, limit: number | undefined): LogEntry[] {
    const needle = (s: string | undefined): string => (s === undefined ? '' : JSON.stringify(s));
    const rows = this.#historyRows.all(needle(collection), needle(id)) as { seq: number; last: string }[];
    if (rows.length === 0 || limit === 0) return logged;
    rows.sort((a, b) => (a.last < b.last ? 1 : a.last > b.last ? -1 : 0));
    const pending: { seq: number; entry: LogEntry }[] = [];
    let cutoff: string | undefined; // the limit-th greatest stamp so far: a row whose last is below it adds nothing
    for (const { seq, last } of rows) {
      if (cutoff !== undefined && last < cutoff) break;
      const row = this.#row.get(seq) as OutboxRow;
      this.#ops(row).forEach((op, k) => {
        const entry = historyOfOwnOp(op, row.device!);
        if ((collection === undefined || entry.collection === collection) && (id === undefined || entry.id === id)) pending.push({ seq: row.first + k, entry });
      });
      if (limit !== undefined && logged.length + pending.length >= limit) {
        const stamps = [...logged.map((e) => e.stamp), ...pending.map((p) => p.entry.stamp)].sort();
        cutoff = stamps[stamps.length - limit];
      }
    }
    if (pending.length === 0) return logged;
    // The outbox's entries after the log's, in seq order: a stable sort by stamp keeps that order for equal stamps.
    pending.sort((a, b) => a.seq - b.seq);
    const all = [...logged, ...pending.map((p) => p.entry)].sort((a, b) => (a.stamp < b.stamp ? -1 : a.stamp > b.stamp ? 1 : 0));
    return limit === undefined ? all : all.slice(Math.max(0, all.length - limit));
  }

  /** Whether the outbox stands for any history entry stamped before `before` (which pruning must see). */
  hasHistoryBefore(before: string): boolean {
    return this.#historyBefore.get(before) !== undefined;
  }

  /**
   * Hands every history entry the outbox stands for to the caller (for the
   * log), in seq order, and marks the rows as holding ops only: done before
   * pruning, which works on the log alone and must see a record's newer
   * entries wherever they are.
   */
  settleHistory(): LogEntry[] {
    const moved: LogEntry[] = [];
    for (const row of this.#allHistory.iterate() as IterableIterator<OutboxRow>) {
      for (const op of this.#ops(row)) moved.push(historyOfOwnOp(op, row.device!));
    }
    this.#settle.run();
    return moved;
  }

  count(): number {
    return this.#count.get() as number;
  }
}
