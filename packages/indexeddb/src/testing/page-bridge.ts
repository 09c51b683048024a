/**
 * @module page-bridge
 * Runs in the page (bundled by the test harness): the page half of a
 * {@link Store} whose callers live in Node.
 *
 * A transaction's function runs in Node, one CDP round trip per StoreTx
 * call, while its IDBTransaction lives here. IndexedDB commits a transaction
 * as soon as it has no pending request at the end of a task, and a round
 * trip to Node is many tasks. So the page runs the store's own
 * `read`/`write` with a function that keeps the transaction busy: it issues
 * cheap `getMeta` requests back to back until Node's next call arrives, runs
 * that call on the same transaction, and ends (resolving, or throwing to
 * abort) when Node's function settles. Every row lives in Chromium's real
 * IndexedDB; nothing is replayed or recorded, and a function that branches
 * on what it read sees exactly what the transaction sees.
 */
import { Vault } from '@kith/core';
import { type StoreTx } from '@kith/core/adapter';
import { openMemoryRemote } from '@kith/core/testing';
import { openIndexedDbStore, type IndexedDbStore } from '../index.js';
import { decodeValues, encodeOutcome } from './wire.js';

/** A key no kith meta entry uses; reading it is the keep-alive request. */
const KEEPALIVE = '\u0000kith-test-bridge-keepalive';
/** Thrown inside the store's transaction to make it abort when Node's function rejected. */
const ABORT = new Error('aborted by the test bridge: the function in Node rejected');

interface Call {
  readonly method: keyof StoreTx;
  readonly args: unknown[];
  readonly reply: (wire: string) => void;
}

interface BridgedTx {
  readonly tx: StoreTx;
  readonly calls: Call[];
  end?: 'commit' | 'abort';
}

const stores = new Map<number, IndexedDbStore>();
// Kept after they end: a leaked handle's later call must meet the store's own refusal.
const txs = new Map<number, BridgedTx>();
/** The store's read/write promise of each transaction not yet ended: settles once its IDB transaction is over. */
const pending = new Map<number, Promise<unknown>>();
let nextId = 1;

async function runCall(tx: StoreTx, call: Call): Promise<void> {
  try {
    const methods = tx as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    call.reply(encodeOutcome({ ok: true, value: await methods[call.method]!(...call.args) }));
  } catch (error) {
    call.reply(encodeOutcome({ ok: false, error }));
  }
}

/** The bridge's entry points, called by `page.evaluate` from Node; every answer is wire text. */
const bridge = {
  async open(name: string): Promise<string> {
    try {
      const store = await openIndexedDbStore(name);
      const id = nextId++;
      stores.set(id, store);
      return encodeOutcome({ ok: true, value: id });
    } catch (error) {
      return encodeOutcome({ ok: false, error });
    }
  },

  async persisted(storeId: number): Promise<boolean> {
    return stores.get(storeId)!.persisted;
  },

  /** Starts a transaction; answers its id once the function runs inside it (or the store's refusal). */
  begin(storeId: number, mode: 'read' | 'write'): Promise<string> {
    const store = stores.get(storeId)!;
    const id = nextId++;
    return new Promise<string>((answer) => {
      const result = store[mode](async (tx) => {
        const b: BridgedTx = { tx, calls: [] };
        txs.set(id, b);
        answer(encodeOutcome({ ok: true, value: id }));
        while (b.end === undefined) {
          const batch = b.calls.splice(0);
          if (batch.length > 0) await Promise.all(batch.map((c) => runCall(tx, c)));
          else await tx.getMeta(KEEPALIVE);
        }
        if (b.end === 'abort') throw ABORT;
      });
      result.catch((error: unknown) => {
        if (!txs.has(id)) answer(encodeOutcome({ ok: false, error })); // refused before the function ran
      });
      pending.set(id, result);
    });
  },

  /** One StoreTx call of a running (or, for a leaked handle, ended) transaction. */
  call(txId: number, wire: string): Promise<string> {
    const b = txs.get(txId)!;
    const [method, ...args] = decodeValues(wire) as [keyof StoreTx, ...unknown[]];
    return new Promise<string>((reply) => {
      if (b.end === undefined) b.calls.push({ method, args, reply });
      else void runCall(b.tx, { method, args, reply });
    });
  },

  /** Ends a transaction as Node's function did; answers with how the store's read/write settled. */
  async end(txId: number, how: 'commit' | 'abort'): Promise<string> {
    txs.get(txId)!.end = how;
    try {
      await pending.get(txId);
      return encodeOutcome({ ok: true, value: undefined });
    } catch (error) {
      return encodeOutcome(error === ABORT && how === 'abort' ? { ok: true, value: undefined } : { ok: false, error });
    } finally {
      pending.delete(txId);
    }
  },

  async close(storeId: number): Promise<void> {
    await stores.get(storeId)?.close();
    stores.delete(storeId);
  },
};

(globalThis as unknown as { kithBridge: typeof bridge }).kithBridge = bridge;
// The package itself too, for tests that run a whole scenario inside the page.
(globalThis as unknown as { kithIndexedDb: { openIndexedDbStore: typeof openIndexedDbStore } }).kithIndexedDb = { openIndexedDbStore };
// And the core's Vault with an in-page remote, so a test can run the real engine on this store.
(globalThis as unknown as { kithCore: { Vault: typeof Vault; openMemoryRemote: typeof openMemoryRemote } }).kithCore = { Vault, openMemoryRemote };
export type PageBridge = typeof bridge;
