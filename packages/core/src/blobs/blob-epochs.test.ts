import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { Vault } from '../vault/vault.js';
import type { Remote, GetOptions } from '../ports/remote.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { MemoryBlobCache } from '../testing/memory-blob-cache.js';
import { blobKeys, parseBlobRef } from '../format/blob-format.js';
import { noise } from './blobs.test.support.js';

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
