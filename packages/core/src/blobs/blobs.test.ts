import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { Vault } from '../vault/vault.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { decorateRemote } from '../ports/capabilities.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { MemoryBlobCache } from '../testing/memory-blob-cache.js';
import { blobKeys, parseBlobRef } from '../format/blob-format.js';
import { MAX_CHUNK, MIN_CHUNK } from './chunker.js';
import { concatBytes } from '../crypto/index.js';
import { noise, twoDevices as setup } from './blobs.test.support.js';
import { holdKeys } from './holds.js';

describe('blobs', () => {
  test('round trips of 0, 1, chunk-boundary and multi-chunk sizes, read by another device', async () => {
    const { vault, other } = await setup();
    for (const size of [0, 1, MIN_CHUNK, MIN_CHUNK + 1, MAX_CHUNK, 6 * 1024 * 1024 + 7]) {
      const data = noise(size, size + 1);
      const put = await vault.blobs.put(data, { name: `f${size}.bin`, type: 'application/octet-stream' });
      assert.equal(put.size, size);
      assert.deepEqual(await other.blobs.bytes(put.ref), data, `${size} bytes`);
      assert.equal((await other.blobs.manifest(put.ref)).name, `f${size}.bin`);
    }
  });

  test('a stream in uneven pieces gives the same chunks and ref as the whole bytes, and reads back intact', async () => {
    const { vault, other } = await setup();
    // Text first: its deflate trials are real asynchronous work while a chunk's buffer is in use.
    const text = new TextEncoder().encode(Array.from({ length: 300_000 }, (_, i) => `{"line":${i},"value":${(i * 7919) % 10007}}\n`).join(''));
    const data = concatBytes(text, noise(16 * 1024 * 1024, 51));
    const pieces = async function* () {
      // Pieces from 1 byte to 1.5 MiB: chunks span inputs, so they are assembled in pooled buffers.
      for (let at = 0, i = 0; at < data.length; i++) {
        const n = [1, 65_536, 1_500_000, 777_777, 300_001][i % 5]!;
        yield data.slice(at, at + n);
        at += n;
      }
    };
    const streamed = await vault.blobs.put(pieces());
    assert.ok(streamed.chunks > 10, `${streamed.chunks} chunks`);
    assert.equal(streamed.ref, (await vault.blobs.put(data)).ref);
    assert.deepEqual(await other.blobs.bytes(streamed.ref), data);
  });

  test('dedup: the same bytes twice upload nothing; one changed byte uploads only the chunks around it', async () => {
    const { vault } = await setup();
    const data = noise(8 * 1024 * 1024, 9);
    const first = await vault.blobs.put(data);
    assert.ok(first.uploaded > data.length);
    const again = await vault.blobs.put(data);
    assert.equal(again.ref, first.ref);
    assert.equal(again.uploaded, 0);
    const edited = data.slice();
    edited[data.length / 2]! ^= 1;
    const third = await vault.blobs.put(edited);
    assert.notEqual(third.ref, first.ref);
    assert.ok(third.uploaded < data.length / 2, `uploaded ${third.uploaded} of ${data.length}`);
  });

  test('a new blob stops paying for existence checks and deflate trials; a compressible one is still compressed', async () => {
    const { vault, remote, objects } = await setup();
    const heads = remote.stats.heads;
    const big = await vault.blobs.put(noise(48 * 1024 * 1024, 31));
    const checked = remote.stats.heads - heads;
    assert.ok(big.chunks > 30, `${big.chunks} chunks`);
    // 8 misses in a row, then one chunk in 16, then the manifest.
    assert.ok(checked <= 8 + Math.ceil((big.chunks - 8) / 16) + 1, `${checked} HEADs for ${big.chunks} chunks`);
    assert.ok(big.uploaded > 48 * 1024 * 1024);
    // Text after noise: the periodic trial notices it compresses again.
    const text = new TextEncoder().encode(Array.from({ length: 400_000 }, (_, i) => `{"line":${i},"value":${(i * 7919) % 10007}}\n`).join(''));
    const mixed = await vault.blobs.put(concatBytes(noise(8 * 1024 * 1024, 32), text));
    assert.ok(mixed.uploaded < 8 * 1024 * 1024 + text.length / 2, `uploaded ${mixed.uploaded}`);
    const m = await vault.blobs.manifest(mixed.ref);
    const stored = m.chunks.reduce((n, [id]) => n + objects.get(blobKeys.chunk(id))!.length, 0);
    assert.equal(stored, mixed.uploaded - objects.get(blobKeys.manifest(parseBlobRef(mixed.ref)))!.length);
  });

  test('content repeated inside one blob is uploaded once', async () => {
    const { vault, other, remote } = await setup();
    const data = concatBytes(new Uint8Array(20 * 1024 * 1024), noise(1024 * 1024, 41));
    const puts = remote.stats.puts;
    const { ref } = await vault.blobs.put(data);
    const chunks = (await vault.blobs.manifest(ref)).chunks;
    const distinct = new Set(chunks.map(([id]) => id)).size;
    assert.ok(distinct < chunks.length, `${distinct} distinct of ${chunks.length}`);
    assert.equal(remote.stats.puts - puts, distinct + 1, 'each distinct chunk once, and the manifest');
    assert.deepEqual(await other.blobs.bytes(ref), data);
  });

  test('a tampered or truncated chunk is refused before any of its bytes are delivered', async () => {
    const { vault, other, objects } = await setup();
    const data = noise(3 * 1024 * 1024, 11);
    const { ref } = await vault.blobs.put(data);
    const m = await vault.blobs.manifest(ref);
    const key = blobKeys.chunk(m.chunks[1]![0]);
    const good = objects.get(key)!;
    for (const bad of [good.subarray(0, good.length - 5), Uint8Array.from(good, (b, i) => (i === good.length - 20 ? b ^ 1 : b))]) {
      objects.set(key, bad);
      const reader = other.blobs.get(ref).getReader();
      const first = await reader.read();
      assert.equal(first.value?.length, m.chunks[0]![1]);
      await assert.rejects(reader.read(), (e: unknown) => KithError.is(e, ErrorCode.IntegrityCorrupt));
    }
    objects.set(key, good);
    assert.deepEqual(await other.blobs.bytes(ref), data);
    assert.throws(
      () => parseBlobRef('kith:blob:nothex'),
      (e: unknown) => KithError.is(e, ErrorCode.BadInput),
    );
  });

  test('the blob policy is per device, checked, and followed by prefetch: recent, all, cache trimming, a missing blob', async () => {
    const { vault, other, objects, advance } = await setup();
    assert.deepEqual(await other.blobs.policy(), { prefetch: 'none', recentDays: 30 });
    const old = await vault.blobs.put(noise(700_000, 61));
    await vault.put('notes', 'old', { photo: old.ref });
    advance(40 * 86400_000);
    const recent = await vault.blobs.put(noise(700_000, 62));
    await vault.put('notes', 'recent', { photo: recent.ref });
    await vault.sync();
    await other.sync();
    // The default policy fetches nothing.
    assert.deepEqual(await other.blobs.prefetch(), { fetched: 0, evicted: 0, unavailable: 0 });
    for (const bad of [{ prefetch: 'some' as 'all' }, { recentDays: 0 }, { recentDays: Number.NaN }, { cacheBytes: -1 }, { cacheBytes: 1.5 }]) {
      await assert.rejects(other.blobs.setPolicy(bad), (e: unknown) => KithError.is(e, ErrorCode.BadInput), JSON.stringify(bad));
    }
    assert.deepEqual(await other.blobs.policy(), { prefetch: 'none', recentDays: 30 }, 'a refused change changes nothing');
    assert.deepEqual(await other.blobs.setPolicy({ prefetch: 'recent' }), { prefetch: 'recent', recentDays: 30 });
    assert.deepEqual(await vault.blobs.policy(), { prefetch: 'none', recentDays: 30 }, 'the other device keeps its own');
    const r = await other.blobs.prefetch();
    assert.equal(r.fetched, (await other.blobs.manifest(recent.ref)).chunks.length);
    // Offline from here: the recent blob reads from the cache; the old one was never fetched.
    const saved = new Map(objects);
    for (const k of [...objects.keys()]) if (k.startsWith('blobs/chunks/')) objects.delete(k);
    assert.equal((await other.blobs.bytes(recent.ref)).length, 700_000);
    await assert.rejects(other.blobs.bytes(old.ref), (e: unknown) => KithError.is(e, ErrorCode.NotFound));
    for (const [k, v] of saved) objects.set(k, v);
    // `all`, with one referenced blob gone from the remote: the others are still fetched.
    const gone = await vault.blobs.put(noise(10_000, 63));
    await vault.put('notes', 'gone', { photo: gone.ref });
    await vault.sync();
    await other.sync();
    objects.delete(blobKeys.manifest(parseBlobRef(gone.ref)));
    await other.blobs.setPolicy({ prefetch: 'all' });
    const all = await other.blobs.prefetch();
    assert.deepEqual([all.fetched, all.unavailable], [(await other.blobs.manifest(old.ref)).chunks.length, 1]);
    // A cache limit keeps the most recently used chunks within it; removing the limit stops trimming.
    await new Promise((r) => setTimeout(r, 5)); // the cache stamps uses in ms: the read below is the latest
    await other.blobs.bytes(recent.ref);
    assert.deepEqual(await other.blobs.setPolicy({ prefetch: 'none', cacheBytes: 750_000 }), { prefetch: 'none', recentDays: 30, cacheBytes: 750_000 });
    const trimmed = await other.blobs.prefetch();
    assert.ok(trimmed.evicted >= 1 && trimmed.fetched === 0, JSON.stringify(trimmed));
    // Blobs this device opened are listed, with what of each is cached.
    const listed = await other.blobs.list();
    assert.deepEqual(listed.map((b) => b.ref).sort(), [old.ref, recent.ref].sort());
    assert.deepEqual(
      listed.filter((b) => b.cached > 0).map((b) => b.ref),
      [recent.ref],
    );
    assert.deepEqual(await other.blobs.setPolicy({ cacheBytes: null }), { prefetch: 'none', recentDays: 30 });
  });

  test('a remote on this disk (capabilities.local) is read in place: no cache copy on attach or fetch; a prefetch policy and other remotes still fill the cache', async () => {
    const objects = new Map<string, Uint8Array>();
    const local = () => {
      const inner = openMemoryRemote(objects);
      return decorateRemote(inner, { capabilities: { ...inner.capabilities, local: true } });
    };
    const [cacheA, cacheB, cacheC] = [new MemoryBlobCache(), new MemoryBlobCache(), new MemoryBlobCache()];
    const { vault, recoveryCode } = await Vault.create({ store: openMemoryStore(), remote: local(), remoteUrl: 'memory:', blobCache: cacheA });
    const data = noise(3 * 1024 * 1024, 71);
    const { ref } = await vault.blobs.put(data);
    await vault.put('notes', 'n', { photo: ref });
    await vault.sync();
    assert.deepEqual(await cacheA.list(), [], 'attach wrote no cache copy');
    const restore = (remote: ReturnType<typeof local>, blobCache: MemoryBlobCache) =>
      Vault.restore({ store: openMemoryStore(), remote, remoteUrl: 'memory:', recoveryCode, blobCache });
    const reader = await restore(local(), cacheB);
    await reader.sync();
    assert.deepEqual(await reader.blobs.bytes(ref), data);
    assert.deepEqual(await cacheB.list(), [], 'fetch wrote no cache copy');
    // A prefetch policy asks for the blobs on this device: kept, and readable with the remote's chunks gone.
    const chunks = (await reader.blobs.manifest(ref)).chunks.length;
    await reader.blobs.setPolicy({ prefetch: 'all' });
    assert.equal((await reader.blobs.prefetch()).fetched, chunks);
    assert.equal((await cacheB.list()).filter((e) => e.key.startsWith('c/')).length, chunks);
    const saved = new Map(objects);
    for (const k of [...objects.keys()]) if (k.startsWith('blobs/chunks/')) objects.delete(k);
    assert.deepEqual(await reader.blobs.bytes(ref), data);
    for (const [k, v] of saved) objects.set(k, v);
    // The same objects through a remote that is not local: fetched chunks are cached, for offline reads.
    const remote = await restore(openMemoryRemote(objects), cacheC);
    assert.deepEqual(await remote.blobs.bytes(ref), data);
    assert.equal((await cacheC.list()).length, chunks + 1);
  });

  test('gc marks, then after the grace period deletes what no record references; a later push re-uploads a blob it references', async () => {
    const { vault, other, objects, advance } = await setup();
    const keep = await vault.blobs.put(noise(600_000, 21));
    const drop = await vault.blobs.put(noise(600_000, 22));
    await vault.put('notes', 'n1', { photo: keep.ref });
    await vault.sync();
    await other.sync();
    const first = await other.blobs.gc();
    assert.ok(first.marked >= 2, `unreferenced manifest and chunks marked: ${JSON.stringify(first)}`);
    assert.ok(objects.has(blobKeys.manifest(parseBlobRef(drop.ref))), 'nothing deleted before the grace period');
    advance(8 * 24 * 3600_000);
    const dry = await other.blobs.gc({ dryRun: true });
    assert.ok(dry.deleted >= 2 && objects.has(blobKeys.manifest(parseBlobRef(drop.ref))));
    const second = await other.blobs.gc();
    assert.ok(second.deleted >= 2);
    assert.ok(!objects.has(blobKeys.manifest(parseBlobRef(drop.ref))));
    assert.deepEqual((await other.blobs.bytes(keep.ref)).length, 600_000);
    // The uploader, offline all this time, now references the collected blob: its push restores it.
    await vault.put('notes', 'n2', { photo: drop.ref });
    await vault.sync();
    await other.sync();
    assert.equal((await other.blobs.bytes(drop.ref)).length, 600_000);
  });
  test("a blob attached through a remote on this disk (no cache copy) survives another device's GC past the grace while its reference is unpushed; the hold goes once its own device needs it no more", async () => {
    const objects = new Map<string, Uint8Array>();
    const local = () => {
      const inner = openMemoryRemote(objects);
      return decorateRemote(inner, { capabilities: { ...inner.capabilities, local: true } });
    };
    let now = Date.UTC(2026, 10, 1);
    const deps = (seed: number) => ({ random: seededRandom(seed), now: () => now });
    const { vault, recoveryCode } = await Vault.create({
      store: openMemoryStore(),
      remote: local(),
      remoteUrl: 'memory:',
      blobCache: new MemoryBlobCache(),
      deps: deps(1),
    });
    const other = await Vault.restore({ store: openMemoryStore(), remote: local(), remoteUrl: 'memory:', recoveryCode, deps: deps(2) });
    const data = noise(700_000, 81);
    const { ref } = await vault.blobs.put(data);
    await vault.put('notes', 'n', { photo: ref }); // written, not pushed
    await other.sync();
    await other.blobs.gc();
    now += 8 * 24 * 3600_000;
    await other.blobs.gc();
    now += 8 * 24 * 3600_000;
    await other.blobs.gc();
    assert.ok(objects.has(blobKeys.manifest(parseBlobRef(ref))), 'the held manifest is kept');
    assert.ok(objects.has(holdKeys.of(vault.deviceId, parseBlobRef(ref))), 'held while the reference is unpushed');
    await vault.sync();
    await other.sync();
    assert.deepEqual(await other.blobs.bytes(ref), data);
    // A hold under a device the registry does not know holds nothing, and is removed.
    const forged = holdKeys.of('0123456789abcdef', parseBlobRef(ref));
    objects.set(forged, new Uint8Array(8));
    await other.blobs.gc();
    assert.ok(!objects.has(forged));
    // The push that carried the reference let the hold go (the pushed record keeps the blob); then dropped
    // by a later write, the blob takes the usual grace.
    const hold = holdKeys.of(vault.deviceId, parseBlobRef(ref));
    assert.ok(!objects.has(hold), 'a push that carries the reference releases the hold');
    await vault.delete('notes', 'n');
    await vault.sync();
    await vault.blobs.gc();
    assert.ok(!objects.has(hold), 'the hold is gone once no unpushed write references the blob');
    assert.ok(objects.has(blobKeys.manifest(parseBlobRef(ref))), 'marked, not deleted');
    now += 8 * 24 * 3600_000;
    await other.sync();
    await other.blobs.gc();
    assert.ok(!objects.has(blobKeys.manifest(parseBlobRef(ref))), 'collected after the grace');
  });
});
