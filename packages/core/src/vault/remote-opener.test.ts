import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { MemoryBlobCache } from '../testing/memory-blob-cache.js';
import type { Remote } from '../ports/remote.js';
import { newMemoryStoreData, openMemoryStore, type MemoryStoreData } from '../testing/memory-store.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { Vault } from './vault.js';
import type { RemoteOpener } from './vault-types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A home with a vault on `objects` (one record synced), closed again: what `Vault.open` finds. */
async function home(objects: Map<string, Uint8Array>, cache?: MemoryBlobCache): Promise<{ data: MemoryStoreData; ref: string }> {
  const data = newMemoryStoreData();
  const { vault } = await Vault.create({
    store: openMemoryStore(data),
    remote: openMemoryRemote(objects),
    remoteUrl: 'memory:',
    ...(cache ? { blobCache: cache } : {}),
    deps: { random: seededRandom(11) },
  });
  const { ref } = await vault.blobs.put(new TextEncoder().encode('attached'), { name: 'a.txt' });
  await vault.put('n', 'first', { v: 1, file: ref });
  await vault.sync();
  await vault.close();
  return { data, ref };
}

/** An opener that counts its calls, fails while `failing` says so, and hands out remotes over `objects`. */
function counting(objects: Map<string, Uint8Array>, o: { failing?: () => boolean; wrap?: (r: Remote) => Remote } = {}) {
  const opened: Remote[] = [];
  let calls = 0;
  const open: RemoteOpener = async () => {
    calls++;
    await sleep(5); // an open takes a moment: concurrent callers must share it
    if (o.failing?.()) throw new KithError(ErrorCode.RemoteUnavailable, 'the remote is unreachable');
    const r = (o.wrap ?? ((x) => x))(openMemoryRemote(objects));
    opened.push(r);
    return r;
  };
  return { open, opened, calls: () => calls };
}

test('an opener is not called by local reads and writes; the first sync calls it once, later ones reuse the remote', async () => {
  const objects = new Map<string, Uint8Array>();
  const { data } = await home(objects);
  const opener = counting(objects);
  const vault = await Vault.open({ store: openMemoryStore(data), remote: opener.open, deps: { random: seededRandom(12) } });
  await vault.put('n', 'x', { v: 2 });
  await vault.patch('n', 'x', { w: 3 });
  await vault.batch((b) => b.put('n', 'y', { v: 4 }));
  await vault.delete('n', 'y');
  assert.deepEqual(await vault.get('n', 'x'), { id: 'x', v: 2, w: 3 });
  assert.equal((await vault.list('n')).records.length, 2);
  assert.deepEqual(await vault.conflicts(), []);
  assert.equal((await vault.status()).pending, 4);
  assert.equal((await vault.devices.list()).length, 1);
  assert.ok((await vault.log()).length > 0);
  assert.equal(opener.calls(), 0, 'nothing local opened the remote');
  const [a, b] = await Promise.all([vault.sync(), vault.sync()]);
  assert.equal(a.pushed + b.pushed, 4);
  await vault.pull();
  await vault.push();
  assert.equal(opener.calls(), 1, 'one open, shared by every later call');
  assert.equal(objects.size > 0, true);
  await vault.close();
});

test('a failed open is the sync’s error and is not kept: the next sync opens again and succeeds', async () => {
  const objects = new Map<string, Uint8Array>();
  const { data } = await home(objects);
  let down = true;
  const opener = counting(objects, { failing: () => down });
  const vault = await Vault.open({ store: openMemoryStore(data), remote: opener.open, deps: { random: seededRandom(13) } });
  await vault.put('n', 'x', { v: 2 });
  await assert.rejects(vault.sync(), (e: unknown) => KithError.is(e, ErrorCode.RemoteUnavailable) && /unreachable/.test((e as Error).message));
  await assert.rejects(vault.push(), (e: unknown) => KithError.is(e, ErrorCode.RemoteUnavailable));
  assert.equal(opener.calls(), 2);
  assert.equal((await vault.status()).pending, 1, 'nothing was lost to the failures');
  down = false;
  assert.equal((await vault.sync()).pushed, 1);
  assert.equal(opener.calls(), 3);
  await vault.close();
});

test('close never opens the remote, and closes the one it opened', async () => {
  const objects = new Map<string, Uint8Array>();
  const { data } = await home(objects);
  const idle = counting(objects);
  await (await Vault.open({ store: openMemoryStore(data), remote: idle.open })).close();
  assert.equal(idle.calls(), 0);
  let closed = 0;
  const used = counting(objects, { wrap: (r) => Object.assign(Object.create(r) as Remote, { close: async () => void closed++ }) });
  const vault = await Vault.open({ store: openMemoryStore(data), remote: used.open });
  await vault.sync();
  await vault.close();
  assert.equal(closed, 1);
});

test('a blob held in the cache reads without opening the remote; one that is not opens it', async () => {
  const objects = new Map<string, Uint8Array>();
  const cache = new MemoryBlobCache();
  const { data, ref } = await home(objects, cache);
  const opener = counting(objects);
  const vault = await Vault.open({ store: openMemoryStore(data), remote: opener.open, blobCache: cache });
  assert.equal(new TextDecoder().decode(await vault.blobs.bytes(ref)), 'attached');
  assert.equal(opener.calls(), 0);
  await vault.close();
  const uncached = await Vault.open({ store: openMemoryStore(data), remote: opener.open, blobCache: new MemoryBlobCache() });
  assert.equal(new TextDecoder().decode(await uncached.blobs.bytes(ref)), 'attached');
  assert.equal(opener.calls(), 1);
  await uncached.close();
});

test('auto-sync watches a remote that can once the opener has opened it', async () => {
  const objects = new Map<string, Uint8Array>();
  const { data } = await home(objects);
  let notify: (() => void) | undefined;
  const opener = counting(objects, {
    wrap: (r) =>
      Object.assign(Object.create(r) as Remote, {
        capabilities: { ...r.capabilities, watch: true },
        watch: (_prefix: string, onChange: () => void) => ((notify = onChange), () => (notify = undefined)),
      }),
  });
  const vault = await Vault.open({ store: openMemoryStore(data), remote: opener.open });
  const synced: number[] = [];
  vault.on('synced', (r) => synced.push(r.pulled));
  const auto = vault.startAutoSync({ intervalMs: 3_600_000 }); // rounds after the first come from notices only
  try {
    const until = async (done: () => boolean) => {
      for (const end = Date.now() + 10_000; !done() && Date.now() < end;) await sleep(10);
    };
    await until(() => synced.length === 1);
    assert.ok(notify, 'the watch started when the remote opened');
    notify();
    await until(() => synced.length === 2);
    assert.equal(synced.length, 2, 'a notice started a round');
  } finally {
    await auto.stop();
    await vault.close();
  }
  assert.equal(notify, undefined, 'stopping auto-sync stopped the watch');
  assert.equal(opener.calls(), 1);
});

test('create and restore open an opener at once, and close the remote they opened when they fail', async () => {
  const objects = new Map<string, Uint8Array>();
  let closed = 0;
  const opener = counting(objects, { wrap: (r) => Object.assign(Object.create(r) as Remote, { close: async () => void closed++ }) });
  const { vault, recoveryCode } = await Vault.create({
    store: openMemoryStore(),
    remote: opener.open,
    remoteUrl: 'memory:',
    deps: { random: seededRandom(14) },
  });
  assert.equal(opener.calls(), 1);
  await vault.put('n', 'x', { v: 1 });
  await vault.sync();
  await vault.close();
  assert.equal(closed, 1);
  await assert.rejects(Vault.create({ store: openMemoryStore(), remote: opener.open, remoteUrl: 'memory:' }), (e: unknown) =>
    KithError.is(e, ErrorCode.RemoteInUse),
  );
  assert.equal(closed, 2, 'the failed create closed what it opened');
  await assert.rejects(Vault.restore({ store: openMemoryStore(), remote: opener.open, remoteUrl: 'memory:', recoveryCode: 'not a code' }), (e: unknown) =>
    KithError.is(e, ErrorCode.BadRecoveryCode),
  );
  assert.equal(closed, 3);
  const b = await Vault.restore({ store: openMemoryStore(), remote: opener.open, remoteUrl: 'memory:', recoveryCode, deps: { random: seededRandom(15) } });
  await b.pull();
  assert.deepEqual(await b.get('n', 'x'), { id: 'x', v: 1 });
  await b.close();
  assert.equal(closed, 4);
});
