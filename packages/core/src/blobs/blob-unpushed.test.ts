import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { concatBytes } from '../crypto/index.js';
import { parseBlobRef } from '../format/blob-format.js';
import { noise, twoDevices } from './blobs.test.support.js';
import { holdKeys } from './holds.js';

const DAY = 86400_000;

/** Another device's GC over three weeks, past the grace period (7 days) twice. */
const collectForWeeks = async (other: Awaited<ReturnType<typeof twoDevices>>['other'], advance: (ms: number) => unknown): Promise<void> => {
  await other.sync();
  for (let i = 0; i < 3; i++) {
    await other.blobs.gc();
    advance(8 * DAY);
  }
  await other.blobs.gc();
};

describe('blobs referenced only by unpushed writes', () => {
  test("a cache limit never loses an unpushed attach: chunks a write references unpushed stay; a recent attach's go only under a hold; after another device's GC over weeks, every blob pushes intact", async () => {
    const { vault, other, cache, objects, advance } = await twoDevices();
    await vault.blobs.setPolicy({ cacheBytes: 100_000 }); // less than any one of the blobs
    const data = [noise(700_000, 91), noise(700_000, 92), noise(2_500_000, 93)];
    const refs: string[] = [];
    for (const [i, d] of data.entries()) {
      const { ref } = await vault.blobs.put(d);
      // A sync round under the policy may trim between the attach and the write that references it.
      if (i === 0) {
        assert.ok((await vault.blobs.prefetch()).evicted > 0);
        assert.ok(objects.has(holdKeys.of(vault.deviceId, parseBlobRef(ref))), 'held before its only copy went');
      }
      await vault.put('notes', `n${i}`, { file: ref });
      refs.push(ref);
    }
    await vault.blobs.prefetch();
    // Written, never pushed: no pushed record keeps the blobs, so GC elsewhere deletes them after the grace.
    await collectForWeeks(other, advance);
    await vault.sync();
    await other.sync();
    for (const [i, ref] of refs.entries()) assert.deepEqual(await other.blobs.bytes(ref), data[i], `blob ${i}`);
    assert.deepEqual(
      [...objects.keys()].filter((k) => k.startsWith(holdKeys.prefix)),
      [],
      'the push released the hold',
    );
    // Once pushed, nothing pins them: the limit applies again.
    await vault.blobs.prefetch();
    const cached = (await cache.list()).filter((e) => e.key.startsWith('c/')).reduce((n, e) => n + e.size, 0);
    assert.ok(cached <= 100_000, `${cached} chunk bytes cached`);
  });

  test('a trim that cannot write the hold (the remote unreachable) keeps the recent attach, and evicts it once it can', async () => {
    const { vault, cache, remote } = await twoDevices();
    const { ref } = await vault.blobs.put(noise(700_000, 96));
    const chunks = (await cache.list()).filter((e) => e.key.startsWith('c/')).length;
    const online = remote.put.bind(remote);
    remote.put = () => Promise.reject(new Error('offline'));
    assert.equal((await vault.blobs.prefetch({ cacheBytes: 0 })).evicted, 0);
    remote.put = online;
    assert.equal((await vault.blobs.prefetch({ cacheBytes: 0 })).evicted, chunks);
    assert.ok(chunks > 0 && (await vault.blobs.list()).every((b) => b.ref === ref && b.cached === 0));
  });

  test('an attach whose chunks another blob left marked past the grace keeps them: GC never deletes a chunk a manifest still on the remote names', async () => {
    const { vault, other, advance } = await twoDevices();
    const base = noise(6 * 1024 * 1024, 94);
    await vault.blobs.put(base); // never referenced: GC marks its manifest and chunks
    await other.sync();
    await other.blobs.gc();
    advance(8 * DAY);
    // The same content grown: most chunks are the old blob's, whose marks are now past the grace.
    const grown = concatBytes(base, noise(1024 * 1024, 95));
    const { ref, uploaded } = await vault.blobs.put(grown);
    assert.ok(uploaded < grown.length / 2, `uploaded ${uploaded}: the old chunks are reused`);
    await vault.put('notes', 'n', { file: ref }); // unpushed
    await other.blobs.gc();
    await vault.sync();
    await other.sync();
    assert.deepEqual(await other.blobs.bytes(ref), grown);
  });
});
