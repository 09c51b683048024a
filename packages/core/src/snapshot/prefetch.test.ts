import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import type { Remote } from '../ports/remote.js';
import type { Store } from '../ports/store.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { Vault } from '../vault/vault.js';
import { READ_AHEAD } from './chunks.js';

const T0 = 1_767_225_600_000;
let tick = 0;
const deps = (seed: number) => ({ random: seededRandom(seed), now: () => T0 + ++tick });

/** `remote`, noting each call as it is made ("get key"). */
function logged(remote: Remote, calls: string[]): Remote {
  return new Proxy(remote, {
    get(target, p, receiver) {
      const v: unknown = Reflect.get(target, p, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (typeof args[0] === 'string') calls.push(`${String(p)} ${args[0]}`);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** A memory store that streams a bootstrap as the SQLite store does (bulkLoad), so the chunks are read through the prefetch. */
function bulkLoading(store: Store): Store {
  return new Proxy(store, {
    get(target, p, receiver) {
      if (p === 'bulkLoad') return <T>(fn: Parameters<Store['write']>[0]) => target.write(fn) as Promise<T>;
      const v: unknown = Reflect.get(target, p, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** Restores onto a store that streams its bootstrap (see {@link bulkLoading}), without automatic snapshots. */
function restoreBulkLoading(remote: Remote, recoveryCode: string, seed: number): Promise<Vault> {
  return Vault.restore({ store: bulkLoading(openMemoryStore()), remote, remoteUrl: 'memory:', recoveryCode, deps: deps(seed), snapshotEvery: false });
}

test('restore reads the snapshot listing, manifest and first chunks while the device writes itself in; the first pull starts from them without reading them again', async () => {
  const objects = new Map<string, Uint8Array>();
  const { vault, recoveryCode } = await Vault.create({ store: openMemoryStore(), remote: openMemoryRemote(objects), remoteUrl: 'memory:', deps: deps(1) });
  await vault.batch((b) => {
    for (let i = 0; i < 400; i++) b.put('notes', `n${String(i).padStart(4, '0')}`, { title: `note ${i}`, body: 'z'.repeat(400) });
  });
  await vault.sync();
  const { snapshot } = await vault.snapshot();
  await vault.close();
  const chunkReads = (calls: string[]): string[] => calls.filter((c) => c.startsWith('get blobs/chunks/'));

  const calls: string[] = [];
  const fresh = await restoreBulkLoading(logged(openMemoryRemote(objects), calls), recoveryCode, 2);
  try {
    // Read ahead as soon as the vault key is known: before the registry entry and the key seal are written.
    const listed = calls.indexOf('list snapshots/');
    const firstPut = calls.findIndex((c) => c.startsWith('put '));
    assert.ok(listed >= 0 && listed < firstPut, calls.join('\n'));
    const pulled = await fresh.pull();
    assert.ok(pulled.pulled < 400 && !pulled.warnings, JSON.stringify(pulled));
    assert.equal((await fresh.list('notes')).records.length, 400);
    // Each object read once: what was read ahead is what the bootstrap used.
    assert.deepEqual(
      calls.filter((c) => c === 'list snapshots/' || c === `get ${snapshot}`),
      ['list snapshots/', `get ${snapshot}`],
    );
    const chunks = chunkReads(calls);
    assert.ok(chunks.length > 1, calls.join('\n'));
    assert.equal(new Set(chunks).size, chunks.length, 'a chunk read twice');
  } finally {
    await fresh.close();
  }
});

/** A vault of two devices (the second restored) with a snapshot and a tail after it. */
async function vaultWithSnapshot(objects: Map<string, Uint8Array>): Promise<{ a: Vault; recoveryCode: string }> {
  const { vault: a, recoveryCode } = await Vault.create({ store: openMemoryStore(), remote: openMemoryRemote(objects), remoteUrl: 'memory:', deps: deps(1) });
  const b = await Vault.restore({ store: openMemoryStore(), remote: openMemoryRemote(objects), remoteUrl: 'memory:', recoveryCode, deps: deps(2) });
  await a.batch((w) => {
    for (let i = 0; i < 200; i++) w.put('notes', `n${String(i).padStart(4, '0')}`, { title: `note ${i}` });
  });
  await a.sync();
  await b.put('notes', 'from-b', { title: 'b' });
  await b.sync();
  await a.sync();
  await a.snapshot();
  await a.put('notes', 'tail', { title: 'after the snapshot' });
  await a.sync();
  await b.close();
  return { a, recoveryCode };
}

/** Each object restore and the first pull read: listings and reads by key, and how often. */
function readsOf(calls: string[]): { heads: string[]; registryListings: number } {
  return {
    heads: calls.filter((c) => c.startsWith('list heads/') || c.startsWith('get heads/') || c.startsWith('getMany heads/')),
    registryListings: calls.filter((c) => c.startsWith('list registry/')).length,
  };
}

test('a restore from a snapshot lists the heads once, its first pull once for the bootstrap and the pull both, and each head is read once', async () => {
  const objects = new Map<string, Uint8Array>();
  const { a, recoveryCode } = await vaultWithSnapshot(objects);
  const calls: string[] = [];
  const fresh = await Vault.restore({
    store: openMemoryStore(),
    remote: logged(openMemoryRemote(objects), calls),
    remoteUrl: 'memory:',
    recoveryCode,
    deps: deps(3),
  });
  try {
    const pulled = await fresh.pull();
    assert.ok(pulled.pulled < 200 && !pulled.warnings, JSON.stringify(pulled));
    assert.equal((await fresh.list('notes', { limit: 500 })).records.length, 202);
    const { heads, registryListings } = readsOf(calls);
    // A pull sees the remote as it is when called: one listing there, and none other.
    assert.equal(heads.filter((c) => c === 'list heads/').length, 2, calls.join('\n'));
    const gets = heads.filter((c) => c.startsWith('get '));
    assert.equal(gets.length, 2, calls.join('\n'));
    assert.equal(new Set(gets).size, gets.length, 'a head read twice');
    // Listed once, while the header is read: the append that follows goes straight to its put-if-absent
    // (an entry written there since fails its read-back, and the retry catches up first).
    assert.equal(registryListings, 1, calls.join('\n'));
    assert.ok(calls.indexOf('list registry/') < calls.indexOf('get vault'), calls.join('\n'));
    // The next pull reads the remote again, as any pull does.
    const before = calls.length;
    await a.put('notes', 'later', { title: 'later' });
    await a.sync();
    await fresh.pull();
    assert.equal(await fresh.get('notes', 'later').then((r) => r?.['title']), 'later');
    assert.ok(calls.slice(before).includes('list heads/'));
  } finally {
    await fresh.close();
    await a.close();
  }
});

test('joining by pairing reads the snapshot ahead, and it and its first pull read the heads as a restore does', async () => {
  const objects = new Map<string, Uint8Array>();
  const { a } = await vaultWithSnapshot(objects);
  let onCode: (c: string) => void = () => undefined;
  const codeReady = new Promise<string>((resolve) => (onCode = resolve));
  let joinerSas: (s: string) => void = () => undefined;
  const sas = new Promise<string>((resolve) => (joinerSas = resolve));
  const inviter = a.devices.pair({ pollMs: 10, timeoutMs: 20_000, onCode: (c) => onCode(c), confirm: async (j) => j.sas === (await sas) });
  const calls: string[] = [];
  const joined = await Vault.join({
    store: openMemoryStore(),
    remote: logged(openMemoryRemote(objects), calls),
    remoteUrl: 'memory:',
    code: await codeReady,
    deps: deps(4),
    pollMs: 10,
    onSas: (s) => joinerSas(s),
  });
  await inviter;
  try {
    const pulled = await joined.pull();
    assert.ok(pulled.pulled < 200 && !pulled.warnings, JSON.stringify(pulled));
    assert.equal((await joined.list('notes', { limit: 500 })).records.length, 202);
    assert.equal(calls.filter((c) => c === 'list snapshots/').length, 1, calls.join('\n'));
    const { heads } = readsOf(calls);
    assert.equal(heads.filter((c) => c === 'list heads/').length, 2, calls.join('\n'));
    const gets = heads.filter((c) => c.startsWith('get '));
    assert.equal(new Set(gets).size, gets.length, 'a head read twice');
  } finally {
    await joined.close();
    await a.close();
  }
});

test('a snapshot covering a device added after a restore is not refused by that restore’s first pull: its registry catches up first', async () => {
  const objects = new Map<string, Uint8Array>();
  const { vault: a, recoveryCode } = await Vault.create({ store: openMemoryStore(), remote: openMemoryRemote(objects), remoteUrl: 'memory:', deps: deps(11) });
  const restore = (seed: number) =>
    Vault.restore({ store: openMemoryStore(), remote: openMemoryRemote(objects), remoteUrl: 'memory:', recoveryCode, deps: deps(seed) });
  await a.put('notes', 'a', { v: 1 });
  await a.sync();
  const late = await restore(12);
  // After that restore: a device joins and writes, and a snapshot covers its writes.
  const c = await restore(13);
  await c.put('notes', 'c', { v: 2 });
  await c.sync();
  await a.sync();
  await a.snapshot();
  try {
    const pulled = await late.pull();
    assert.equal(pulled.warnings, undefined, JSON.stringify(pulled.warnings));
    assert.deepEqual(await late.get('notes', 'c'), { v: 2, id: 'c' });
  } finally {
    for (const v of [late, c, a]) await v.close();
  }
});

/** A vault of `n` records of `bodyBytes` each, synced, with a snapshot of them; closed. */
async function snapshotted(objects: Map<string, Uint8Array>, n: number, bodyBytes: number): Promise<{ recoveryCode: string; snapshot: string }> {
  const { vault, recoveryCode } = await Vault.create({ store: openMemoryStore(), remote: openMemoryRemote(objects), remoteUrl: 'memory:', deps: deps(21) });
  await vault.batch((b) => {
    for (let i = 0; i < n; i++) b.put('notes', `n${String(i).padStart(4, '0')}`, { title: `note ${i}`, body: 'z'.repeat(bodyBytes) });
  });
  await vault.sync();
  const { snapshot } = await vault.snapshot();
  await vault.close();
  return { recoveryCode, snapshot };
}

test('restore reads and decrypts every chunk of a small snapshot while it writes itself in, not only the first few: its first pull reads no chunk', async () => {
  const objects = new Map<string, Uint8Array>();
  const { recoveryCode } = await snapshotted(objects, 2000, 300);
  const chunkCount = [...objects.keys()].filter((k) => k.startsWith('blobs/chunks/')).length;
  assert.ok(chunkCount > READ_AHEAD, `${chunkCount} chunks`);
  const calls: string[] = [];
  let read = 0;
  let allRead: () => void = () => undefined;
  const everyChunk = new Promise<void>((resolve) => (allRead = resolve));
  const remote = openMemoryRemote(objects);
  const slow: Remote = new Proxy(remote, {
    get(target, p, receiver) {
      const v: unknown = Reflect.get(target, p, receiver);
      if (p === 'get')
        return (key: string, o?: object) => {
          if (key.startsWith('blobs/chunks/') && ++read === chunkCount) allRead();
          return target.get(key, o);
        };
      // The key seal is the restore's last write: it waits (5 s at most) for the chunks, as a slow remote would make it.
      if (p === 'put')
        return async (key: string, bytes: Uint8Array, o?: object) => {
          if (key.startsWith('keys/')) await Promise.race([everyChunk, new Promise((resolve) => setTimeout(resolve, 5_000))]);
          return target.put(key, bytes, o);
        };
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const fresh = await restoreBulkLoading(logged(slow, calls), recoveryCode, 22);
  try {
    assert.equal(read, chunkCount);
    const pulled = await fresh.pull();
    assert.ok(pulled.pulled < 2000 && !pulled.warnings, JSON.stringify(pulled));
    assert.equal(read, chunkCount, 'the first pull read a chunk again');
    assert.equal((await fresh.list('notes', { limit: 2000 })).records.length, 2000);
  } finally {
    await fresh.close();
  }
});

test('a chunk read ahead that fails its checks is read again by the bootstrap and refused as before (KITH_INTEGRITY_CORRUPT); the device replays the history instead', async () => {
  const objects = new Map<string, Uint8Array>();
  const { recoveryCode } = await snapshotted(objects, 100, 100);
  const key = [...objects.keys()].find((k) => k.startsWith('blobs/chunks/'))!;
  const altered = objects.get(key)!.slice();
  altered[altered.length - 1]! ^= 1;
  objects.set(key, altered);
  const calls: string[] = [];
  const fresh = await restoreBulkLoading(logged(openMemoryRemote(objects), calls), recoveryCode, 23);
  try {
    const pulled = await fresh.pull();
    assert.equal(pulled.pulled, 100);
    assert.equal(pulled.warnings?.length, 1, JSON.stringify(pulled.warnings));
    assert.match(pulled.warnings[0]!.message, /KITH_INTEGRITY_CORRUPT/);
    assert.equal(calls.filter((c) => c === `get ${key}`).length, 2, calls.join('\n'));
    assert.equal((await fresh.list('notes', { limit: 500 })).records.length, 100);
  } finally {
    await fresh.close();
  }
});
