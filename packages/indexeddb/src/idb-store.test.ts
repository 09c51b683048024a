/**
 * The store conformance suite, run on `@kith/indexeddb` inside real headless
 * Chromium (see testing/page-bridge.ts for how a transaction spans Node and
 * the page), plus what only a browser store has: reopening after a reload
 * and a browser restart, persistent storage, and a full quota.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ErrorCode, KithError, type JsonObject, type Store } from '@kith/core';
import { type LogEntry, type RecordRow } from '@kith/core/adapter';
import { runStoreConformance } from '@kith/core/testing';
import { openBridgePage, overrideQuota, type BridgePage } from './testing/index.js';

const ids = (rows: readonly RecordRow[]): string[] => rows.map((r) => r.id);
const row = (id: string, fields: JsonObject): RecordRow => ({
  collection: 'notes',
  id,
  fields,
  deleted: false,
  state: { s: id },
  conflicted: id === 'b',
  updated: '00000000100000000000000000001',
});

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

describe('bulk reads and writes', () => {
  const stampOf = (n: number): string => n.toString(36).padStart(13, '0') + '00000000000000a1';

  test('a first sync of 1,000 records makes about one IndexedDB request per record: no read per row into the empty store, the change log in a few rows', async () => {
    const b = await browser();
    const counts = await inPage<Record<string, number>>(
      b,
      `const remote = core.openMemoryRemote(new Map());
       const { vault, recoveryCode } = await core.Vault.create({ store: await kith.openIndexedDbStore('bulk-a'), remote, remoteUrl: 'memory:', deviceName: 'a' });
       await vault.batch((w) => { for (let i = 0; i < 1000; i++) w.put('notes', 'n' + i, { title: 'note ' + i, done: i % 2 === 0 }); });
       await vault.push();
       await vault.close();
       const other = await core.Vault.restore({ store: await kith.openIndexedDbStore('bulk-b'), remote, remoteUrl: 'memory:', recoveryCode, deviceName: 'b' });
       const counts = {};
       const undo = [];
       for (const proto of [IDBObjectStore.prototype, IDBIndex.prototype]) {
         for (const kind of ['get', 'getAll', 'getAllKeys', 'put', 'add', 'delete', 'count', 'openCursor', 'openKeyCursor']) {
           const original = proto[kind];
           proto[kind] = function (...args) { counts[kind] = (counts[kind] ?? 0) + 1; return original.apply(this, args); };
           undo.push(() => { proto[kind] = original; });
         }
       }
       try { await other.sync(); } finally { undo.forEach((u) => u()); }
       counts.listed = (await other.list('notes', { limit: 2000 })).records.length;
       counts.log = (await other.log({ limit: 2000 })).length;
       await other.close();
       return counts;`,
    );
    const { listed, log, ...requests } = counts;
    assert.equal(listed, 1000);
    assert.equal(log, 1000);
    const total = Object.values(requests).reduce((a, c) => a + c, 0);
    // One put per record; every other request (meta, cursors, the log, the read of which records exist) is a handful.
    assert.ok(total <= 1000 + 60, `${total} requests: ${JSON.stringify(requests)}`);
    assert.ok((requests['get'] ?? 0) <= 40, `${requests['get']} gets`);
    assert.ok((requests['add'] ?? 0) <= 10, `${requests['add']} adds`);
  });

  test('getRecords of many ids answers exactly the rows that exist, whether the store is empty, dense or sparse around them (property)', async () => {
    const b = await browser();
    const store = await b.open('bulk-get');
    try {
      // Ids over a small alphabet, surrogates included, so stored and asked ids collide often.
      const idArb = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'é', '\uff5e', '😀'), minLength: 1, maxLength: 3 });
      let round = 0;
      await fc.assert(
        fc.asyncProperty(fc.uniqueArray(idArb, { maxLength: 150 }), fc.array(idArb, { maxLength: 120 }), async (stored, asked) => {
          const collection = `c${round++}`;
          // Neighbours in the collections just before and after, which a key range must not reach into.
          const rows = stored.map((id) => row(id, { id }));
          const neighbours = stored.flatMap((id) => [
            { ...row(id, { n: 1 }), collection: `${collection}!` },
            { ...row(id, { n: 2 }), collection: collection.slice(0, -1) },
          ]);
          await store.write((tx) => tx.putRecords([...rows.map((r) => ({ ...r, collection })), ...neighbours]));
          const got = await store.read((tx) => tx.getRecords(collection, [...asked, ...stored.slice(0, asked.length)]));
          const want = new Set([...asked, ...stored.slice(0, asked.length)].filter((id) => stored.includes(id)));
          assert.deepEqual([...got.keys()].sort(), [...want].sort());
          for (const [id, r] of got) assert.deepEqual(r, { ...row(id, { id }), collection });
        }),
        { seed: 0x6b697468, numRuns: 60 },
      );
      // Each way the read can go, for certain: 1,000 rows k000..k999 and 40 ids asked.
      const stored = Array.from({ length: 1000 }, (_, i) => `k${String(i).padStart(3, '0')}`);
      await store.write((tx) => tx.putRecords(stored.map((id) => ({ ...row(id, { id }), collection: 'fixed' }))));
      const cases = {
        'spread over all 1,000 (a get each)': stored.filter((_, i) => i % 25 === 0),
        'dense (one getAll)': stored.slice(100, 140),
        'two present, 19 others between them (a get for each present)': [stored[500]!, stored[520]!, ...Array.from({ length: 38 }, (_, i) => `k500-${i}`)],
        'none present (the key read alone)': Array.from({ length: 40 }, (_, i) => `k500-${i}`),
      };
      for (const [what, asked] of Object.entries(cases)) {
        const got = await store.read((tx) => tx.getRecords('fixed', asked));
        assert.deepEqual([...got.keys()].sort(), asked.filter((id) => stored.includes(id)).sort(), what);
      }
    } finally {
      await store.close();
    }
  });

  test('a batch of rows past the quota rejects with KITH_STORAGE_FULL and keeps none of them', async () => {
    const b = await browser();
    await b.reload();
    const quota = await overrideQuota(b.page, b.site.origin, 2 * 1024 * 1024);
    try {
      const store = await b.open('full-batch');
      // Random text (Chromium compresses values): 80 rows of 96 KiB, about four times the quota, in one putRecords
      // (at twice the quota the batch was let through about once in twenty loaded runs).
      const text = (): string => randomBytes(72 * 1024).toString('base64');
      const rows = Array.from({ length: 80 }, (_, i) => row(`big${i}`, { text: text() }));
      await store.write((tx) => tx.putRecords([row('small', { ok: true })]));
      const failure = await store
        .write((tx) => tx.putRecords(rows))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(KithError.is(failure, ErrorCode.StorageFull), `expected KITH_STORAGE_FULL, got ${failure instanceof Error ? failure.message : typeof failure}`);
      assert.deepEqual(ids((await store.read((tx) => tx.query({ collection: 'notes' }))).rows), ['small']);
      await store.close();
    } finally {
      await quota.lift();
    }
  });

  test('log entries of one call keep the call order among equal stamps, across collections', async () => {
    const b = await browser();
    const store = await b.open('log-ties');
    try {
      const e = (collection: string, id: string, n: number): LogEntry => ({
        collection,
        id,
        stamp: stampOf(n),
        device: '00000000000000a1',
        kind: 'put',
        fields: [],
      });
      const first = [e('b', 'x', 1), e('a', 'y', 1), e('b', 'z', 1), e('a', 'w', 2)];
      const second = [e('a', 'v', 1), e('c', 'u', 0)];
      await store.write((tx) => tx.appendLog(first));
      await store.write((tx) => tx.appendLog(second));
      assert.deepEqual(await store.read((tx) => tx.readLog({})), [second[1], first[0], first[1], first[2], second[0], first[3]]);
      assert.deepEqual(await store.read((tx) => tx.readLog({ collection: 'a' })), [first[1], second[0], first[3]]);
      assert.deepEqual(await store.read((tx) => tx.readLog({ collection: 'b', id: 'z' })), [first[2]]);
    } finally {
      await store.close();
    }
  });

  test('a database written by schema version 1 opens, keeps everything, and takes new writes in order', async () => {
    const b = await browser();
    // The database exactly as version 1 of this package made and wrote it: its upgrade step and its row shapes,
    // written out here rather than imported, so that the fixture stays version 1 whatever schema.ts becomes.
    const stamps = [2, 5, 9].map(stampOf);
    await inPage(
      b,
      `const db = await new Promise((resolve, reject) => {
         const r = indexedDB.open('kith/version-1', 1);
         r.onupgradeneeded = () => {
           const db = r.result;
           db.createObjectStore('meta');
           const records = db.createObjectStore('records', { keyPath: ['collection', 'key'] });
           records.createIndex('conflicted', 'conflict');
           const log = db.createObjectStore('log', { keyPath: 'seq', autoIncrement: true });
           log.createIndex('collection', 'collection');
           db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
           db.createObjectStore('segments');
         };
         r.onsuccess = () => resolve(r.result);
         r.onerror = () => reject(r.error);
       });
       const tx = db.transaction(['meta', 'records', 'log', 'outbox', 'segments'], 'readwrite');
       tx.objectStore('meta').put(JSON.stringify({ vault: 'v' }), 'config');
       const updated = '00000000100000000000000000001';
       tx.objectStore('records').put({ collection: 'notes', id: 'a', key: 'a', fields: '{"title":"one"}', deleted: false, state: '{"s":"a"}', conflicted: false, updated });
       tx.objectStore('records').put({ collection: 'notes', id: 'b', key: 'b', fields: '{"title":"two"}', deleted: false, state: '{"s":"b"}', conflicted: true, updated, conflict: ['notes', 'b'] });
       const stamps = ${JSON.stringify(stamps)};
       tx.objectStore('log').add({ collection: 'notes', id: 'a', stamp: stamps[0], device: '00000000000000a1', kind: 'put', fields: ['title'] });
       tx.objectStore('log').add({ collection: 'todos', id: 'a', stamp: stamps[1], device: '00000000000000a1', kind: 'patch', fields: ['done'] });
       tx.objectStore('log').add({ collection: 'notes', id: 'b', stamp: stamps[2], device: '00000000000000a1', kind: 'delete', fields: [] });
       tx.objectStore('outbox').add({ op: '{"op":1}' });
       tx.objectStore('outbox').add({ op: '{"op":2}' });
       tx.objectStore('segments').put(new Uint8Array([1, 2, 3]), 1);
       await new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = () => reject(tx.error); });
       db.close();`,
    );
    const store = await b.open('version-1');
    try {
      const old: LogEntry[] = [
        { collection: 'notes', id: 'a', stamp: stamps[0]!, device: '00000000000000a1', kind: 'put', fields: ['title'] },
        { collection: 'todos', id: 'a', stamp: stamps[1]!, device: '00000000000000a1', kind: 'patch', fields: ['done'] },
        { collection: 'notes', id: 'b', stamp: stamps[2]!, device: '00000000000000a1', kind: 'delete', fields: [] },
      ];
      const added: LogEntry[] = [
        { collection: 'notes', id: 'c', stamp: stampOf(7), device: '00000000000000a2', kind: 'put', fields: ['title'] },
        { collection: 'todos', id: 'b', stamp: stampOf(1), device: '00000000000000a2', kind: 'put', fields: [] },
      ];
      await store.write(async (tx) => {
        await tx.appendLog(added);
        await tx.appendOutbox([{ op: 3 }]);
        await tx.deleteOutbox(1);
      });
      await store.read(async (tx) => {
        assert.deepEqual(await tx.getMeta('config'), { vault: 'v' });
        assert.deepEqual(ids((await tx.query({ collection: 'notes' })).rows), ['a', 'b']);
        assert.deepEqual((await tx.getRecords('notes', ['b'])).get('b'), { ...row('b', { title: 'two' }), conflicted: true });
        assert.deepEqual(ids(await tx.listConflicted()), ['b']);
        assert.deepEqual(await tx.readLog({}), [added[1], old[0], old[1], added[0], old[2]]);
        assert.deepEqual(await tx.readLog({ collection: 'notes' }), [old[0], added[0], old[2]]);
        assert.deepEqual(await tx.readLog({ collection: 'todos', limit: 1 }), [old[1]]);
        // The outbox's seqs go on from where version 1 left them.
        assert.deepEqual(await tx.readOutbox(10), [
          { seq: 2, op: { op: 2 } },
          { seq: 3, op: { op: 3 } },
        ]);
        assert.deepEqual((await tx.getOwnSegments([1])).get(1), new Uint8Array([1, 2, 3]));
      });
    } finally {
      await store.close();
    }
    const version = await b.page.evaluate(async () => (await indexedDB.databases()).find((d) => d.name === 'kith/version-1')?.version);
    assert.equal(version, 2);
  });
});
