/**
 * @module store
 * The Store interface: where one device keeps its complete local copy.
 * Adapters: `@kith/sqlite` (Node), `@kith/indexeddb` (browser). The store
 * persists and queries; the core decides every value it holds (merge state
 * is opaque JSON to the store).
 */
import type { JsonObject, JsonPrimitive, JsonValue } from '../model/json.js';
import type { RecordRow } from '../model/merge.js';
export type { RecordRow };

/** Equality on one top-level field. `null` matches a null or missing field. */
export interface FieldFilter {
  readonly field: string;
  readonly value: JsonPrimitive;
}

/**
 * A query over one collection's live (not deleted) records.
 *
 * Ordering by a field compares values by type first, then value:
 * missing or null < false < true < numbers (numerically) < strings (by
 * Unicode code point) < arrays and objects (by their JSON text); ties are
 * broken by id in the same direction. Without `order`, records come by id
 * ascending (code point order).
 */
export interface RecordQuery {
  readonly collection: string;
  readonly where?: readonly FieldFilter[];
  readonly order?: { readonly field: string; readonly direction: 'asc' | 'desc' };
  /** At most this many rows (default: all). */
  readonly limit?: number;
  /** The `next` cursor of a previous page of the same query. */
  readonly after?: string;
}

export interface RecordPage {
  readonly rows: RecordRow[];
  /** Cursor for the next page, or null when this page is the last. */
  readonly next: string | null;
}

/** One entry of the change history shown by `kith log`. */
export interface LogEntry {
  readonly collection: string;
  readonly id: string;
  /** The full HLC stamp of the write (includes the writing device). */
  readonly stamp: string;
  readonly device: string;
  readonly kind: 'put' | 'patch' | 'delete' | 'resolve';
  /** Fields the write set or unset (record-level changes list none). */
  readonly fields: readonly string[];
}

export interface LogFilter {
  readonly collection?: string;
  readonly id?: string;
  /** The most recent entries only, at most this many. */
  readonly limit?: number;
}

/** A local write waiting to be pushed. */
export interface OutboxEntry {
  /** Increasing, assigned by the store. */
  readonly seq: number;
  readonly op: JsonObject;
}

/**
 * Operations inside one store transaction.
 *
 * Contract: the function given to `Store.read`/`Store.write` awaits only
 * these methods (no network, no timers, no crypto): IndexedDB commits a
 * transaction as soon as it is left idle, and the SQLite store holds its
 * write lock for the duration.
 */
export interface StoreTx {
  getMeta(key: string): Promise<JsonValue | undefined>;
  /** `undefined` deletes the entry. */
  setMeta(key: string, value: JsonValue | undefined): Promise<void>;
  /** The rows that exist among `ids` (deleted ones included), keyed by id. */
  getRecords(collection: string, ids: readonly string[]): Promise<Map<string, RecordRow>>;
  /** Inserts or replaces whole rows. */
  putRecords(rows: readonly RecordRow[]): Promise<void>;
  query(query: RecordQuery): Promise<RecordPage>;
  /** Every collection that holds at least one row (deleted ones included), in code point order. */
  listCollections(): Promise<string[]>;
  /** Rows with `conflicted`, deleted or not, by collection then id. */
  listConflicted(collection?: string): Promise<RecordRow[]>;
  /**
   * Optional (snapshots): up to `limit` rows of `collection`, deleted ones
   * included, with ids after `after` (from the first when undefined),
   * ascending by id in code point order or in code-unit order (the store's
   * own; they differ only where ids hold characters from U+E000 up). A
   * snapshot then reads the rows, not the history, to find deleted ones.
   */
  scanRows?(collection: string, after: string | undefined, limit: number): Promise<RecordRow[]>;
  appendLog(entries: readonly LogEntry[]): Promise<void>;
  /** Entries in stamp order (oldest first); with `limit`, the newest `limit` of them. */
  readLog(filter: LogFilter): Promise<LogEntry[]>;
  /** Appends in order; seqs increase across calls and are never reused. */
  appendOutbox(ops: readonly JsonObject[]): Promise<void>;
  /**
   * Optional (a store that can write less per local write): the same as
   * `appendOutbox(ops)` then `appendLog(ops.map((op) => historyOfOwnOp(op, device)))`
   * (`historyOfOwnOp` from `@kith/core/adapter`), as seen by every later read. The
   * store may keep the history inside the outbox rows and move it into the log
   * only when `deleteOutbox` removes them; `pruneLog` still prunes those
   * entries as any other.
   */
  appendOwnOps?(ops: readonly JsonObject[], device: string): Promise<void>;
  /** The oldest entries, ascending seq, at most `limit`. */
  readOutbox(limit: number): Promise<OutboxEntry[]>;
  /** Removes every entry with seq <= `throughSeq`. */
  deleteOutbox(throughSeq: number): Promise<void>;
  countOutbox(): Promise<number>;
  /**
   * Keeps the exact bytes of this device's own segment `seq` as uploaded,
   * replacing any kept under that seq: the remote may lose them, and only
   * these bytes (random nonces, signed, hash-chained) can replace them.
   */
  putOwnSegment(seq: number, bytes: Uint8Array): Promise<void>;
  /** The kept bytes of those of `seqs` that are kept, keyed by seq. */
  getOwnSegments(seqs: readonly number[]): Promise<Map<number, Uint8Array>>;
  /** Every kept seq, ascending. */
  listOwnSegments(): Promise<number[]>;
  /** Drops every kept segment with seq <= `throughSeq` (once a snapshot covers them). */
  deleteOwnSegments(throughSeq: number): Promise<void>;
}

/**
 * A device's local database.
 *
 * Contract (checked by `runStoreConformance` in `@kith/core/testing`):
 * - `write` is atomic and durable: when it resolves every change is on disk;
 *   when `fn` rejects nothing it did is kept and the rejection is passed on.
 * - Transactions are serializable: writes from other transactions (and, for
 *   stores shared between processes, other processes) never interleave.
 * - `read` sees a consistent snapshot and may run beside other reads.
 * - Failures reject with KithError KITH_STORE_FAILED (disk full, I/O error)
 *   or KITH_STORE_TOO_NEW (schema from a newer build).
 */
export interface Store {
  read<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  write<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /**
   * Optional (history policy): in one write transaction, deletes up to
   * `limit` history entries stamped before `before`, oldest first, never a
   * record's newest one, and gives the space back where the store can.
   * Returns how many it deleted.
   */
  pruneLog?(before: string, limit: number): Promise<number>;
  /**
   * Optional (bootstrap from a snapshot): one write transaction, atomic like
   * `write`, in which `fn` may also await other I/O (the snapshot's chunks
   * arrive from the network while rows go in), so a large state never has
   * to be held in memory whole. Stores whose transactions cannot outlive an
   * idle moment (IndexedDB) leave it out and get one `write` of every row.
   */
  bulkLoad?<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /**
   * Optional: true when `putRecords` checks each row's fields text itself
   * (`rowText(row).fields`, when a row carries one): strict RFC 8259 JSON
   * of an object, else it rejects with KithError KITH_INTEGRITY_CORRUPT
   * naming the record, and the transaction keeps nothing. A bulk load
   * then hands it a snapshot's rows without parsing their fields first.
   */
  readonly checksRowText?: boolean;
  /**
   * Optional (writing a snapshot): one read transaction, consistent like
   * `read`, in which `fn` may also await other I/O (the state's chunks go
   * to the network while rows are read), so a large state never has to be
   * held in memory whole. Stores that leave it out get one `read` of every
   * row, uploaded after it.
   */
  bulkRead?<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
}
