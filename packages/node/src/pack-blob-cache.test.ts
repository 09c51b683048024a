import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bytesOf, keyOf, withDir } from './blob-cache-conformance.test.support.js';
import { FsBlobCache } from './fs-blob-cache.js';
import { PACK_BYTES, PackBlobCache } from './pack-blob-cache.js';

const MiB = 1024 * 1024;

const packFiles = (dir: string): string[] => (existsSync(join(dir, 'packs')) ? readdirSync(join(dir, 'packs')) : []);
const packBytes = (dir: string): number => packFiles(dir).reduce((n, f) => n + statSync(join(dir, 'packs', f)).size, 0);

test('pack cache: 130 objects of 1 MiB are 3 pack files and an index, private to the user', { timeout: 120_000 }, async () => {
  await withDir(async (dir) => {
    const c = new PackBlobCache(dir);
    for (let i = 0; i < 130; i++) await c.put(keyOf(i), bytesOf(i, MiB));
    await c.close();
    assert.equal(PACK_BYTES, 64 * MiB);
    assert.equal(packFiles(dir).length, 3);
    assert.deepEqual(
      readdirSync(dir).sort(),
      ['index.db', 'index.db-shm', 'index.db-wal', 'packs'].filter((f) => existsSync(join(dir, f))),
    );
    for (const f of packFiles(dir)) assert.equal(statSync(join(dir, 'packs', f)).mode & 0o777, 0o600, f);
    assert.equal(statSync(join(dir, 'index.db')).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const again = new PackBlobCache(dir);
    try {
      for (const i of [0, 63, 64, 129]) assert.deepEqual(await again.get(keyOf(i)), bytesOf(i, MiB), `object ${i}`);
      // A second writer appends to the pack with room (the third), not a new file.
      await again.put(keyOf(500), bytesOf(500, MiB));
    } finally {
      await again.close();
    }
    assert.equal(packFiles(dir).length, 3);
  });
});

test('pack cache: deleting objects frees whole packs (removed when empty, compacted when mostly dead)', { timeout: 120_000 }, async () => {
  await withDir(async (dir) => {
    const c = new PackBlobCache(dir);
    for (let i = 0; i < 130; i++) await c.put(keyOf(i), bytesOf(i, MiB));
    await c.close();
    assert.equal(packBytes(dir), 130 * MiB);
    const d = new PackBlobCache(dir);
    try {
      // The first pack's objects, least recently used first, as trimming takes them: past half, its rest moves and it goes.
      for (let i = 0; i < 63; i++) await d.delete(keyOf(i));
      assert.equal(packFiles(dir).length, 2, packFiles(dir).join());
      assert.ok(packBytes(dir) <= 67 * MiB + 32 * MiB, `${packBytes(dir)} bytes of packs for 67 MiB live`);
      for (const i of [63, 64, 100, 129]) assert.deepEqual(await d.get(keyOf(i)), bytesOf(i, MiB), `object ${i}`);
      assert.equal((await d.list()).length, 67);
      for (let i = 63; i < 130; i++) await d.delete(keyOf(i));
      assert.deepEqual(await d.list(), []);
    } finally {
      await d.close();
    }
    assert.deepEqual(packFiles(dir), [], 'nothing left on disk');
  });
});

test(
  'pack cache: empty objects alone in a pack are kept where they are: closing ends, and no pack is made for them again and again',
  { timeout: 60_000 },
  async () => {
    await withDir(async (dir) => {
      // A pack holding only empty objects has no live byte: it was compacted into a fresh pack, which was just such a pack, without end.
      const c = new PackBlobCache(dir);
      await c.put(keyOf(1), bytesOf(1, 0));
      await c.put(keyOf(2), bytesOf(2, 0));
      await c.close();
      assert.equal(packFiles(dir).length, 1, packFiles(dir).join());
      const d = new PackBlobCache(dir);
      try {
        assert.deepEqual(await d.get(keyOf(1)), new Uint8Array(0));
        // An empty object beside a dead one: the dead bytes go, the empty objects stay readable.
        await d.put(keyOf(3), bytesOf(3, 1000));
        await d.delete(keyOf(3));
        await d.put(keyOf(4), bytesOf(4, 0));
        assert.deepEqual((await d.list()).map((o) => [o.key, o.size]).sort(), [1, 2, 4].map((i) => [keyOf(i), 0]).sort());
      } finally {
        await d.close();
      }
      assert.ok(packFiles(dir).length <= 2, packFiles(dir).join());
      assert.ok(packBytes(dir) === 0, `${packBytes(dir)} bytes of packs for empty objects`);
      const e = new PackBlobCache(dir);
      for (const i of [1, 2, 4]) assert.deepEqual(await e.get(keyOf(i)), new Uint8Array(0), `object ${i}`);
      await e.close();
    });
  },
);

test('pack cache: a cache in the file-per-object layout is read, listed, replaced and evicted in place', async () => {
  await withDir(async (dir) => {
    const old = new FsBlobCache(dir);
    await old.put(keyOf(1), bytesOf(1, 1000));
    await old.put(keyOf(2), bytesOf(2, 2000));
    await old.put(keyOf(2, 'm'), bytesOf(3, 30));
    const c = new PackBlobCache(dir);
    try {
      assert.deepEqual(await c.get(keyOf(1)), bytesOf(1, 1000));
      assert.deepEqual(await c.get(keyOf(2, 'm')), bytesOf(3, 30));
      assert.equal(await c.touch(keyOf(2)), true);
      await c.put(keyOf(4), bytesOf(4, 4000));
      await c.put(keyOf(1), bytesOf(5, 500)); // a rewrite: the packed copy wins
      assert.deepEqual(await c.get(keyOf(1)), bytesOf(5, 500));
      assert.deepEqual(
        (await c.list()).map((e) => [e.key, e.size]).sort(),
        [
          [keyOf(1), 500],
          [keyOf(2), 2000],
          [keyOf(2, 'm'), 30],
          [keyOf(4), 4000],
        ].sort(),
      );
      assert.ok(!existsSync(join(dir, 'c', keyOf(4).slice(2, 4))), 'new objects go to packs');
      await c.delete(keyOf(2));
      await c.delete(keyOf(1));
      assert.equal(await c.get(keyOf(2)), null);
      assert.equal(await c.get(keyOf(1)), null);
      assert.ok(!existsSync(join(dir, 'c', keyOf(2).slice(2, 4), keyOf(2).slice(2))), 'the old file is gone');
      assert.deepEqual((await c.list()).map((e) => e.key).sort(), [keyOf(2, 'm'), keyOf(4)].sort());
    } finally {
      await c.close();
    }
  });
});

test('pack cache: after a reboot, objects written since the last fsync are dropped; the rest read back and appends resume', { timeout: 60_000 }, async () => {
  await withDir(async (dir) => {
    const first = new PackBlobCache(dir, { boot: 'one' });
    for (let i = 0; i < 10; i++) await first.put(keyOf(i), bytesOf(i, 100_000));
    await first.close(); // fsynced
    const second = new PackBlobCache(dir, { boot: 'one' });
    for (let i = 10; i < 20; i++) await second.put(keyOf(i), bytesOf(i, 100_000)); // written, never fsynced: the machine "stops" here
    const rebooted = new PackBlobCache(dir, { boot: 'two' });
    try {
      for (let i = 0; i < 10; i++) assert.deepEqual(await rebooted.get(keyOf(i)), bytesOf(i, 100_000), `object ${i}`);
      for (let i = 10; i < 20; i++) assert.equal(await rebooted.get(keyOf(i)), null, `object ${i}`);
      assert.equal((await rebooted.list()).length, 10);
      for (let i = 20; i < 30; i++) await rebooted.put(keyOf(i), bytesOf(i, 100_000));
      for (let i = 20; i < 30; i++) assert.deepEqual(await rebooted.get(keyOf(i)), bytesOf(i, 100_000), `object ${i}`);
      assert.equal(packFiles(dir).length, 1, 'appended where the unsynced bytes were');
    } finally {
      await rebooted.close();
    }
  });
});

test('pack cache: processes killed (-9) while writing: every acknowledged object reads back, partial ones are not there', { timeout: 300_000 }, async () => {
  await withDir(async (dir) => {
    const support = pathToFileURL(join(import.meta.dirname, 'blob-cache-conformance.test.support.js')).href;
    const cache = pathToFileURL(join(import.meta.dirname, 'pack-blob-cache.js')).href;
    // Objects of 0.25 to 4 MiB (the chunker's range), four writes in flight, as an upload keeps them: packs fill and roll over.
    const sizeOf = (i: number): number => 262_144 + ((i * 7919 * 131) % 3_932_160);
    const writer = (from: number) => `
      const { bytesOf, keyOf } = await import(${JSON.stringify(support)});
      const { PackBlobCache } = await import(${JSON.stringify(cache)});
      const c = new PackBlobCache(${JSON.stringify(dir)});
      const sizeOf = ${sizeOf.toString()};
      let next = ${from};
      const one = async () => { for (;;) { const i = next++; await c.put(keyOf(i), bytesOf(i, sizeOf(i))); process.stdout.write('ack ' + i + '\\n'); } };
      await Promise.all([one(), one(), one(), one()]);`;
    const acked: number[] = [];
    const written: number[] = [];
    for (const [round, kills] of [20, 37, 9, 55].entries()) {
      const from = round * 1000;
      written.push(...Array.from({ length: 200 }, (_, i) => from + i));
      const child = spawn(process.execPath, ['--input-type=module', '-e', writer(from)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let seen = 0;
      let buffered = '';
      await new Promise<void>((resolve, reject) => {
        child.on('error', reject);
        child.on('exit', () => resolve());
        child.stdout.on('data', (d: Buffer) => {
          buffered += d.toString();
          const lines = buffered.split('\n');
          buffered = lines.pop()!;
          for (const l of lines) acked.push(Number(l.slice(4)));
          seen += lines.length;
          if (seen >= kills) child.kill('SIGKILL');
        });
      });
      assert.ok(seen >= kills, `round ${round}: the child acknowledged ${seen} objects before it ended`);
      const c = new PackBlobCache(dir);
      try {
        for (const i of acked) assert.deepEqual(await c.get(keyOf(i)), bytesOf(i, sizeOf(i)), `round ${round}: acknowledged object ${i}`);
        // Whatever else is listed was written whole; objects in flight at the kill are whole or absent.
        const byKey = new Map(written.map((i) => [keyOf(i), i]));
        for (const e of await c.list()) {
          const i = byKey.get(e.key)!;
          assert.equal(e.size, sizeOf(i), `round ${round}: listed object ${i}`);
          assert.deepEqual(await c.get(e.key), bytesOf(i, sizeOf(i)), `round ${round}: listed object ${i}`);
        }
      } finally {
        await c.close();
      }
    }
    // The killed writers' claims are cleared: new writes append over their torn tails, and everything reads back.
    const c = new PackBlobCache(dir);
    try {
      const packsBefore = packFiles(dir).length;
      for (let i = 9000; i < 9010; i++) await c.put(keyOf(i), bytesOf(i, 100_000));
      for (let i = 9000; i < 9010; i++) assert.deepEqual(await c.get(keyOf(i)), bytesOf(i, 100_000));
      assert.equal(packFiles(dir).length, packsBefore, 'no new pack: a partly filled one is reused');
      for (const i of acked) assert.deepEqual(await c.get(keyOf(i)), bytesOf(i, sizeOf(i)), `acknowledged object ${i}`);
    } finally {
      await c.close();
    }
  });
});

test('pack cache: bytes past the index (a torn tail) are ignored and written over', async () => {
  await withDir(async (dir) => {
    const c = new PackBlobCache(dir);
    await c.put(keyOf(1), bytesOf(1, 5000));
    await c.close();
    const [pack] = packFiles(dir);
    appendFileSync(join(dir, 'packs', pack!), bytesOf(99, 3000)); // a write the index never recorded
    const d = new PackBlobCache(dir);
    try {
      assert.deepEqual(await d.list().then((l) => l.map((e) => [e.key, e.size])), [[keyOf(1), 5000]]);
      await d.put(keyOf(2), bytesOf(2, 7000));
      assert.deepEqual(await d.get(keyOf(1)), bytesOf(1, 5000));
      assert.deepEqual(await d.get(keyOf(2)), bytesOf(2, 7000));
      assert.equal(statSync(join(dir, 'packs', pack!)).size, 12_000, 'appended at the end of the indexed bytes');
    } finally {
      await d.close();
    }
  });
});

/** SQLite commits since the write-ahead log was last reset, counted as its commit frames would be: frames over the pages one commit touches. */
const walFrames = (dir: string): number => {
  const wal = join(dir, 'index.db-wal');
  return existsSync(wal) ? Math.max(0, (statSync(wal).size - 32) / (4096 + 24)) : 0;
};

test('pack cache: puts finishing together share an index commit, and reads commit nothing of their own', { timeout: 120_000 }, async () => {
  await withDir(async (dir) => {
    const c = new PackBlobCache(dir);
    try {
      await c.put(keyOf(0), bytesOf(0, 1000)); // opens the index and claims a pack
      const before = walFrames(dir);
      await Promise.all(Array.from({ length: 64 }, (_, i) => c.put(keyOf(i + 1), bytesOf(i + 1, 1000))));
      // One commit per put writes at least two pages each (the object's row and the pack's), 128 frames or more.
      const puts = walFrames(dir) - before;
      assert.ok(puts < 64, `64 puts wrote ${puts} log frames`);
      for (let i = 1; i <= 64; i++) assert.deepEqual(await c.get(keyOf(i)), bytesOf(i, 1000), `object ${i}`);
      for (let i = 1; i <= 64; i++) assert.equal(await c.touch(keyOf(i)), true);
      const reads = walFrames(dir) - before - puts;
      assert.ok(reads < 64, `128 reads wrote ${reads} log frames`);
      assert.equal((await c.list()).length, 65);
    } finally {
      await c.close();
    }
    const again = new PackBlobCache(dir);
    try {
      for (let i = 0; i <= 64; i++) assert.deepEqual(await again.get(keyOf(i)), bytesOf(i, 1000), `object ${i}`);
    } finally {
      await again.close();
    }
  });
});
