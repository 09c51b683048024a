import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ErrorCode, KithError, Vault } from '@kith/core';
import type { Remote, Store, StoreTx } from '@kith/core/adapter';
import { openMemoryRemote, openMemoryStore, seededRandom } from '@kith/core/testing';
import { openSqliteStore, type SqliteStore } from './index.js';
import { inTempDir } from './sqlite-store.test.support.js';

/** Enough records for a few dozen snapshot chunks, many times the reader's window. */
const N = 20_000;
const DELETED = 300;
const body = (i: number): string => `${i} `.repeat(200).slice(0, 200);

/** Device A on SQLite: N notes and a few tags, some deleted, pushed, then a snapshot; returns the remote's objects and the recovery code. */
async function makeVault(dir: string) {
  const objects = new Map<string, Uint8Array>();
  const store = await openSqliteStore(join(dir, 'a', 'kith.db'));
  const { vault, recoveryCode } = await Vault.create({ store, remote: openMemoryRemote(objects), remoteUrl: 'memory:', snapshotEvery: false });
  await vault.batch((b) => {
    for (let i = 0; i < N; i++) b.put('notes', `n${String(i).padStart(6, '0')}`, { title: `note ${i}`, body: body(i), done: i % 3 === 0 });
    for (let i = 0; i < 20; i++) b.put('tags', `t${i}`, { name: `tag ${i}` });
  });
  await vault.batch((b) => {
    for (let i = 0; i < DELETED; i++) b.delete('notes', `n${String(i * 7).padStart(6, '0')}`);
  });
  await vault.push();
  await vault.snapshot();
  const rows = await dump(store);
  await vault.close();
  return { objects, recoveryCode, rows };
}

/** Every row a store holds, deleted ones included, as plain JSON. */
async function dump(store: Store): Promise<unknown> {
  const ids = {
    notes: Array.from({ length: N }, (_, i) => `n${String(i).padStart(6, '0')}`),
    tags: Array.from({ length: 20 }, (_, i) => `t${i}`),
  };
  return store.read(async (tx) => {
    const out: unknown[] = [];
    for (const [collection, list] of Object.entries(ids)) {
      const got = await tx.getRecords(collection, list);
      for (const id of list) out.push(got.get(id));
    }
    return JSON.parse(JSON.stringify(out)) as unknown;
  });
}

/** A remote that notes every chunk read in `events`. */
function noting(remote: Remote, events: string[]): Remote {
  return new Proxy(remote, {
    get(target, prop, receiver) {
      if (prop === 'get')
        return (key: string, o?: object) => {
          if (key.startsWith('blobs/chunks/')) events.push('get chunk');
          return target.get(key, o);
        };
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** The SQLite store, noting in `events` every putRecords, whichever transaction it runs in. */
function notingStore(inner: SqliteStore, events: string[]): Store {
  const wrap = (tx: StoreTx): StoreTx =>
    new Proxy(tx, {
      get(target, prop, receiver) {
        if (prop === 'putRecords')
          return (rows: Parameters<StoreTx['putRecords']>[0]) => {
            events.push('put');
            return target.putRecords(rows);
          };
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  const store: Store = {
    read: (fn) => inner.read((tx) => fn(wrap(tx))),
    write: (fn) => inner.write((tx) => fn(wrap(tx))),
    close: () => inner.close(),
  };
  const bulk = (inner as Partial<Pick<Store, 'bulkLoad'>>).bulkLoad?.bind(inner);
  if (bulk) store.bulkLoad = (fn) => bulk((tx) => fn(wrap(tx)));
  return store;
}

test('sqlite: a new device loads a snapshot as its chunks arrive (rows written before the last chunk is read), with the rows of a full bootstrap', async () => {
  await inTempDir(async (dir) => {
    const a = await makeVault(dir);
    const events: string[] = [];
    const store = notingStore(await openSqliteStore(join(dir, 'b', 'kith.db')), events);
    const vault = await Vault.restore({ store, remote: noting(openMemoryRemote(a.objects), events), remoteUrl: 'memory:', recoveryCode: a.recoveryCode });
    const pulled = await vault.pull();
    assert.equal(pulled.warnings, undefined);
    assert.ok(pulled.pulled < N, `pulled ${pulled.pulled}: not from the snapshot`);
    assert.deepEqual(await dump(store), a.rows);
    // Streamed: rows went into the store while chunks were still being read.
    const chunkReads = events.filter((e) => e === 'get chunk').length;
    assert.ok(chunkReads > 30, `only ${chunkReads} chunks`);
    const firstPut = events.indexOf('put');
    assert.ok(firstPut >= 0 && firstPut < events.lastIndexOf('get chunk'), 'every chunk was read before the first row was written');
    assert.equal((await vault.list('notes', { where: { done: true } })).records.length, Math.ceil(N / 3) - Math.ceil(DELETED / 3));
    await vault.close();

    // The same snapshot through a store without bulk loading (one write at the end) gives the same rows.
    const memory = openMemoryStore();
    const other = await Vault.restore({
      store: memory,
      remote: openMemoryRemote(a.objects),
      remoteUrl: 'memory:',
      recoveryCode: a.recoveryCode,
      deps: { random: seededRandom(3) },
    });
    const again = await other.pull();
    assert.ok(again.pulled < N && again.warnings === undefined);
    assert.deepEqual(await dump(memory), a.rows);
    await other.close();
  });
});

test('sqlite: a chunk found damaged after rows were loaded leaves nothing of the snapshot behind (its one transaction rolls back)', async () => {
  await inTempDir(async (dir) => {
    const a = await makeVault(dir);
    // Without the segments, nothing but the snapshot could put a row in the store.
    const objects = new Map([...a.objects].filter(([key]) => !key.startsWith('segments/')));
    const events: string[] = [];
    const inner = openMemoryRemote(objects);
    let reads = 0;
    // The 25th chunk read is damaged, and stays damaged on every later read (a pull may read the snapshot again).
    let damagedKey: string | undefined;
    const remote = noting(
      new Proxy(inner, {
        get(target, prop, receiver) {
          if (prop === 'get')
            return async (key: string, o?: object) => {
              const bytes = await target.get(key, o);
              if (!bytes || !key.startsWith('blobs/chunks/')) return bytes;
              if (++reads === 25) damagedKey = key;
              if (key !== damagedKey) return bytes;
              const damaged = bytes.slice();
              damaged[damaged.length - 1]! ^= 1;
              return damaged;
            };
          const v = Reflect.get(target, prop, receiver) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      }),
      events,
    );
    const store = notingStore(await openSqliteStore(join(dir, 'b', 'kith.db')), events);
    const vault = await Vault.restore({ store, remote, remoteUrl: 'memory:', recoveryCode: a.recoveryCode });
    // Since compaction, a pull that finds segments missing merges the newest snapshot, reading its chunks again:
    // the damaged one is named (before, the pull fell back to a full replay and failed on the first missing segment).
    await assert.rejects(vault.pull(), (e: unknown) => KithError.is(e, ErrorCode.IntegrityCorrupt));
    const firstPut = events.indexOf('put');
    assert.ok(firstPut >= 0 && firstPut < events.lastIndexOf('get chunk'), 'rows were loaded before the damaged chunk');
    assert.deepEqual(await store.read((tx) => tx.listCollections()), []);
    await vault.close();
  });
});

test('sqlite: fields named "__proto__" and "constructor", tabs and newlines in values, one-write and patched rows come out of a snapshot into SQLite as A holds them', async () => {
  await inTempDir(async (dir) => {
    const objects = new Map<string, Uint8Array>();
    const aStore = await openSqliteStore(join(dir, 'a', 'kith.db'));
    const { vault: a, recoveryCode } = await Vault.create({ store: aStore, remote: openMemoryRemote(objects), remoteUrl: 'memory:', snapshotEvery: false });
    const tricky = JSON.parse('{"__proto__":{"polluted":true},"constructor":1,"10":"ten","a\\tb":"x\\ty\\nz","title":"ok"}') as Record<string, unknown>;
    await a.put('notes', 'one-write', tricky as never);
    await a.put('notes', 'patched', tricky as never);
    await a.patch('notes', 'patched', JSON.parse('{"__proto__":"patched","title":null}') as never);
    await a.put('notes', 'gone', { title: 'x' });
    await a.delete('notes', 'gone');
    await a.push();
    await a.snapshot();
    const ids = ['one-write', 'patched', 'gone'];
    // Rows as text, key order and the "__proto__" own key included.
    const rows = (store: Store) => store.read(async (tx) => JSON.stringify([...(await tx.getRecords('notes', ids))].sort()));
    const bStore = await openSqliteStore(join(dir, 'b', 'kith.db'));
    const b = await Vault.restore({ store: bStore, remote: openMemoryRemote(objects), remoteUrl: 'memory:', recoveryCode });
    const pulled = await b.pull();
    assert.equal(pulled.warnings, undefined);
    assert.equal(pulled.pulled, 0, 'everything came from the snapshot');
    assert.equal(await rows(bStore), await rows(aStore));
    assert.equal(JSON.stringify(await b.get('notes', 'one-write')), JSON.stringify(await a.get('notes', 'one-write')));
    assert.equal((await b.list('notes', { where: { constructor: 1 } })).records.length, 2);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    for (const v of [a, b]) await v.close();
  });
});
