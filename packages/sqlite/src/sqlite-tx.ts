/**
 * @module sqlite-tx
 * The {@link StoreTx} of the SQLite store: the prepared statements of one
 * connection, and a transaction handle that runs them while its
 * transaction is open. better-sqlite3 is synchronous; the methods are async
 * only because the Store interface is shared with IndexedDB.
 */
import type Database from 'better-sqlite3';
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
  type StoreTx,
} from '@kith/core';
import { compileQuery, encodeCursor, RECORD_COLUMNS } from './query-sql.js';
import { toStoreError } from './sqlite-errors.js';

type Row = { collection: string; id: string; fields: string; deleted: number; state: string; conflicted: number; updated: string };
type OrderedRow = Row & { k_rank: number; k_value: number | string };
type LogRow = Omit<LogEntry, 'fields'> & { fields: string };

/** Ids per `getRecords` statement: one JSON array bound as a single parameter, decoded by json_each. */
const ID_CHUNK = 500;
/** Distinct query shapes whose statements stay prepared. */
const QUERY_CACHE = 200;

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

const decodeLog = (r: LogRow): LogEntry => ({
  collection: r.collection,
  id: r.id,
  stamp: r.stamp,
  device: r.device,
  kind: r.kind,
  fields: JSON.parse(r.fields) as string[],
});

/** The SQL of `readLog` for one filter shape: newest `limit` entries, returned oldest first. */
function logSql(collection: boolean, id: boolean, limit: boolean): string {
  const conds = [...(collection ? ['collection = @collection'] : []), ...(id ? ['id = @id'] : [])];
  const where = conds.length > 0 ? `WHERE ${conds.join(' AND ')}` : '';
  const cols = 'collection, id, stamp, device, kind, fields';
  return limit
    ? `SELECT ${cols} FROM (SELECT ${cols}, seq FROM log ${where} ORDER BY stamp DESC, seq DESC LIMIT @limit) ORDER BY stamp, seq`
    : `SELECT ${cols} FROM log ${where} ORDER BY stamp, seq`;
}

/** Every statement the store runs, prepared once per connection. */
export class Statements {
  readonly getMeta: Database.Statement;
  readonly setMeta: Database.Statement;
  readonly deleteMeta: Database.Statement;
  readonly getRecords: Database.Statement;
  readonly putRecord: Database.Statement;
  readonly collections: Database.Statement;
  readonly conflictedAll: Database.Statement;
  readonly conflictedIn: Database.Statement;
  readonly appendLog: Database.Statement;
  readonly appendOutbox: Database.Statement;
  readonly readOutbox: Database.Statement;
  readonly deleteOutbox: Database.Statement;
  readonly countOutbox: Database.Statement;
  readonly #db: Database.Database;
  readonly #cache = new Map<string, Database.Statement>();

  constructor(db: Database.Database) {
    this.#db = db;
    this.getMeta = db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
    this.setMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.deleteMeta = db.prepare('DELETE FROM meta WHERE key = ?');
    this.getRecords = db.prepare(`SELECT ${RECORD_COLUMNS} FROM records WHERE collection = ? AND id IN (SELECT value FROM json_each(?))`);
    this.putRecord = db.prepare(`INSERT OR REPLACE INTO records (${RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.collections = db.prepare('SELECT DISTINCT collection FROM records ORDER BY collection').pluck();
    this.conflictedAll = db.prepare(`SELECT ${RECORD_COLUMNS} FROM records WHERE conflicted = 1 ORDER BY collection, id`);
    this.conflictedIn = db.prepare(`SELECT ${RECORD_COLUMNS} FROM records WHERE conflicted = 1 AND collection = ? ORDER BY id`);
    this.appendLog = db.prepare('INSERT INTO log (collection, id, stamp, device, kind, fields) VALUES (?, ?, ?, ?, ?, ?)');
    this.appendOutbox = db.prepare('INSERT INTO outbox (op) VALUES (?)');
    this.readOutbox = db.prepare('SELECT seq, op FROM outbox ORDER BY seq LIMIT ?');
    this.deleteOutbox = db.prepare('DELETE FROM outbox WHERE seq <= ?');
    this.countOutbox = db.prepare('SELECT count(*) FROM outbox').pluck();
  }

  /** A prepared statement for SQL built at run time (queries, log filters), kept for reuse. */
  cached(sql: string): Database.Statement {
    let stmt = this.#cache.get(sql);
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql);
      if (this.#cache.size >= QUERY_CACHE) this.#cache.clear();
      this.#cache.set(sql, stmt);
    }
    return stmt;
  }
}

/**
 * One transaction's view of the store. It refuses writes in a read
 * transaction and any use after the transaction ended (a leaked handle
 * would otherwise write outside any transaction).
 */
export class SqliteTx implements StoreTx {
  #open = true;
  readonly #s: Statements;
  readonly #writable: boolean;
  readonly #file: string;

  constructor(statements: Statements, writable: boolean, file: string) {
    this.#s = statements;
    this.#writable = writable;
    this.#file = file;
  }

  /** Called when the transaction commits or rolls back. */
  end(): void {
    this.#open = false;
  }

  /** Runs one operation, checked against the transaction's state, with SQLite errors mapped. */
  async #run<T>(name: string, writes: boolean, op: () => T): Promise<T> {
    if (!this.#open) throw new KithError(ErrorCode.Internal, `store transaction used after it ended (${name})`);
    if (writes && !this.#writable) throw new KithError(ErrorCode.Internal, `${name} in a read transaction`);
    try {
      return op();
    } catch (e) {
      throw toStoreError(e, this.#file);
    }
  }

  getMeta(key: string): Promise<JsonValue | undefined> {
    return this.#run('getMeta', false, () => {
      const v = this.#s.getMeta.get(key) as string | undefined;
      return v === undefined ? undefined : (JSON.parse(v) as JsonValue);
    });
  }

  setMeta(key: string, value: JsonValue | undefined): Promise<void> {
    return this.#run('setMeta', true, () => {
      if (value === undefined) this.#s.deleteMeta.run(key);
      else this.#s.setMeta.run(key, JSON.stringify(value));
    });
  }

  getRecords(collection: string, ids: readonly string[]): Promise<Map<string, RecordRow>> {
    return this.#run('getRecords', false, () => {
      const out = new Map<string, RecordRow>();
      for (let i = 0; i < ids.length; i += ID_CHUNK) {
        const rows = this.#s.getRecords.all(collection, JSON.stringify(ids.slice(i, i + ID_CHUNK))) as Row[];
        for (const r of rows) out.set(r.id, decodeRecord(r));
      }
      return out;
    });
  }

  putRecords(rows: readonly RecordRow[]): Promise<void> {
    return this.#run('putRecords', true, () => {
      const put = this.#s.putRecord;
      for (const r of rows) {
        put.run(r.collection, r.id, JSON.stringify(r.fields), r.deleted ? 1 : 0, JSON.stringify(r.state), r.conflicted ? 1 : 0, r.updated);
      }
    });
  }

  query(q: RecordQuery): Promise<RecordPage> {
    return this.#run('query', false, () => {
      const compiled = compileQuery(q);
      const rows = this.#s.cached(compiled.sql).all(compiled.params) as OrderedRow[];
      const more = compiled.limit !== undefined && rows.length > compiled.limit;
      const page = more ? rows.slice(0, compiled.limit) : rows;
      const last = page[page.length - 1];
      let next: string | null = null;
      if (more && last !== undefined) {
        next = encodeCursor(q, compiled.ordered ? { rank: last.k_rank, value: last.k_value, id: last.id } : { rank: 0, value: 0, id: last.id });
      }
      return { rows: page.map(decodeRecord), next };
    });
  }

  listCollections(): Promise<string[]> {
    return this.#run('listCollections', false, () => this.#s.collections.all() as string[]);
  }

  listConflicted(collection?: string): Promise<RecordRow[]> {
    return this.#run('listConflicted', false, () => {
      const rows = (collection === undefined ? this.#s.conflictedAll.all() : this.#s.conflictedIn.all(collection)) as Row[];
      return rows.map(decodeRecord);
    });
  }

  appendLog(entries: readonly LogEntry[]): Promise<void> {
    return this.#run('appendLog', true, () => {
      const append = this.#s.appendLog;
      for (const e of entries) append.run(e.collection, e.id, e.stamp, e.device, e.kind, JSON.stringify(e.fields));
    });
  }

  readLog(filter: LogFilter): Promise<LogEntry[]> {
    return this.#run('readLog', false, () => {
      const params: Record<string, string | number> = {};
      if (filter.collection !== undefined) params['collection'] = filter.collection;
      if (filter.id !== undefined) params['id'] = filter.id;
      if (filter.limit !== undefined) params['limit'] = filter.limit;
      const sql = logSql(filter.collection !== undefined, filter.id !== undefined, filter.limit !== undefined);
      return (this.#s.cached(sql).all(params) as LogRow[]).map(decodeLog);
    });
  }

  appendOutbox(ops: readonly JsonObject[]): Promise<void> {
    return this.#run('appendOutbox', true, () => {
      for (const op of ops) this.#s.appendOutbox.run(JSON.stringify(op));
    });
  }

  readOutbox(limit: number): Promise<OutboxEntry[]> {
    return this.#run('readOutbox', false, () =>
      (this.#s.readOutbox.all(limit) as { seq: number; op: string }[]).map((r) => ({ seq: r.seq, op: JSON.parse(r.op) as JsonObject })),
    );
  }

  deleteOutbox(throughSeq: number): Promise<void> {
    return this.#run('deleteOutbox', true, () => {
      this.#s.deleteOutbox.run(throughSeq);
    });
  }

  countOutbox(): Promise<number> {
    return this.#run('countOutbox', false, () => this.#s.countOutbox.get() as number);
  }
}
