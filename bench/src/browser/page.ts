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
   * records with done = true). Also counts the IndexedDB transactions it opened (by wrapping
   * `IDBDatabase.prototype.transaction` for the duration), to show where the time against the one-transaction floor goes.
   */
  async bootstrap(
    url: string,
    recoveryCode: string,
    name: string,
  ): Promise<{ bootstrapMs: number; restoreMs: number; syncMs: number; listed: number; idbTransactions: number; idbWriteTransactions: number }> {
    const proto = IDBDatabase.prototype;
    const original = Object.getOwnPropertyDescriptor(proto, 'transaction')!.value as IDBDatabase['transaction'];
    let idbTransactions = 0;
    let idbWriteTransactions = 0;
    proto.transaction = function (this: IDBDatabase, ...args: Parameters<IDBDatabase['transaction']>) {
      idbTransactions++;
      if (args[1] === 'readwrite') idbWriteTransactions++;
      return original.apply(this, args);
    };
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
        await vault.sync();
        const t2 = performance.now();
        const listed = (await vault.list('notes', { where: { done: true }, limit: 50 })).records.length;
        return { bootstrapMs: performance.now() - t0, restoreMs: t1 - t0, syncMs: t2 - t1, listed, idbTransactions, idbWriteTransactions };
      } finally {
        await vault.close();
      }
    } finally {
      proto.transaction = original;
    }
  },
};

(globalThis as unknown as { kithBench: typeof bench }).kithBench = bench;
export type BenchPage = typeof bench;
