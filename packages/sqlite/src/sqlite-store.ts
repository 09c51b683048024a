/**
 * @module sqlite-store
 * The Node store: one SQLite file per device home, on better-sqlite3 in WAL
 * mode. Store transactions are async functions but SQLite runs
 * synchronously on one connection, so every transaction (reads included)
 * runs under an in-process mutex; other processes on the same home are
 * serialized by SQLite's own lock and `busy_timeout`.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  ErrorCode,
  KithError,
  type JsonObject,
  type JsonValue,
  type LogEntry,
  type LogFilter,
  type OutboxEntry,
  type RecordPage,
  type RecordQuery,
  type RecordRow,
  type Store,
  type StoreTx,
} from '@kith/core';
import { Mutex } from './mutex.js';
import { compileQuery, encodeCursor, RECORD_COLUMNS } from './query-sql.js';
import { migrate } from './schema.js';
import { toStoreError } from './sqlite-errors.js';

export interface SqliteStoreOptions {
  /**
   * `normal` (default): durable against a crash of the process (kill -9),
   * which is what WAL with synchronous=NORMAL guarantees. `full`: also
   * against power loss, at the cost of an fsync per transaction.
   */
  readonly durability?: 'normal' | 'full';
  /** How long to wait for another process's lock (default 10 s). */
  readonly busyTimeoutMs?: number;
  /** For tests: cap the file at this many pages to simulate a full disk. */
  readonly maxPageCount?: number;
}

type Row = { collection: string; id: string; fields: string; deleted: number; state: string; conflicted: number; updated: string };
type OrderedRow = Row & { k_rank: number; k_value: number | string };

const ID_CHUNK = 500;
const WRITE_METHODS = new Set(['setMeta', 'putRecords', 'appendLog', 'appendOutbox', 'deleteOutbox']);

function decodeRecord(r: Row): RecordRow {
  return {
    collection: r.collection,
    id: r.id,
    fields: JSON.parse(r.fields) as JsonObject,
    deleted: r.deleted === 1,
    state: JSON.parse(r.state) as JsonObject,
    conflicted: r.conflicted === 1,
    updated: r.updated,
  };
}

/** Creates the file with mode 0600 (it holds device private keys) before SQLite opens it. */
function prepareFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
}

export class SqliteStore implements Store {
  readonly file: string;
  readonly #db: Database.Database;
  readonly #mutex = new Mutex();
  readonly #stmts: ReturnType<typeof prepareStatements>;
  readonly #queries = new Map<string, Database.Statement>();
  #closed = false;

  constructor(file: string, options: SqliteStoreOptions = {}) {
    this.file = file;
    try {
      prepareFile(file);
      this.#db = new Database(file, { timeout: options.busyTimeoutMs ?? 10_000 });
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma(`synchronous = ${options.durability === 'full' ? 'FULL' : 'NORMAL'}`);
      this.#db.pragma('foreign_keys = OFF');
      // Bulk writes (imports, first pulls) are the common heavy case: a bigger page cache and
      // fewer, larger checkpoints keep them close to raw insert speed.
      this.#db.pragma('cache_size = -65536');
      this.#db.pragma('wal_autocheckpoint = 10000');
      this.#db.pragma('temp_store = MEMORY');
      if (options.maxPageCount !== undefined) this.#db.pragma(`max_page_count = ${options.maxPageCount}`);
      migrate(this.#db, file);
      for (const side of ['-wal', '-shm']) if (existsSync(file + side)) chmodSync(file + side, 0o600);
      this.#stmts = prepareStatements(this.#db);
    } catch (e) {
      throw toStoreError(e, file);
    }
  }

  read<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.#transaction(fn, false);
  }

  write<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.#transaction(fn, true);
  }

  async close(): Promise<void> {
    await this.#mutex.run(async () => {
      if (this.#closed) return;
      this.#closed = true;
      this.#db.close();
    });
  }

  #transaction<T>(fn: (tx: StoreTx) => Promise<T>, writable: boolean): Promise<T> {
    return this.#mutex.run(async () => {
      if (this.#closed) throw new KithError(ErrorCode.StoreFailed, `the store ${this.file} is closed`);
      let open = true;
      const inner = this.#tx();
      const tx = new Proxy(inner, {
        get: (target, name: string) => {
          const method = Reflect.get(target, name) as (...a: unknown[]) => Promise<unknown>;
          return async (...args: unknown[]) => {
            if (!open) throw new KithError(ErrorCode.Internal, `store transaction used after it ended (${name})`);
            if (!writable && WRITE_METHODS.has(name)) throw new KithError(ErrorCode.Internal, `${name} in a read transaction`);
            try {
              return await method(...args);
            } catch (e) {
              throw toStoreError(e, this.file);
            }
          };
        },
      });
      try {
        this.#db.exec(writable ? 'BEGIN IMMEDIATE' : 'BEGIN');
      } catch (e) {
        throw toStoreError(e, this.file);
      }
      try {
        const out = await fn(tx);
        this.#db.exec('COMMIT');
        return out;
      } catch (e) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw toStoreError(e, this.file);
      } finally {
        open = false;
      }
    });
  }

  #query(q: RecordQuery): RecordPage {
    const compiled = compileQuery(q);
    let stmt = this.#queries.get(compiled.sql);
    if (!stmt) {
      stmt = this.#db.prepare(compiled.sql);
      if (this.#queries.size > 200) this.#queries.clear();
      this.#queries.set(compiled.sql, stmt);
    }
    const rows = stmt.all(compiled.params) as OrderedRow[];
    const more = compiled.limit !== undefined && rows.length > compiled.limit;
    const page = more ? rows.slice(0, compiled.limit) : rows;
    const last = page[page.length - 1];
    let next: string | null = null;
    if (more && last) {
      next = encodeCursor(q, compiled.ordered ? { rank: last.k_rank, value: last.k_value, id: last.id } : { rank: 0, value: 0, id: last.id });
    }
    return { rows: page.map(decodeRecord), next };
  }

  #tx(): StoreTx {
    const s = this.#stmts;
    return {
      getMeta: async (key) => {
        const v = s.getMeta.pluck().get(key) as string | undefined;
        return v === undefined ? undefined : (JSON.parse(v) as JsonValue);
      },
      setMeta: async (key, value) => {
        if (value === undefined) s.deleteMeta.run(key);
        else s.setMeta.run(key, JSON.stringify(value));
      },
      getRecords: async (collection, ids) => {
        const out = new Map<string, RecordRow>();
        for (let i = 0; i < ids.length; i += ID_CHUNK) {
          const rows = s.getRecords.all(collection, JSON.stringify(ids.slice(i, i + ID_CHUNK))) as Row[];
          for (const r of rows) out.set(r.id, decodeRecord(r));
        }
        return out;
      },
      putRecords: async (rows) => {
        for (const r of rows) {
          s.putRecord.run(r.collection, r.id, JSON.stringify(r.fields), r.deleted ? 1 : 0, JSON.stringify(r.state), r.conflicted ? 1 : 0, r.updated);
        }
      },
      query: async (q) => this.#query(q),
      listCollections: async () => s.collections.pluck().all() as string[],
      listConflicted: async (collection) =>
        ((collection === undefined ? s.conflictedAll.all() : s.conflictedIn.all(collection)) as Row[]).map(decodeRecord),
      appendLog: async (entries: readonly LogEntry[]) => {
        for (const e of entries) s.appendLog.run(e.collection, e.id, e.stamp, e.device, e.kind, JSON.stringify(e.fields));
      },
      readLog: async (f: LogFilter) => {
        const conds: string[] = [];
        const params: Record<string, string | number> = {};
        if (f.collection !== undefined) {
          conds.push('collection = @c');
          params['c'] = f.collection;
        }
        if (f.id !== undefined) {
          conds.push('id = @i');
          params['i'] = f.id;
        }
        const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
        const sql =
          f.limit === undefined
            ? `SELECT collection, id, stamp, device, kind, fields FROM log ${where} ORDER BY stamp, seq`
            : `SELECT * FROM (SELECT collection, id, stamp, device, kind, fields, seq FROM log ${where} ORDER BY stamp DESC, seq DESC LIMIT @lim) ORDER BY stamp, seq`;
        if (f.limit !== undefined) params['lim'] = f.limit;
        const rows = this.#db.prepare(sql).all(params) as (Omit<LogEntry, 'fields'> & { fields: string })[];
        return rows.map((r) => ({ collection: r.collection, id: r.id, stamp: r.stamp, device: r.device, kind: r.kind, fields: JSON.parse(r.fields) as string[] }));
      },
      appendOutbox: async (ops) => {
        for (const op of ops) s.appendOutbox.run(JSON.stringify(op));
      },
      readOutbox: async (limit): Promise<OutboxEntry[]> =>
        (s.readOutbox.all(limit) as { seq: number; op: string }[]).map((r) => ({ seq: r.seq, op: JSON.parse(r.op) as JsonObject })),
      deleteOutbox: async (through) => {
        s.deleteOutbox.run(through);
      },
      countOutbox: async () => s.countOutbox.pluck().get() as number,
    };
  }
}

function prepareStatements(db: Database.Database) {
  return {
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    deleteMeta: db.prepare('DELETE FROM meta WHERE key = ?'),
    getRecords: db.prepare(`SELECT ${RECORD_COLUMNS} FROM records WHERE collection = ? AND id IN (SELECT value FROM json_each(?))`),
    putRecord: db.prepare(`INSERT OR REPLACE INTO records (${RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    collections: db.prepare('SELECT DISTINCT collection FROM records ORDER BY collection'),
    conflictedAll: db.prepare(`SELECT ${RECORD_COLUMNS} FROM records WHERE conflicted = 1 ORDER BY collection, id`),
    conflictedIn: db.prepare(`SELECT ${RECORD_COLUMNS} FROM records WHERE conflicted = 1 AND collection = ? ORDER BY id`),
    appendLog: db.prepare('INSERT INTO log (collection, id, stamp, device, kind, fields) VALUES (?, ?, ?, ?, ?, ?)'),
    appendOutbox: db.prepare('INSERT INTO outbox (op) VALUES (?)'),
    readOutbox: db.prepare('SELECT seq, op FROM outbox ORDER BY seq LIMIT ?'),
    deleteOutbox: db.prepare('DELETE FROM outbox WHERE seq <= ?'),
    countOutbox: db.prepare('SELECT count(*) FROM outbox'),
  };
}

/** Opens (creating if needed) the store at `file`. */
export async function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
  return new SqliteStore(file, options);
}
