/**
 * `vault.check()` and snapshots (check/snapshots.ts): a snapshot's chunks
 * are referenced, each manifest is checked as a bootstrap checks it, its
 * chunks must be there, and `readData` reads its whole state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import { ErrorCode } from '../base/errors.js';
import { generateDeviceKeys, signingKeyFromSeed } from '../crypto/index.js';
import { decodeSnapshot, encodeSnapshot, remoteKeys, snapshotKeys, type SnapshotManifest } from '../format/index.js';
import { blobKeys } from '../format/blob-format.js';
import { unb64 } from '../ports/store-meta.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { Vault } from '../vault/vault.js';
import type { CheckReport } from './index.js';

const T0 = 1_767_225_600_000;

/** A vault on a memory remote with two snapshots (sharing most chunks) and history after each. */
async function vaultWithSnapshots() {
  const objects = new Map<string, Uint8Array>();
  const store = openMemoryStore();
  let now = T0;
  const { vault } = await Vault.create({
    store,
    remote: openMemoryRemote(objects),
    remoteUrl: 'memory:',
    deps: { random: seededRandom(7), now: () => ++now },
    snapshotEvery: false,
  });
  const write = async (round: number): Promise<void> => {
    for (let i = 0; i < 40; i++) await vault.put('notes', `n${i}`, { round, body: 'x'.repeat(200 + i) });
    await vault.delete('notes', `n${round}`);
    await vault.sync();
  };
  await write(1);
  const older = (await vault.snapshot()).snapshot;
  await write(2);
  const newer = (await vault.snapshot()).snapshot;
  await write(3);
  const device = (await store.read((tx) => tx.getMeta('device'))) as { deviceId: string; signSeed: string };
  const epochKey = unb64(((await store.read((tx) => tx.getMeta('epochs'))) as Record<string, string>)['0']!);
  const manifest = (key: string): Promise<SnapshotManifest> =>
    decodeSnapshot(objects.get(key)!, { vaultId: vault.vaultId, key, signPub: signingKeyFromSeed(unb64(device.signSeed)).pub, epochKey: () => epochKey });
  /** Puts a manifest like `newer`'s with `change`, signed with `seed` as `deviceId`; returns its key. */
  const forge = async (change: Partial<SnapshotManifest>, seed = unb64(device.signSeed), deviceId = device.deviceId): Promise<string> => {
    const at = T0 + 10_000_000;
    const key = snapshotKeys.of(at, deviceId);
    const m = { ...(await manifest(newer)), ...change, at, deviceId };
    objects.set(key, await encodeSnapshot({ ...m, vaultId: vault.vaultId, epochKey, signSeed: seed, random: seededRandom(9) }));
    return key;
  };
  return { objects, vault, older, newer, device, manifest, forge };
}

const problems = (r: CheckReport): [string, string, string][] => r.problems.map((p) => [p.kind, p.key, p.code]);
const chunkKeys = (objects: Map<string, Uint8Array>): string[] => [...objects.keys()].filter((k) => k.startsWith(blobKeys.chunksPrefix)).sort();

/** Runs `damage`, checks, and puts every object back as it was. */
async function withDamage(objects: Map<string, Uint8Array>, damage: () => unknown, check: () => Promise<void>): Promise<void> {
  const saved = new Map(objects);
  try {
    await damage();
    await check();
  } finally {
    objects.clear();
    for (const [k, v] of saved) objects.set(k, v);
  }
}

test('check: the chunks of every snapshot are referenced, its manifests verify, and readData reads each chunk once', async () => {
  const { objects, vault, older, newer, manifest } = await vaultWithSnapshots();
  const chunks = chunkKeys(objects);
  assert.ok(chunks.length >= 2, 'the snapshots hold chunks');
  const plain = await vault.check();
  assert.deepEqual(problems(plain), []);
  assert.equal(plain.checked.chunks, chunks.length);
  const full = await vault.check({ readData: true });
  assert.deepEqual(problems(full), []);
  assert.equal(full.checked.chunksRead, chunks.length, 'a chunk two snapshots share counts once');
  // A snapshot manifest gone: the chunks only it listed belong to nothing now.
  const newerIds = new Set((await manifest(newer)).chunks.map((c) => c.id));
  const orphans = [...new Set((await manifest(older)).chunks.filter((c) => !newerIds.has(c.id)).map((c) => blobKeys.chunk(c.id)))].sort();
  assert.ok(orphans.length > 0, 'the older snapshot has chunks of its own');
  await withDamage(
    objects,
    () => objects.delete(older),
    async () =>
      assert.deepEqual(
        problems(await vault.check()),
        orphans.map((k) => ['unreferenced', k, ErrorCode.UnreferencedObject]),
      ),
  );
  await vault.close();
});

test('check: a snapshot chunk deleted is missing; one altered is damaged, found with readData only', async () => {
  const { objects, vault, newer, manifest } = await vaultWithSnapshots();
  const last = blobKeys.chunk((await manifest(newer)).chunks.at(-1)!.id);
  await withDamage(
    objects,
    () => objects.delete(last),
    async () => {
      const r = await vault.check();
      assert.deepEqual(problems(r), [['missing', last, ErrorCode.NotFound]]);
      assert.match(r.problems[0]!.message, new RegExp(`of snapshot ${newer} is missing`));
    },
  );
  await withDamage(
    objects,
    () => {
      const bad = objects.get(last)!.slice();
      bad[bad.length - 20]! ^= 0x08;
      objects.set(last, bad);
    },
    async () => {
      assert.deepEqual(problems(await vault.check()), []);
      assert.deepEqual(problems(await vault.check({ readData: true })), [['damaged', last, ErrorCode.IntegrityCorrupt]]);
    },
  );
  await vault.close();
});

test('check: a forged or altered manifest is reported with the code a bootstrap refuses it with', async () => {
  const s = await vaultWithSnapshots();
  const { objects, vault, newer, device } = s;
  const forged = async (change: () => Promise<string> | string, expected: [string, string][], o: { readData?: boolean } = {}) => {
    let key = '';
    await withDamage(
      objects,
      async () => (key = await change()),
      async () => {
        const found = problems(await vault.check(o));
        assert.deepEqual(
          found.filter(([, k]) => k === key),
          expected.map(([kind, code]) => [kind, key, code]),
        );
        // Beside it, at most the chunks only an altered manifest listed: no manifest that opens lists them now.
        for (const p of found.filter(([, k]) => k !== key)) assert.deepEqual([p[0], p[2]], ['unreferenced', ErrorCode.UnreferencedObject], p[1]);
      },
    );
  };
  // Signed by its writer, but past the writer's signed head.
  const m = await s.manifest(newer);
  const ahead = m.devices.map((d) => ({ ...d, seq: d.seq + 5 }));
  await forged(() => s.forge({ devices: ahead }), [['damaged', ErrorCode.IntegritySnapshot]]);
  // Altered bytes.
  await forged(() => {
    const bad = objects.get(newer)!.slice();
    bad[bad.length - 30]! ^= 0x01;
    objects.set(newer, bad);
    return newer;
  }, [['damaged', ErrorCode.IntegrityCorrupt]]);
  // Moved to another name: the name is part of what is signed.
  await forged(() => {
    const key = snapshotKeys.of(T0 + 20_000_000, device.deviceId);
    objects.set(key, objects.get(newer)!);
    return key;
  }, [['damaged', ErrorCode.IntegritySnapshot]]);
  // Counts the state does not hold: only reading it shows that.
  await forged(() => s.forge({ rows: m.rows + 1 }), []);
  await forged(() => s.forge({ rows: m.rows + 1 }), [['damaged', ErrorCode.IntegrityCorrupt]], { readData: true });
  // Written by a device the registry never admitted.
  const stranger = generateDeviceKeys(seededRandom(11));
  await forged(() => s.forge({}, stranger.sign.seed, stranger.deviceId), [['foreign', ErrorCode.IntegrityUnknownSigner]]);
  await vault.close();
});

test('check: an older snapshot whose next segment compaction deleted under a newer one is unreferenced, not damaged', async () => {
  const { objects, vault, older, newer, device, manifest } = await vaultWithSnapshots();
  const below = (await manifest(newer)).devices[0]!.seq;
  const olderSeq = (await manifest(older)).devices[0]!.seq;
  assert.ok(olderSeq < below);
  // What a compaction killed between its segments and its snapshots leaves: the chain starts after the newer V, the older snapshot stays.
  await withDamage(
    objects,
    () => {
      for (let seq = 1; seq <= below; seq++) objects.delete(remoteKeys.segment(device.deviceId, seq));
    },
    async () => assert.deepEqual(problems(await vault.check({ readData: true })), [['unreferenced', older, ErrorCode.UnreferencedObject]]),
  );
  // The same segment gone from the middle of the chain is damage: reported as missing, and the snapshot refused.
  await withDamage(
    objects,
    () => objects.delete(remoteKeys.segment(device.deviceId, olderSeq + 1)),
    async () =>
      assert.deepEqual(problems(await vault.check()), [
        ['missing', remoteKeys.segment(device.deviceId, olderSeq + 1), ErrorCode.IntegrityChain],
        ['damaged', older, ErrorCode.IntegrityChain],
      ]),
  );
  await vault.close();
});
