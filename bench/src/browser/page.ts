/**
 * The benchmark page (bundled by esbuild for Chromium): the floor and the
 * bootstrap of the browser section, on `globalThis.kithBench`. Times are
 * taken in the page (performance.now) so the DevTools round trips are not in them.
 * @module
 */
import { Vault } from '@kith/core';
import { openIndexedDbStore } from '@kith/indexeddb';
import { openRelayRemote } from '@kith/relay';
import { fields, records } from '../data.js';

const HOUR = 3_600_000;

/** One IndexedDB transaction a bootstrap opened: its mode, requests by kind, and wall time from its creation to its end. */
export interface TxProfile {
  /** What the bootstrap was doing when the transaction was opened. */
  readonly phase: Phase;
  /** When it was opened, in ms from the start of the bootstrap. */
  readonly at: number;
  readonly mode: IDBTransactionMode;
  readonly requests: Record<string, number>;
  /** From `IDBDatabase.transaction` to `complete` or `abort` (includes the JavaScript that ran while it was open). */
  ms: number;
  /** From the store's explicit `commit()` to `complete`: the commit and, for a strict readwrite transaction, its flush. */
  commitMs: number;
  /** performance.now() at the `commit()` call, if there was one. */
  committing?: number;
}

type Phase = 'restore' | 'sync' | 'query';

/** One `fetch` of the relay client (with request counting): what, when (ms from the start) and how long until its body was read. */
export interface FetchProfile {
  readonly phase: Phase;
  readonly at: number;
  readonly what: string;
  ms: number;
}

export interface BootstrapFigures {
  readonly bootstrapMs: number;
  readonly restoreMs: number;
  readonly syncMs: number;
  readonly listed: number;
  readonly idbTransactions: number;
  readonly idbWriteTransactions: number;
  readonly idbRequests: number;
  readonly transactions: readonly TxProfile[];
  readonly fetches: readonly FetchProfile[];
}

const REQUESTS = ['get', 'getAll', 'getAllKeys', 'getKey', 'put', 'add', 'delete', 'clear', 'count', 'openCursor', 'openKeyCursor'] as const;

/**
 * Counts, until `stop`, every IndexedDB transaction opened (by wrapping
 * `IDBDatabase.prototype.transaction`) and, with `requests`, every request
 * placed, by kind (wrapping the object stores', indexes' and cursors'
 * methods; cursor `continue`s are counted as `continue`). A counter per call
 * changes nothing IndexedDB does, but tens of thousands of wrapped calls
 * cost time of their own: timed runs count transactions only.
 */
function probeIndexedDb(requests: boolean): { transactions: TxProfile[]; fetches: FetchProfile[]; phase: Phase; stop(): void } {
  const transactions: TxProfile[] = [];
  const fetches: FetchProfile[] = [];
  const undo: (() => void)[] = [];
  const start = performance.now();
  const probe = { transactions, fetches, phase: 'restore' as Phase, stop: () => undo.forEach((u) => u()) };
  const byTx = new Map<IDBTransaction, TxProfile>();
  const wrap = <T extends object>(proto: T, method: string, before: (self: T, out: unknown) => void): void => {
    const original = Object.getOwnPropertyDescriptor(proto, method)!.value as (...a: unknown[]) => unknown;
    (proto as Record<string, unknown>)[method] = function (this: T, ...args: unknown[]) {
      const out = original.apply(this, args);
      before(this, out);
      return out;
    };
    undo.push(() => void ((proto as Record<string, unknown>)[method] = original));
  };
  const count = (tx: IDBTransaction, kind: string): void => {
    const t = byTx.get(tx);
    if (t === undefined) return;
    t.requests[kind] = (t.requests[kind] ?? 0) + 1;
  };
  wrap(IDBDatabase.prototype, 'transaction', (_db, out) => {
    const tx = out as IDBTransaction;
    const t0 = performance.now();
    const t: TxProfile = { phase: probe.phase, at: t0 - start, mode: tx.mode, requests: {}, ms: 0, commitMs: 0 };
    transactions.push(t);
    byTx.set(tx, t);
    const end = (): void => {
      const now = performance.now();
      t.ms = now - t0;
      if (t.committing !== undefined) t.commitMs = now - t.committing;
      delete t.committing;
    };
    tx.addEventListener('complete', end);
    tx.addEventListener('abort', end);
  });
  if (!requests) return probe;
  const fetchOriginal = globalThis.fetch;
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const t0 = performance.now();
    const url = new URL(input instanceof Request ? input.url : input.toString());
    const f: FetchProfile = { phase: probe.phase, at: t0 - start, what: `${init?.method ?? 'GET'} ${url.pathname}${url.search}`, ms: 0 };
    fetches.push(f);
    const res = await fetchOriginal(input, init);
    // The time until the whole body is in: read a copy, hand the original on.
    void res
      .clone()
      .arrayBuffer()
      .then(() => (f.ms = performance.now() - t0))
      .catch(() => undefined);
    return res;
  };
  undo.push(() => void (globalThis.fetch = fetchOriginal));
  for (const kind of REQUESTS) {
    if (kind in IDBObjectStore.prototype) wrap(IDBObjectStore.prototype, kind, (s) => count(s.transaction, kind));
    if (kind in IDBIndex.prototype) wrap(IDBIndex.prototype, kind, (i) => count(i.objectStore.transaction, `index.${kind}`));
  }
  wrap(IDBCursor.prototype, 'continue', (c) => count(c.request.transaction!, 'continue'));
  wrap(IDBTransaction.prototype, 'commit', (tx) => {
    const t = byTx.get(tx);
    if (t !== undefined) t.committing ??= performance.now();
  });
  return probe;
}

async function pipe(bytes: Uint8Array<ArrayBuffer>, stream: CompressionStream | DecompressionStream): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(stream)).arrayBuffer());
}

function openDb(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore('rows', { keyPath: 'id' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('indexedDB.open failed'));
  });
}

const bench = {
  /**
   * The floor: the `n` records sealed as one blob (JSON → deflate-raw →
   * AES-256-GCM, untimed), then timed: decrypt, inflate, parse, and one
   * IndexedDB transaction writing every row into a fresh database.
   */
  async floor(n: number, dbName: string): Promise<{ decryptMs: number; insertMs: number; sealedBytes: number }> {
    const plain = new TextEncoder().encode(JSON.stringify(records(n)));
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, await pipe(plain, new CompressionStream('deflate-raw'))));
    const db = await openDb(dbName);
    try {
      const t0 = performance.now();
      const opened = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, sealed));
      const rows = JSON.parse(new TextDecoder().decode(await pipe(opened, new DecompressionStream('deflate-raw')))) as ReturnType<typeof records>;
      const t1 = performance.now();
      await new Promise<void>((resolve, reject) => {
        const tx = db.transaction('rows', 'readwrite');
        const store = tx.objectStore('rows');
        for (const r of rows) store.put({ id: r.id, ...fields(r) });
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error ?? new Error('transaction failed'));
      });
      const t2 = performance.now();
      return { decryptMs: t1 - t0, insertMs: t2 - t1, sealedBytes: sealed.byteLength };
    } finally {
      db.close();
    }
  },

  /**
   * A new browser device of the vault at `url`: restore into IndexedDB `name`, sync, answer a query (50
   * records with done = true). Also counts, through {@link probeIndexedDb}, the IndexedDB transactions
   * (and with `countRequests` the requests) it made, to show where the time against the one-transaction floor goes.
   */
  async bootstrap(url: string, recoveryCode: string, name: string, countRequests = false): Promise<BootstrapFigures> {
    const probe = probeIndexedDb(countRequests);
    try {
      const t0 = performance.now();
      const vault = await Vault.restore({
        store: await openIndexedDbStore(name),
        remote: openRelayRemote(url, { pollMs: HOUR }),
        remoteUrl: url,
        recoveryCode,
        deviceName: 'page',
      });
      try {
        const t1 = performance.now();
        probe.phase = 'sync';
        await vault.sync();
        const t2 = performance.now();
        probe.phase = 'query';
        const listed = (await vault.list('notes', { where: { done: true }, limit: 50 })).records.length;
        const bootstrapMs = performance.now() - t0;
        const txs = probe.transactions;
        return {
          bootstrapMs,
          restoreMs: t1 - t0,
          syncMs: t2 - t1,
          listed,
          idbTransactions: txs.length,
          idbWriteTransactions: txs.filter((t) => t.mode === 'readwrite').length,
          idbRequests: txs.reduce((n, t) => n + Object.values(t.requests).reduce((a, b) => a + b, 0), 0),
          transactions: txs,
          fetches: probe.fetches,
        };
      } finally {
        await vault.close();
      }
    } finally {
      probe.stop();
    }
  },
};

(globalThis as unknown as { kithBench: typeof bench }).kithBench = bench;
export type BenchPage = typeof bench;
