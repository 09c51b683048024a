/**
 * @module server/object-db-writer
 * The write side of {@link ObjectDb}, in a worker thread with its own
 * connection to the same SQLite file: each batch of puts and deletes is one
 * IMMEDIATE transaction, and its commit (an fsync with `synchronous=FULL`,
 * a WAL checkpoint now and then) blocks this thread, not the relay's event
 * loop, which meanwhile serves reads, sockets and the next batch's requests.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { etagOf } from './relay-storage.js';
import {
  openObjectsFile,
  commitMarkOf,
  type CommitMark,
  type WriteOp,
  type WriterData,
  type WriterReply,
  type WriterRequest,
  type WriteResult,
} from './object-db-file.js';

const { file, durability, writer } = workerData as WriterData;
const port = parentPort!;
let db: Database.Database;
let storeAll: (batch: readonly WriteOp[]) => { results: WriteResult[]; before: CommitMark; after: CommitMark };
try {
  db = openObjectsFile(file, durability);
  const put = db.prepare('INSERT OR REPLACE INTO objects (vault, key, size, etag, bytes) VALUES (?, ?, ?, ?, ?)');
  const size = db.prepare('SELECT size FROM objects WHERE vault = ? AND key = ?').pluck();
  const del = db.prepare('DELETE FROM objects WHERE vault = ? AND key = ?');
  const claim = db.prepare('INSERT OR IGNORE INTO claims (vault, name, owner) VALUES (?, ?, ?)');
  const holder = db.prepare('SELECT owner FROM claims WHERE vault = ? AND name = ?').pluck();
  const apply = (w: WriteOp): WriteResult => {
    if (w.op === 'delete') return del.run(w.vault, w.key).changes > 0;
    if (w.op === 'claim') {
      claim.run(w.vault, w.name, w.owner);
      return holder.get(w.vault, w.name) as string;
    }
    const old = size.get(w.vault, w.key) as number | undefined;
    if (w.ifAbsent && old !== undefined) return null;
    put.run(w.vault, w.key, w.bytes.length, etagOf(w.bytes), w.bytes);
    return old ?? 0;
  };
  const markNow = commitMarkOf(db);
  const mark = db.prepare('INSERT OR REPLACE INTO commit_mark (id, writer, n) VALUES (0, ?, ?)');
  const tx = db.transaction((batch: readonly WriteOp[]) => {
    const results = batch.map(apply);
    // The mark moves with the writes, in the same commit.
    const before = markNow();
    const after = { writer, n: before.n + 1 };
    mark.run(after.writer, after.n);
    return { results, before, after };
  });
  // IMMEDIATE: each size read and its write are one step even when another process shares the file.
  storeAll = (batch) => tx.immediate(batch);
} catch (e) {
  // Every batch then fails with the reason the file would not open.
  const reason = errorOf(e);
  storeAll = () => {
    throw Object.assign(new Error(reason.message), { code: reason.code });
  };
}

port.on('message', (m: WriterRequest) => {
  if (m.type === 'close') {
    if (db?.open) db.close();
    port.close();
    return;
  }
  let reply: WriterReply;
  try {
    reply = { type: 'done', ...storeAll(m.batch) };
  } catch (e) {
    reply = { type: 'failed', error: errorOf(e) };
  }
  port.postMessage(reply);
});

function errorOf(e: unknown): { message: string; code?: string } {
  const err = e as { message?: unknown; code?: unknown };
  return { message: String(err?.message ?? e), ...(typeof err?.code === 'string' ? { code: err.code } : {}) };
}
