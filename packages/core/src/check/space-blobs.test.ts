import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../base/errors.js';
import { newPerson, World } from '../vault/spaces/people.test.support.js';

test('check of a space’s blobs by a member’s device: its manifests open with the space’s key; a chunk no manifest lists is unreferenced, a listed one gone missing', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 21);
  try {
    const { spaceId } = await a.vault.spaces.create('Photos');
    const bytes = new Uint8Array(300 * 1024).map((_, i) => (i * 7) % 253);
    const { ref } = await a.vault.space('Photos').blobs.put(bytes, { name: 'p.bin' });
    await a.vault.space('Photos').put('photos', 'p1', { file: ref });
    await a.vault.sync();
    // On a folder or bucket the space lives under the vault's remote (`spaces/<spaceId>/`): put it there for the vault's check.
    const root = `spaces/${spaceId}/`;
    const mine = world.objects('memory://ana');
    for (const [key, value] of world.objects(`memory://ana/spaces/${spaceId}`)) mine.set(root + key, value);
    const clean = await a.vault.check();
    assert.deepEqual(clean.problems, []);
    const blobKeys = [...mine.keys()].filter((k) => k.startsWith(`${root}blobs/`));
    assert.equal(clean.checked.spaceBlobs, blobKeys.length);
    const manifest = blobKeys.find((k) => k.includes('/manifests/'))!;
    const chunks = blobKeys.filter((k) => k.includes('/chunks/')).sort();
    assert.ok(chunks.length > 0);

    const manifestBytes = mine.get(manifest)!;
    mine.delete(manifest);
    const orphans = await a.vault.check();
    assert.deepEqual(
      orphans.problems.map((p) => [p.kind, p.key, p.code]),
      chunks.map((k) => ['unreferenced', k, ErrorCode.UnreferencedObject]),
    );
    mine.set(manifest, manifestBytes);

    const chunkBytes = mine.get(chunks[0]!)!;
    mine.delete(chunks[0]!);
    const gone = await a.vault.check();
    assert.deepEqual(
      gone.problems.map((p) => [p.kind, p.key, p.code]),
      [['missing', chunks[0], ErrorCode.NotFound]],
    );
    mine.set(chunks[0]!, chunkBytes);
    assert.deepEqual((await a.vault.check()).problems, []);
  } finally {
    await a.vault.close();
  }
});
