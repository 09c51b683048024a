import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { Vault } from '../vault/vault.js';
import type { Remote, GetOptions } from '../ports/remote.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { countingRemote } from '../ports/counting.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { MemoryBlobCache } from '../testing/memory-blob-cache.js';
import { blobKeys, parseBlobRef } from '../format/blob-format.js';
import { AVG_CHUNK, Chunker, gearTable, MAX_CHUNK, MIN_CHUNK } from './chunker.js';
import { concatBytes } from '../crypto/index.js';

/** Deterministic incompressible bytes (AES-CTR keystream of a seed). */
const noise = (n: number, seed = 1): Uint8Array => {
  const key = Buffer.alloc(32);
  key.writeUInt32BE(seed);
  return new Uint8Array(createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n)));
};

describe('chunker', () => {
  const gear = gearTable(new Uint8Array(32).fill(5));
  const chunk = (data: Uint8Array, splits: number[]) => {
    const c = new Chunker(gear);
    const out: Uint8Array[] = [];
    let at = 0;
    for (const s of [...splits, data.length]) {
      const end = Math.min(data.length, Math.max(at, s));
      out.push(...c.push(data.subarray(at, end)));
      at = end;
    }
    out.push(...c.end());
    return out;
  };
  test('chunks concatenate to the input, respect the size bounds, and do not depend on how the input was split', () => {
    const data = noise(9 * 1024 * 1024, 3);
    const whole = chunk(data, []);
    assert.ok(whole.length >= 3);
    assert.deepEqual(Buffer.concat(whole), Buffer.from(data));
    for (const c of whole.slice(0, -1)) assert.ok(c.length >= MIN_CHUNK && c.length <= MAX_CHUNK);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: data.length }), { maxLength: 6 }), (splits) => {
        const parts = chunk(
          data,
          [...splits].sort((a, b) => a - b),
        );
        assert.deepEqual(
          parts.map((p) => p.length),
          whole.map((p) => p.length),
        );
      }),
      { numRuns: 15 },
    );
  });
  test('cuts exactly where docs/FORMAT.md says, whatever the input alignment and split', () => {
    // The spec read literally: one byte at a time over the whole buffer.
    const spread = (k: number) => Array.from({ length: k }, (_, i) => 1 << Math.floor((i * 32) / k)).reduce((a, b) => a | b, 0) >>> 0;
    const [hard, easy] = [spread(22), spread(18)];
    const reference = (data: Uint8Array): number[] => {
      const sizes: number[] = [];
      for (let start = 0; start < data.length;) {
        const n = Math.min(MAX_CHUNK, data.length - start);
        let cut = n;
        let h = 0;
        for (let i = MIN_CHUNK; i < n; i++) {
          h = ((h << 1) + gear[data[start + i]!]!) >>> 0;
          if ((h & (i < AVG_CHUNK ? hard : easy)) === 0) {
            cut = i + 1;
            break;
          }
        }
        sizes.push(cut);
        start += cut;
      }
      return sizes;
    };
    // Low-entropy stretches make cuts land at MAX_CHUNK too.
    const data = concatBytes(noise(7 * 1024 * 1024, 5), new Uint8Array(9 * 1024 * 1024).fill(7), noise(3 * 1024 * 1024 + 3, 6));
    const expected = reference(data);
    assert.ok(expected.includes(MAX_CHUNK) && expected.some((s) => s < AVG_CHUNK) && expected.some((s) => s > AVG_CHUNK && s < MAX_CHUNK), expected.join());
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.array(fc.integer({ min: 0, max: data.length }), { maxLength: 8 }), (shift, splits) => {
        // Inputs at every offset mod 4 from their buffer's start, cut anywhere.
        const shifted = new Uint8Array(data.length + shift);
        shifted.set(data, shift);
        const parts = chunk(
          shifted.subarray(shift),
          [...splits].sort((a, b) => a - b),
        );
        assert.deepEqual(
          parts.map((p) => p.length),
          expected,
        );
        assert.deepEqual(Buffer.concat(parts), Buffer.from(data));
      }),
      { numRuns: 12 },
    );
  });
  test('an edit in the middle changes only nearby chunks; another key cuts elsewhere', () => {
    const data = noise(8 * 1024 * 1024, 4);
    const edited = data.slice();
    edited[4 * 1024 * 1024]! ^= 0xff;
    const a = chunk(data, []).map((c) => Buffer.from(c).toString('base64'));
    const b = chunk(edited, []).map((c) => Buffer.from(c).toString('base64'));
    const shared = a.filter((x) => b.includes(x)).length;
    assert.ok(shared >= a.length - 2, `${shared} of ${a.length} chunks shared`);
    const other = new Chunker(gearTable(new Uint8Array(32).fill(6)));
    const otherCuts = [...other.push(data), ...other.end()].map((c) => c.length);
    assert.notDeepEqual(
      otherCuts,
      a.map((x) => Buffer.from(x, 'base64').length),
    );
  });
});

describe('blobs', () => {
  const setup = async () => {
    const objects = new Map<string, Uint8Array>();
    const remote = countingRemote(openMemoryRemote(objects));
    const cache = new MemoryBlobCache();
    let now = Date.UTC(2026, 10, 1);
    const { vault, recoveryCode } = await Vault.create({
      store: openMemoryStore(),
      remote,
      remoteUrl: 'memory:',
      blobCache: cache,
      deps: { random: seededRandom(1), now: () => now },
    });
    const other = await Vault.restore({
      store: openMemoryStore(),
      remote: openMemoryRemote(objects),
      remoteUrl: 'memory:',
      recoveryCode,
      blobCache: new MemoryBlobCache(),
      deps: { random: seededRandom(2), now: () => now },
    });
    return { vault, other, objects, remote, cache, advance: (ms: number) => (now += ms) };
  };

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
});

/**
 * B revokes C, which starts key epoch 1, and stores a blob under it; A and
 * D have not synced since (A's registry still lists only itself).
 */
describe('blobs of an epoch a device has not heard of yet', () => {
  /** `dRemote` stands between D and the remote. */
  const setup = async (dRemote = (r: Remote): Remote => r) => {
    const objects = new Map<string, Uint8Array>();
    let now = Date.UTC(2026, 10, 1);
    const deps = (seed: number) => ({ random: seededRandom(seed), now: () => (now += 1000) });
    const open = async (seed: number, code: string, remote = openMemoryRemote(objects)) =>
      Vault.restore({ store: openMemoryStore(), remote, remoteUrl: 'memory:', recoveryCode: code, blobCache: new MemoryBlobCache(), deps: deps(seed) });
    const { vault: a, recoveryCode } = await Vault.create({
      store: openMemoryStore(),
      remote: openMemoryRemote(objects),
      remoteUrl: 'memory:',
      blobCache: new MemoryBlobCache(),
      deps: deps(71),
    });
    const [b, c, d] = [await open(72, recoveryCode), await open(73, recoveryCode), await open(74, recoveryCode, dRemote(openMemoryRemote(objects)))];
    await b.devices.revoke(c.deviceId);
    const data = noise(700_000, 75);
    const put = await b.blobs.put(data, { name: 'photo.jpg' });
    return { a, b, c, d, data, put, objects, advance: (ms: number) => (now += ms) };
  };
  const is = (code: ErrorCode) => (e: unknown) => KithError.is(e, code);

  test('a read that catches up with the registry while a pull does the same: each new entry is applied once', async () => {
    const { a, b, data, put } = await setup();
    await b.put('album', 'p1', { photo: put.ref });
    await b.sync();
    const [bytes] = await Promise.all([a.blobs.bytes(put.ref), a.pull(), a.blobs.manifest(put.ref)]);
    assert.deepEqual(bytes, data);
    assert.deepEqual(await a.get('album', 'p1'), { id: 'p1', photo: put.ref });
    assert.equal((await a.devices.list()).length, 4);
  });

  test('prefetch on a device behind the registry fetches it instead of counting it damaged', async () => {
    const { a, put } = await setup();
    // The ref reached A outside a sync (copied from the other device, as in the README tour).
    await a.put('album', 'p1', { photo: put.ref });
    const r = await a.blobs.prefetch({ policy: 'all' });
    assert.deepEqual([r.fetched, r.unavailable], [(await a.blobs.manifest(put.ref)).chunks.length, 0]);
  });

  test('gc on a device behind the registry keeps the chunks of a live blob of the new epoch; a revoked device cannot collect', async () => {
    const { a, c, put, objects } = await setup();
    await a.put('album', 'p1', { photo: put.ref });
    const marks = () => [...objects.keys()].filter((k) => k.startsWith(blobKeys.gcPrefix));
    await assert.rejects(c.blobs.gc(), is(ErrorCode.Revoked));
    assert.deepEqual(marks(), [], 'the revoked device marked nothing');
    const r = await a.blobs.gc();
    assert.deepEqual([r.marked, r.deleted], [0, 0], JSON.stringify(r));
    assert.deepEqual(marks(), []);
  });

  test('gc stops, marking no live chunk, when a live manifest cannot be read for a reason other than damage', async () => {
    let failing = '';
    const { d, put, objects } = await setup((r) =>
      Object.assign(Object.create(r) as Remote, {
        get: async (key: string, o?: GetOptions) => (key === failing ? Promise.reject(new Error('connection reset')) : r.get(key, o)),
      }),
    );
    await d.put('album', 'p1', { photo: put.ref });
    failing = blobKeys.manifest(parseBlobRef(put.ref));
    await assert.rejects(d.blobs.gc(), /connection reset/);
    assert.deepEqual(
      [...objects.keys()].filter((k) => k.startsWith(blobKeys.gcPrefix)),
      [],
    );
  });

  test('an epoch the remote registry never opened, or a key it does not hold, is named in the error', async () => {
    const { a, d, put, objects } = await setup();
    // A's sealed key of epoch 1 is gone: what is missing is said, not that the blob was altered.
    const sealed = [...objects.keys()].find((k) => k.startsWith('keys/0000000001/') && k.endsWith(`/${a.deviceId}`))!;
    objects.delete(sealed);
    await assert.rejects(
      a.blobs.bytes(put.ref),
      (e: unknown) => KithError.is(e, ErrorCode.IntegrityCorrupt) && /key of epoch 1 is not available/.test((e as Error).message),
    );
    // A header naming epoch 9, which no registry entry opened.
    const key = blobKeys.manifest(parseBlobRef(put.ref));
    const bytes = objects.get(key)!.slice();
    new DataView(bytes.buffer).setUint32(8, 9);
    objects.set(key, bytes);
    await assert.rejects(
      d.blobs.bytes(put.ref),
      (e: unknown) => KithError.is(e, ErrorCode.IntegrityCorrupt) && /registry on the remote ends at epoch 1/.test((e as Error).message),
    );
  });
});
