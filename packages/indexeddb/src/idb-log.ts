/**
 * @module idb-log
 * The `log` object store's rows: schema version 1 kept one entry a row,
 * version 2 on keeps one row per `appendLog` call and collection (see
 * {@link StoredLogBatch}); both are read back in the order the Store
 * contract gives (stamp, then call, then place in the call).
 */
import type { LogEntry } from '@kith/core';
import type { LogFilter } from '@kith/core/adapter';
import { compareCodePoints } from './idb-query.js';

/** A log row as schema version 1 wrote them: one entry each (still read, never written). */
interface StoredLogEntry extends Omit<LogEntry, 'fields'> {
  readonly seq: number;
  readonly fields: string[];
}

/** One entry in a {@link StoredLogBatch}: id, stamp, device, kind, fields, and its place in its call. */
export type LogTuple = [id: string, stamp: string, device: string, kind: LogEntry['kind'], fields: string[], n: number];

/**
 * A log row from schema version 2 on: the entries one `appendLog` call made
 * in one collection, in call order, as JSON text of {@link LogTuple}s (one
 * string clones far faster than thousands of objects). A call spanning
 * several collections writes a row for each; `first` (on all but the first
 * of them) is the seq of the call's first row, so the call's order survives
 * even across its rows.
 */
interface StoredLogBatch {
  readonly seq: number;
  readonly collection: string;
  readonly first?: number;
  readonly entries: string;
}

export type StoredLog = StoredLogEntry | StoredLogBatch;

/** An entry read back with where it sorts among equal stamps: by its call, then its place in the call. */
interface Placed {
  readonly entry: LogEntry;
  readonly call: number;
  readonly n: number;
}

function placedEntries(rows: readonly StoredLog[], id: string | undefined): Placed[] {
  const out: Placed[] = [];
  for (const r of rows) {
    if (!('entries' in r)) {
      const { collection, stamp, device, kind, fields } = r;
      if (id === undefined || r.id === id) out.push({ entry: { collection, id: r.id, stamp, device, kind, fields }, call: r.seq, n: 0 });
      continue;
    }
    const call = r.first ?? r.seq;
    for (const [eid, stamp, device, kind, fields, n] of JSON.parse(r.entries) as LogTuple[]) {
      if (id === undefined || eid === id) out.push({ entry: { collection: r.collection, id: eid, stamp, device, kind, fields }, call, n });
    }
  }
  return out;
}

/** The entries of one `appendLog` call as rows' contents, one per collection, in the order the call met them. */
export function logBatches(entries: readonly LogEntry[]): Map<string, LogTuple[]> {
  const byCollection = new Map<string, LogTuple[]>();
  for (const [n, e] of entries.entries()) {
    let list = byCollection.get(e.collection);
    if (list === undefined) byCollection.set(e.collection, (list = []));
    list.push([e.id, e.stamp, e.device, e.kind, [...e.fields], n]);
  }
  return byCollection;
}

/** The entries of `rows` that `filter` asks for (its id; the rows are already of its collection) in log order, only the newest `limit` of them. */
export function filterLog(rows: readonly StoredLog[], filter: LogFilter): LogEntry[] {
  const picked = placedEntries(rows, filter.id);
  picked.sort((a, b) => compareCodePoints(a.entry.stamp, b.entry.stamp) || a.call - b.call || a.n - b.n);
  const newest = filter.limit === undefined ? picked : picked.slice(Math.max(0, picked.length - filter.limit));
  return newest.map((p) => p.entry);
}
