/**
 * @module ports/counting
 * Request counting as a decorator: {@link countingRemote} wraps any remote
 * and keeps {@link RemoteStats} for request-economy tests and benchmarks.
 * A remote whose verbs map one to one onto requests (memory, folder) is
 * counted verb by verb. A remote that sends several requests for one verb
 * (retries, pages, multipart) or none (an answer from a listing) reports
 * what it sent through {@link TrafficReportingRemote}, and those reports
 * are counted instead.
 */
import { canGetMany, decorateRemote, type BatchGetRemote } from './capabilities.js';
import { ErrorCode, KithError } from '../base/errors.js';
import type { Remote } from './remote.js';

/** Counts of requests a remote made, and bytes moved. */
export interface RemoteStats {
  puts: number;
  gets: number;
  heads: number;
  lists: number;
  deletes: number;
  bytesSent: number;
  bytesReceived: number;
}

/** A request on the wire, by the verb it serves (a batched read is a `get`). */
export type RemoteRequestKind = 'put' | 'get' | 'head' | 'list' | 'delete';

/** One report of traffic: a request sent, and/or bytes of object data sent or received. */
export interface RemoteTraffic {
  readonly request?: RemoteRequestKind;
  readonly bytesSent?: number;
  readonly bytesReceived?: number;
}

/** A remote that reports each request it sends (retries, pages and parts included). */
export interface TrafficReportingRemote extends Remote {
  /** Calls `listener` for each report from now on; returns a function that stops. */
  onTraffic(listener: (t: RemoteTraffic) => void): () => void;
}

export const reportsTraffic = (remote: Remote): remote is TrafficReportingRemote => typeof (remote as Partial<TrafficReportingRemote>).onTraffic === 'function';

/** The listeners of one adapter's traffic reports (what an adapter's `onTraffic` hands out). */
export class TrafficReports {
  readonly #listeners = new Set<(t: RemoteTraffic) => void>();

  on(listener: (t: RemoteTraffic) => void): () => void {
    const l = (t: RemoteTraffic): void => listener(t); // a listener added twice is two listeners
    this.#listeners.add(l);
    return () => void this.#listeners.delete(l);
  }

  report(t: RemoteTraffic): void {
    for (const l of this.#listeners) l(t);
  }
}

/** A remote with its request counters. */
export interface CountingRemote extends Remote {
  /** Requests and bytes since the decorator was made. */
  readonly stats: RemoteStats;
}

const PLURAL = { put: 'puts', get: 'gets', head: 'heads', list: 'lists', delete: 'deletes' } as const;

/**
 * `remote` with request counters in `.stats` (same object, updated in
 * place). Every power and extra member of `remote` stays reachable.
 *
 * @example
 * const remote = countingRemote(openMemoryRemote());
 * await vault.sync();
 * console.log(remote.stats.lists);
 */
export function countingRemote<R extends Remote>(remote: R): R & CountingRemote {
  const stats: RemoteStats = { puts: 0, gets: 0, heads: 0, lists: 0, deletes: 0, bytesSent: 0, bytesReceived: 0 };
  const count = (t: RemoteTraffic): void => {
    if (t.request) stats[PLURAL[t.request]]++;
    stats.bytesSent += t.bytesSent ?? 0;
    stats.bytesReceived += t.bytesReceived ?? 0;
  };
  if (reportsTraffic(remote)) {
    remote.onTraffic(count); // for the remote's life: the decorator holds no other resource
    return decorateRemote(remote, { stats } as unknown as Partial<R>) as R & CountingRemote;
  }
  // One verb, one request, counted when it settles. A call the adapter refuses before touching
  // storage (a bad name, or a signal that had fired already) made none; the adapter judges, not us.
  const counted = async <T>(t: RemoteTraffic, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> => {
    const early = signal?.aborted === true;
    try {
      const v = await call();
      count(t);
      return v;
    } catch (e) {
      if (!early && !KithError.is(e, ErrorCode.BadName)) count(t);
      throw e;
    }
  };
  const verbs: Partial<Remote> & { stats: RemoteStats } = {
    stats,
    put: (key, bytes, o) => counted({ request: 'put', bytesSent: bytes.length }, o?.signal, () => remote.put(key, bytes, o)),
    get: async (key, o) => {
      const got = await counted({ request: 'get' }, o?.signal, () => remote.get(key, o));
      count({ bytesReceived: got?.length ?? 0 });
      return got;
    },
    head: (key, o) => counted({ request: 'head' }, o?.signal, () => remote.head(key, o)),
    list: (prefix, o) => counted({ request: 'list' }, o?.signal, () => remote.list(prefix, o)),
    delete: (key, o) => counted({ request: 'delete' }, o?.signal, () => remote.delete(key, o)),
  };
  if (canGetMany(remote)) {
    (verbs as Partial<BatchGetRemote>).getMany = async (keys, o) => {
      const got = await counted({ request: 'get' }, o?.signal, () => remote.getMany(keys, o));
      for (const b of got.values()) count({ bytesReceived: b?.length ?? 0 });
      return got;
    };
  }
  return decorateRemote(remote, verbs as unknown as Partial<R>) as R & CountingRemote;
}
