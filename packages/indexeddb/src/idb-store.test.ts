/**
 * The store conformance suite, run on `@kith/indexeddb` inside real headless
 * Chromium (see testing/page-bridge.ts for how a transaction spans Node and
 * the page), plus what only a browser store has: reopening after a reload
 * and a browser restart, persistent storage, and a full quota.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ErrorCode, KithError, type JsonObject, type Store } from '@kith/core';
import { type RecordRow } from '@kith/core/adapter';
import { runStoreConformance } from '@kith/core/testing';
import { openBridgePage, overrideQuota, type BridgePage } from './testing/index.js';

const ids = (rows: readonly RecordRow[]): string[] => rows.map((r) => r.id);

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
      await b.page.evaluate(
        (db) =>
          new Promise((resolve) => {
            const r = indexedDB.deleteDatabase(db);
            r.onsuccess = r.onerror = r.onblocked = resolve;
          }),
        `kith/${name}`,
      );
    },
  };
});

/**
 * Runs `body` (the source of an async function of `kith`, this package, and
 * `core`, the core's Vault and an in-page memory remote) in the page and
 * returns its JSON result.
 */
async function inPage<T>(b: BridgePage, body: string): Promise<T> {
  // A string is evaluated in the page as an expression: here, an async function called on the package.
  return b.page.evaluate<T>(`(async (kith, core) => { ${body} })(globalThis.kithIndexedDb, globalThis.kithCore)`);
}

describe('indexeddb in the browser', () => {
  const row = (id: string, fields: JsonObject): RecordRow => ({
    collection: 'notes',
    id,
    fields,
    deleted: false,
    state: { s: id },
    conflicted: id === 'b',
    updated: '00000000100000000000000000001',
  });

  test('the same name reopens the same device after a reload and after a browser restart', async () => {
    const b = await browser();
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff);
    const first = await b.open('device');
    await first.write(async (tx) => {
      await tx.putRecords([row('a', { title: 'é😀' }), row('b', { title: 'two' })]);
      await tx.setMeta('config', { vault: 'v' });
      await tx.appendOutbox([{ op: 1 }]);
      await tx.putOwnSegment(1, bytes);
    });
    const check = async (store: Store, outbox: JsonObject[]): Promise<void> => {
      await store.read(async (tx) => {
        assert.deepEqual(ids((await tx.query({ collection: 'notes' })).rows), ['a', 'b']);
        assert.deepEqual((await tx.getRecords('notes', ['a'])).get('a'), row('a', { title: 'é😀' }));
        assert.deepEqual(await tx.getMeta('config'), { vault: 'v' });
        assert.deepEqual(
          (await tx.readOutbox(10)).map((e) => e.op),
          outbox,
        );
        assert.deepEqual((await tx.getOwnSegments([1])).get(1), bytes);
        assert.deepEqual(ids(await tx.listConflicted()), ['b']);
      });
    };
    // A reload drops the page and everything it held in memory; the data is in the profile.
    await b.reload();
    const afterReload = await b.open('device');
    await check(afterReload, [{ op: 1 }]);
    await afterReload.write((tx) => tx.appendOutbox([{ op: 2 }]));
    // A new browser process on the same profile: what was committed was on disk.
    await b.restartBrowser();
    await check(await b.open('device'), [{ op: 1 }, { op: 2 }]);
    // Another name is another device.
    const other = await b.open('other-device');
    assert.equal(await other.read((tx) => tx.getMeta('config')), undefined);
  });

  test('persistent storage is asked for once per page and the answer reported', async () => {
    const b = await browser();
    await b.reload();
    const asked = await inPage<{ calls: number; answers: boolean[] }>(
      b,
      `let calls = 0;
       const persist = navigator.storage.persist.bind(navigator.storage);
       navigator.storage.persist = () => { calls++; return persist(); };
       const one = await kith.openIndexedDbStore('persist-a');
       const two = await kith.openIndexedDbStore('persist-b');
       const answers = [await one.persisted, await two.persisted];
       await one.close(); await two.close();
       return { calls, answers };`,
    );
    const { calls, answers } = asked;
    assert.ok(calls <= 1, `persist() asked ${calls} times`);
    assert.equal(typeof answers[0], 'boolean');
    assert.equal(answers[0], answers[1]);
    process.stdout.write(`# navigator.storage.persist() in headless Chromium: ${answers[0]}\n`);
  });

  test('a full quota: the write that hits it rejects with KITH_STORAGE_FULL and keeps nothing; earlier writes stay; freeing space lets writes go on', async () => {
    const b = await browser();
    await b.reload();
    const quota = await overrideQuota(b.page, b.site.origin, 2 * 1024 * 1024);
    try {
      const store = await b.open('full');
      // Random bytes: Chromium compresses IndexedDB values, so anything regular would not fill the quota.
      const big = new Uint8Array(256 * 1024);
      for (let o = 0; o < big.length; o += 65536) crypto.getRandomValues(big.subarray(o, o + 65536));
      let failure: unknown;
      let written = 0;
      for (let i = 1; i <= 40 && failure === undefined; i++) {
        try {
          await store.write(async (tx) => {
            await tx.setMeta('last', i);
            await tx.putRecords([row(`r${i}`, { i })]);
            await tx.appendOutbox([{ i }]);
            await tx.putOwnSegment(i, big);
          });
          written = i;
        } catch (e) {
          failure = e;
        }
      }
      assert.ok(failure !== undefined, 'a 2 MB quota was never reached with 10 MB written');
      assert.ok(KithError.is(failure, ErrorCode.StorageFull), `expected KITH_STORAGE_FULL, got ${failure instanceof Error ? failure.message : typeof failure}`);
      assert.ok(!(failure as Error).message.includes('\n'), 'one-line message');
      assert.ok(written >= 1, 'the first write already failed');
      const seqs = Array.from({ length: written }, (_, i) => i + 1);
      await store.read(async (tx) => {
        assert.equal(await tx.getMeta('last'), written);
        assert.deepEqual(await tx.listOwnSegments(), seqs);
        assert.equal((await tx.query({ collection: 'notes' })).rows.length, written);
        assert.equal(await tx.countOutbox(), written);
      });
      // Space freed (as after a snapshot), writing works again.
      await store.write((tx) => tx.deleteOwnSegments(written));
      await store.write((tx) => tx.putOwnSegment(1000, big));
      assert.deepEqual(await store.read((tx) => tx.listOwnSegments()), [1000]);
      await store.close();
    } finally {
      await quota.lift();
    }
  });

  test('a database from a newer schema is refused with KITH_STORE_TOO_NEW, a foreign one with KITH_STORE_FAILED; neither is changed', async () => {
    const b = await browser();
    const codes = await inPage<string[]>(
      b,
      `const make = (name, version) => new Promise((resolve, reject) => {
         const r = indexedDB.open(name, version);
         r.onupgradeneeded = () => r.result.createObjectStore('theirs');
         r.onsuccess = () => { r.result.close(); resolve(); };
         r.onerror = () => reject(r.error);
       });
       await make('kith/newer', 7);
       await make('kith/foreign', 1);
       const codes = [];
       for (const name of ['newer', 'foreign']) {
         try { await kith.openIndexedDbStore(name); codes.push('opened'); } catch (e) { codes.push(e.code + ' ' + e.message); }
       }
       const dbs = await indexedDB.databases();
       for (const name of ['kith/newer', 'kith/foreign']) codes.push(name + ' v' + dbs.find((d) => d.name === name)?.version);
       return codes;`,
    );
    assert.match(codes[0]!, /^KITH_STORE_TOO_NEW /);
    assert.match(codes[1]!, /^KITH_STORE_FAILED .*not a kith store/);
    assert.deepEqual(codes.slice(2), ['kith/newer v7', 'kith/foreign v1']);
  });

  test('a transaction function that awaits something else fails clearly instead of writing half', async () => {
    const b = await browser();
    const out = await inPage<{ error: string; kept: unknown }>(
      b,
      `const store = await kith.openIndexedDbStore('idle');
       let error = 'none';
       try {
         await store.write(async (tx) => {
           await tx.setMeta('a', 1);
           await new Promise((r) => setTimeout(r, 50)); // not allowed: IndexedDB commits the idle transaction
           await tx.setMeta('b', 2);
         });
       } catch (e) { error = e.code; }
       const kept = await store.read(async (tx) => [await tx.getMeta('a'), (await tx.getMeta('b')) ?? null]);
       await store.close();
       return { error, kept };`,
    );
    assert.equal(out.error, 'KITH_INTERNAL');
    // IndexedDB had already committed the first half: the contract (await only StoreTx methods) is what prevents it.
    assert.deepEqual(out.kept, [1, null]);
  });
});

test('the README direct-use example runs as written in a page', async () => {
  const b = await browser();
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Using the store directly'));
  const example = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(example, 'README has a direct-use js example');
  const importLine = "import { openIndexedDbStore } from '@kith/indexeddb';\n";
  assert.ok(example.startsWith(importLine));
  const body = example.slice(importLine.length).replace(/console\.log\(/g, 'log(');
  const logged = await inPage<unknown[]>(
    b,
    `const { openIndexedDbStore } = kith; const logged = []; const log = (v) => logged.push(v);\n${body}\nreturn logged;`,
  );
  assert.deepEqual(logged, [['Milk']]);
});

test('the real engine on IndexedDB: a Vault writes, syncs to a second device, and lists everything after a reload before any network', async () => {
  const b = await browser();
  const first = await inPage<{ a: unknown[]; b: unknown[] }>(
    b,
    `const remote = core.openMemoryRemote(new Map());
     const { vault, recoveryCode } = await core.Vault.create({ store: await kith.openIndexedDbStore('vault-a'), remote, remoteUrl: 'memory:', deviceName: 'page' });
     for (let i = 0; i < 30; i++) await vault.put('notes', 'n' + String(i).padStart(2, '0'), { title: 'note ' + i, n: i });
     await vault.patch('notes', 'n01', { title: 'patched' });
     await vault.delete('notes', 'n02');
     await vault.sync();
     const other = await core.Vault.restore({ store: await kith.openIndexedDbStore('vault-b'), remote, remoteUrl: 'memory:', recoveryCode, deviceName: 'other' });
     await other.sync();
     const a = (await vault.list('notes', { limit: 100 })).records;
     const b = (await other.list('notes', { limit: 100 })).records;
     await vault.close(); await other.close();
     return { a, b };`,
  );
  assert.equal(first.a.length, 29);
  assert.deepEqual(first.b, first.a);
  assert.deepEqual(first.a[1], { id: 'n01', title: 'patched', n: 1 });
  // A reload: the page's memory (the remote included) is gone; the device's copy is in IndexedDB.
  await b.reload();
  const again = await inPage<unknown[]>(
    b,
    `const vault = await core.Vault.open({ store: await kith.openIndexedDbStore('vault-a'), remote: core.openMemoryRemote(new Map()) });
     const records = (await vault.list('notes', { limit: 100 })).records;
     await vault.close();
     return records;`,
  );
  assert.deepEqual(again, first.a);
  // All of it without COOP/COEP: the static server sends neither header.
  assert.equal(await b.page.evaluate(() => crossOriginIsolated), false);
});

test('two tabs on one device: IndexedDB serializes their writes, so no increment is lost', async () => {
  const b = await browser();
  const other = await b.profile.context.newPage();
  try {
    await other.goto(`${b.site.origin}/`);
    await other.waitForFunction(() => 'kithIndexedDb' in globalThis);
    const bump = `const store = await kith.openIndexedDbStore('tabs');
      for (let i = 0; i < 50; i++) {
        await store.write(async (tx) => { const v = (await tx.getMeta('counter')) ?? 0; await tx.getRecords('c', ['x']); await tx.setMeta('counter', v + 1); });
      }
      const total = await store.read((tx) => tx.getMeta('counter'));
      await store.close();
      return total;`;
    const expr = `(async (kith) => { ${bump} })(globalThis.kithIndexedDb)`;
    const totals = await Promise.all([b.page.evaluate<number>(expr), other.evaluate<number>(expr)]);
    assert.equal(Math.max(...totals), 100);
  } finally {
    await other.close();
  }
});
