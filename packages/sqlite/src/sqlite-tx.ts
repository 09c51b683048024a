/**
 * @module sqlite-tx
 * The {@link StoreTx} of the SQLite store: the prepared statements of one
 * connection (multi-row inserts in batch-insert.ts), and a transaction
 * handle that runs them while its transaction is open. better-sqlite3 is synchronous; the methods are async
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
} from '@kith/core/adapter';
import { compileQuery, encodeCursor, RECORD_SELECT } from './query-sql.js';
import { isSqliteError, toStoreError } from './sqlite-errors.js';
import { OutboxTable } from './outbox.js';
import { decodeState, encodeState, REFERENCED_STATE } from './state-codec.js';
import { PendingRefs } from './put-refs.js';
import { LogPruner } from './prune.js';
import { BatchInsert } from './batch-insert.js';
import { RecordsInsert } from './records-insert.js';
import { START_THREAD_ROWS } from './checkpoint.js';

type Row = { collection: string; id: string; fields: string; deleted: number; state: string; conflicted: number; updated: string };
type OrderedRow = Row & { k_rank: number; k_value: number | string };
type LogRow = Omit<LogEntry, 'fields'> & { fields: string };

/** Ids per `getRecords` statement: one JSON array bound as a single parameter, decoded by json_each. */
const ID_CHUNK = 500;
/** Distinct query shapes whose statements stay prepared. */
const QUERY_CACHE = 200;

function decodeRecord(r: Row): RecordRow {
  const fields = JSON.parse(r.fields) as JsonObject;
  return {
    collection: r.collection,
    id: r.id,
    fields,
    deleted: r.deleted === 1,
    state: decodeState(r.state, fields, r.updated),
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
  readonly getRecord: Database.Statement;
  readonly putRecords: RecordsInsert;
  readonly collections: Database.Statement;
  readonly conflictedAll: Database.Statement;
  readonly conflictedIn: Database.Statement;
  readonly scanFirst: Database.Statement;
  readonly scanAfter: Database.Statement;
  readonly appendLog: BatchInsert<LogEntry>;
  readonly outbox: OutboxTable;
  readonly putOwnSegment: Database.Statement;
  readonly getOwnSegment: Database.Statement;
  readonly listOwnSegments: Database.Statement;
  readonly deleteOwnSegments: Database.Statement;
  readonly pruner: LogPruner;
  /** Set by a transaction with references waiting for their rows while it writes rows (put-refs.ts). */
  claim: ((row: RecordRow) => boolean) | undefined;
  readonly #db: Database.Database;
  readonly #cache = new Map<string, Database.Statement>();

  constructor(db: Database.Database) {
    this.#db = db;
    this.getMeta = db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
    this.setMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.deleteMeta = db.prepare('DELETE FROM meta WHERE key = ?');
    this.getRecords = db.prepare(`SELECT ${RECORD_SELECT} FROM records WHERE collection = ? AND id IN (SELECT value FROM json_each(?))`);
    // Single writes and gets read one record: a plain key lookup, without a JSON array to encode and decode.
    this.getRecord = db.prepare(`SELECT ${RECORD_SELECT} FROM records WHERE collection = ? AND id = ?`);
    // An upsert, not INSERT OR REPLACE: a replaced row must fire the UPDATE trigger that keeps a referenced row's fields (schema 6).
    const upsert =
      'ON CONFLICT (collection, id) DO UPDATE SET fields = excluded.fields, deleted = excluded.deleted, state = excluded.state, conflicted = excluded.conflicted, updated = excluded.updated';
    this.putRecords = new RecordsInsert(
      db,
      upsert,
      (r, given) => {
        // A snapshot's rows carry whether the state is the one-write shape; a batch's new rows are one-write rows too.
        const state = given?.oneWrite ? '' : encodeState(r.fields, r.state, r.updated);
        // A new row may be referenced (a batch's new records): claim matches by the op's fields object, which a snapshot's rows never share.
        return state === '' && !r.deleted && !r.conflicted && this.claim?.(r) === true ? REFERENCED_STATE : state;
      },
      () => this.claim !== undefined,
    );
    this.collections = db.prepare('SELECT DISTINCT collection FROM records ORDER BY collection').pluck();
    this.conflictedAll = db.prepare(`SELECT ${RECORD_SELECT} FROM records WHERE conflicted = 1 ORDER BY collection, id`);
    this.conflictedIn = db.prepare(`SELECT ${RECORD_SELECT} FROM records WHERE conflicted = 1 AND collection = ? ORDER BY id`);
    // The primary key's order (code point order of UTF-8 text), deleted rows included: a range scan of the index.
    this.scanFirst = db.prepare(`SELECT ${RECORD_SELECT} FROM records WHERE collection = ? ORDER BY id LIMIT ?`);
    this.scanAfter = db.prepare(`SELECT ${RECORD_SELECT} FROM records WHERE collection = ? AND id > ? ORDER BY id LIMIT ?`);
    this.appendLog = new BatchInsert<LogEntry>(db, 'INSERT INTO log (collection, id, stamp, device, kind, fields)', '(?, ?, ?, ?, ?, ?)', 6, (e, p, at) => {
      p[at] = e.collection;
      p[at + 1] = e.id;
      p[at + 2] = e.stamp;
      p[at + 3] = e.device;
      p[at + 4] = e.kind;
      p[at + 5] = JSON.stringify(e.fields);
    });
    this.outbox = new OutboxTable(db);
    this.putOwnSegment = db.prepare('INSERT OR REPLACE INTO own_segments (seq, bytes) VALUES (?, ?)');
    this.getOwnSegment = db.prepare('SELECT bytes FROM own_segments WHERE seq = ?').pluck();
    this.listOwnSegments = db.prepare('SELECT seq FROM own_segments ORDER BY seq').pluck();
    this.deleteOwnSegments = db.prepare('DELETE FROM own_segments WHERE seq <= ?');
    this.pruner = new LogPruner(db);
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
  #failure: KithError | undefined;
  readonly #s: Statements;
  readonly #writable: boolean;
  readonly #file: string;
  /** Outbox references written in this transaction whose rows are not written yet (put-refs.ts). */
  readonly #pending = new PendingRefs();
  /** Record rows written so far in this transaction, counted up to {@link START_THREAD_ROWS}. */
  #rows = 0;
  /** Told once when this transaction's record rows reach {@link START_THREAD_ROWS} (the store starts its checkpoint thread then). */
  readonly #onLargeWrite: (() => void) | undefined;

  constructor(statements: Statements, writable: boolean, file: string, onLargeWrite?: () => void) {
    this.#s = statements;
    this.#onLargeWrite = onLargeWrite;
    this.#writable = writable;
    this.#file = file;
  }

  /** Called when the transaction commits or rolls back. */
  end(): void {
    this.#open = false;
  }

  /** Called before the transaction commits: references no row came for are written as whole ops. */
  finish(): Promise<void> {
    return this.#run('finish', false, () => this.#settle());
  }

  /** Writes whole the ops of references still waiting for their rows, so every reference in the outbox resolves. */
  #settle(): void {
    if (this.#pending.size > 0) this.#s.outbox.writeWhole(this.#pending.take());
  }

  /**
   * The first SQLite failure in this transaction, if any. It dooms the
   * transaction even when `fn` catches it and goes on: SQLite may already
   * have rolled back (SQLITE_FULL, I/O errors), and statements after that
   * would run outside any transaction, each committed on its own.
   */
  get failure(): KithError | undefined {
    return this.#failure;
  }

  /** Runs one operation, checked against the transaction's state, with SQLite errors mapped. */
  async #run<T>(name: string, writes: boolean, op: () => T): Promise<T> {
    if (!this.#open) throw new KithError(ErrorCode.Internal, `store transaction used after it ended (${name})`);
    if (writes && !this.#writable) throw new KithError(ErrorCode.Internal, `${name} in a read transaction`);
    if (this.#failure !== undefined) throw this.#failure;
    try {
      return op();
    } catch (e) {
      const mapped = toStoreError(e, this.#file);
      if (isSqliteError(e) && mapped instanceof KithError) this.#failure = mapped;
      throw mapped;
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
      if (ids.length === 1) {
        const r = this.#s.getRecord.get(collection, ids[0]) as Row | undefined;
        if (r !== undefined) out.set(r.id, decodeRecord(r));
        return out;
      }
      for (let i = 0; i < ids.length; i += ID_CHUNK) {
        const rows = this.#s.getRecords.all(collection, JSON.stringify(ids.slice(i, i + ID_CHUNK))) as Row[];
        for (const r of rows) out.set(r.id, decodeRecord(r));
      }
      return out;
    });
  }

  putRecords(rows: readonly RecordRow[]): Promise<void> {
    return this.#run('putRecords', true, () => {
      if (this.#rows < START_THREAD_ROWS && (this.#rows += rows.length) >= START_THREAD_ROWS) this.#onLargeWrite?.();
      const pending = this.#pending;
      this.#s.claim = pending.size > 0 ? (r) => pending.claim(r) : undefined;
      try {
        this.#s.putRecords.run(rows);
      } finally {
        this.#s.claim = undefined;
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

  scanRows(collection: string, after: string | undefined, limit: number): Promise<RecordRow[]> {
    return this.#run('scanRows', false, () => {
      const rows = (after === undefined ? this.#s.scanFirst.all(collection, limit) : this.#s.scanAfter.all(collection, after, limit)) as Row[];
      return rows.map(decodeRecord);
    });
  }

  appendLog(entries: readonly LogEntry[]): Promise<void> {
    return this.#run('appendLog', true, () => this.#s.appendLog.run(entries));
  }

  readLog(filter: LogFilter): Promise<LogEntry[]> {
    return this.#run('readLog', false, () => {
      const params: Record<string, string | number> = {};
      if (filter.collection !== undefined) params['collection'] = filter.collection;
      if (filter.id !== undefined) params['id'] = filter.id;
      if (filter.limit !== undefined) params['limit'] = filter.limit;
      const sql = logSql(filter.collection !== undefined, filter.id !== undefined, filter.limit !== undefined);
      this.#settle();
      const logged = (this.#s.cached(sql).all(params) as LogRow[]).map(decodeLog);
      return this.#s.outbox.readHistory(logged, filter.collection, filter.id, filter.limit);
    });
  }

  appendOutbox(ops: readonly JsonObject[]): Promise<void> {
    return this.#run('appendOutbox', true, () => this.#s.outbox.append(ops));
  }

  /** The outbox rows stand for the ops' history until `deleteOutbox` moves it into the log (outbox.ts). */
  appendOwnOps(ops: readonly JsonObject[], device: string): Promise<void> {
    return this.#run('appendOwnOps', true, () => this.#s.outbox.append(ops, device, this.#pending));
  }

  readOutbox(limit: number): Promise<OutboxEntry[]> {
    return this.#run('readOutbox', false, () => {
      this.#settle();
      return this.#s.outbox.read(limit);
    });
  }

  deleteOutbox(throughSeq: number): Promise<void> {
    return this.#run('deleteOutbox', true, () => {
      this.#settle();
      this.#s.appendLog.run(this.#s.outbox.delete(throughSeq));
    });
  }

  countOutbox(): Promise<number> {
    return this.#run('countOutbox', false, () => this.#s.outbox.count());
  }

  putOwnSegment(seq: number, bytes: Uint8Array): Promise<void> {
    return this.#run('putOwnSegment', true, () => {
      this.#s.putOwnSegment.run(seq, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    });
  }

  getOwnSegments(seqs: readonly number[]): Promise<Map<number, Uint8Array>> {
    return this.#run('getOwnSegments', false, () => {
      const out = new Map<number, Uint8Array>();
      for (const seq of seqs) {
        const bytes = this.#s.getOwnSegment.get(seq) as Buffer | undefined;
        // A plain Uint8Array: callers compare and hash bytes, never Buffer methods.
        if (bytes) out.set(seq, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      }
      return out;
    });
  }

  listOwnSegments(): Promise<number[]> {
    return this.#run('listOwnSegments', false, () => this.#s.listOwnSegments.all() as number[]);
  }

  deleteOwnSegments(throughSeq: number): Promise<void> {
    return this.#run('deleteOwnSegments', true, () => {
      this.#s.deleteOwnSegments.run(throughSeq);
    });
  }
}
