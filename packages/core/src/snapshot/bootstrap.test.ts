import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRandom } from '../base/deps.js';
import { WarningCode } from '../base/warnings.js';
import { bytesToHex, generateDeviceKeys, hexToBytes, signingKeyFromSeed } from '../crypto/index.js';
import { decodeSnapshot, encodeSnapshot, peekSnapshot, remoteKeys, snapshotKeys, type SnapshotManifest } from '../format/index.js';
import { decodeHead } from '../format/head.js';
import { unb64 } from '../ports/store-meta.js';
import type { Store } from '../ports/store.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { newMemoryStoreData, openMemoryStore } from '../testing/memory-store.js';
import { Vault } from '../vault/vault.js';
import { oneWriteState } from '../model/one-write.js';
import type { JsonObject } from '../model/json.js';
import { oneWriteRow, textRow } from '../ports/row-text.js';
import { tombstoneEntry } from './bootstrap.js';

const T0 = 1_767_225_600_000;
let tick = 0;
const deps = (seed: number) => ({ random: seededRandom(seed), now: () => T0 + ++tick });
let restored = 0;
const IDS = Array.from({ length: 30 }, (_, i) => `n${i}`);

async function dump(store: Store): Promise<unknown> {
  const rows = await store.read((tx) => tx.getRecords('notes', IDS));
  return JSON.parse(JSON.stringify(IDS.filter((id) => rows.has(id)).map((id) => rows.get(id))));
}

/** A vault with two snapshots (older, newer) and history after each. */
async function setUp() {
  const objects = new Map<string, Uint8Array>();
  const store = openMemoryStore();
  const { vault, recoveryCode } = await Vault.create({ store, remote: openMemoryRemote(objects), remoteUrl: 'memory:', deps: deps(1), snapshotEvery: false });
  const round = async (r: number) => {
    for (const id of IDS) await vault.put('notes', id, { title: `${id} round ${r}` });
    await vault.delete('notes', `n${r}`);
    await vault.sync();
  };
  await round(1);
  const older = (await vault.snapshot()).snapshot;
  await round(2);
  const newer = (await vault.snapshot()).snapshot;
  await round(3);
  const device = (await store.read((tx) => tx.getMeta('device'))) as { deviceId: string; signSeed: string };
  const epochKey = unb64(((await store.read((tx) => tx.getMeta('epochs'))) as Record<string, string>)['0']!);
  const headBytes = objects.get(remoteKeys.head(device.deviceId))!;
  const open = async (key: string): Promise<SnapshotManifest> => {
    const bytes = objects.get(key)!;
    return decodeSnapshot(bytes, { vaultId: vault.vaultId, key, signPub: signingKeyFromSeed(unb64(device.signSeed)).pub, epochKey: () => epochKey });
  };
  return { objects, store, vault, recoveryCode, older, newer, device, epochKey, headBytes, open };
}
type Setup = Awaited<ReturnType<typeof setUp>>;

/** A new device on the same objects: its first sync, its state and the snapshot warnings it gave. */
async function bootstrap(s: Setup) {
  const store = openMemoryStore();
  const fresh = await Vault.restore({
    store,
    remote: openMemoryRemote(s.objects),
    remoteUrl: 'memory:',
    recoveryCode: s.recoveryCode,
    deps: deps(100 + ++restored),
    snapshotEvery: false,
  });
  const result = await fresh.sync();
  const state = await dump(store);
  await fresh.close();
  return { state, warnings: (result.warnings ?? []).filter((w) => w.code === WarningCode.SnapshotRefused).map((w) => w.message) };
}

/** Writes a snapshot manifest with the given fields over a valid one's, signed by `seed` as `deviceId`. */
async function forge(s: Setup, change: Partial<SnapshotManifest>, seed: Uint8Array, deviceId = s.device.deviceId): Promise<string> {
  const m = { ...(await s.open(s.newer)), ...change };
  const at = T0 + 1_000_000;
  const key = snapshotKeys.of(at, deviceId);
  const bytes = await encodeSnapshot({ ...m, at, deviceId, vaultId: s.vault.vaultId, epochKey: s.epochKey, signSeed: seed, random: seededRandom(5) });
  s.objects.set(key, bytes);
  return key;
}

test('bootstrap: an altered manifest or chunk is refused (KITH_INTEGRITY_CORRUPT) and the device starts from the older snapshot instead', async () => {
  const s = await setUp();
  const expected = await dump(s.store);
  const bytes = s.objects.get(s.newer)!.slice();
  bytes[bytes.length - 100]! ^= 1;
  s.objects.set(s.newer, bytes);
  const first = await bootstrap(s);
  assert.deepEqual(first.state, expected);
  assert.equal(first.warnings.length, 1);
  assert.match(first.warnings[0]!, /KITH_INTEGRITY_CORRUPT/);
  // A chunk of the older one altered too: nothing valid is left, the full history is replayed.
  const chunk = (await s.open(s.older)).chunks[0]!.id;
  const key = [...s.objects.keys()].find((k) => k.endsWith(chunk))!;
  const altered = s.objects.get(key)!.slice();
  altered[altered.length - 1]! ^= 1;
  s.objects.set(key, altered);
  const second = await bootstrap(s);
  assert.deepEqual(second.state, expected);
  assert.equal(second.warnings.length, 2);
  await s.vault.close();
});

test('bootstrap: a snapshot signed by a key the registry does not hold is refused with KITH_INTEGRITY_SNAPSHOT', async () => {
  const s = await setUp();
  const expected = await dump(s.store);
  const stranger = generateDeviceKeys(seededRandom(77));
  await forge(s, { devices: [] }, stranger.sign.seed, stranger.deviceId);
  // And one that names a registered writer but is signed by another key.
  await forge(s, {}, stranger.sign.seed);
  const r = await bootstrap(s);
  assert.deepEqual(r.state, expected);
  assert.equal(r.warnings.length, 2);
  assert.ok(
    r.warnings.some((w) => /KITH_INTEGRITY_SNAPSHOT/.test(w) && /not a device of the vault/.test(w)),
    r.warnings.join('\n'),
  );
  assert.ok(
    r.warnings.some((w) => /KITH_INTEGRITY_CORRUPT/.test(w) && /bad signature/.test(w)),
    r.warnings.join('\n'),
  );
  await s.vault.close();
});

test('bootstrap: a snapshot by a registered device whose vector is ahead of the signed head or off the chain (KITH_INTEGRITY_SNAPSHOT), or whose registry position the remote does not reach (KITH_INTEGRITY_CHAIN), is refused', async () => {
  const s = await setUp();
  const expected = await dump(s.store);
  const seed = unb64(s.device.signSeed);
  const head = await decodeHead(s.headBytes, { vaultId: s.vault.vaultId, deviceId: s.device.deviceId, signPub: signingKeyFromSeed(seed).pub });
  const m = await s.open(s.newer);
  const own = m.devices[0]!;
  // Ahead: claims segments the head never signed.
  const ahead = await forge(s, { devices: [{ ...own, seq: head.seq + 5 }] }, seed);
  let r = await bootstrap(s);
  assert.deepEqual(r.state, expected);
  assert.ok(
    r.warnings.some((w) => w.includes(ahead) && /beyond that device's signed head/.test(w) && /KITH_INTEGRITY_SNAPSHOT/.test(w)),
    r.warnings.join('\n'),
  );
  s.objects.delete(ahead);
  // At the head's seq with another hash.
  const atHead = await forge(s, { devices: [{ ...own, seq: head.seq, hash: new Uint8Array(32).fill(7) }] }, seed);
  r = await bootstrap(s);
  assert.deepEqual(r.state, expected);
  assert.ok(
    r.warnings.some((w) => w.includes(atHead) && /not the one the signed head names/.test(w)),
    r.warnings.join('\n'),
  );
  s.objects.delete(atHead);
  // Below the head, with a hash the next segment does not chain to.
  const offChain = await forge(s, { devices: [{ ...own, hash: new Uint8Array(32).fill(9) }] }, seed);
  r = await bootstrap(s);
  assert.deepEqual(r.state, expected);
  assert.ok(
    r.warnings.some((w) => w.includes(offChain) && /does not chain/.test(w)),
    r.warnings.join('\n'),
  );
  assert.equal(bytesToHex(peekSnapshot(s.objects.get(offChain)!, offChain).registryHash), bytesToHex(m.registryHash));
  s.objects.delete(offChain);
  // Made under a registry position the remote's registry does not reach, or forks from.
  const beyond = await forge(s, { registrySeq: 99 }, seed);
  r = await bootstrap(s);
  assert.deepEqual(r.state, expected);
  assert.ok(
    r.warnings.some((w) => w.includes('entry 99') && /KITH_INTEGRITY_CHAIN/.test(w)),
    r.warnings.join('\n'),
  );
  s.objects.delete(beyond);
  await forge(s, { registryHash: new Uint8Array(32).fill(3) }, seed);
  r = await bootstrap(s);
  assert.deepEqual(r.state, expected);
  assert.ok(
    r.warnings.some((w) => /KITH_INTEGRITY_CHAIN/.test(w)),
    r.warnings.join('\n'),
  );
  await s.vault.close();
});

test('bootstrap: a rolled-back remote that serves only an older snapshot still gives the right state (a longer tail), with no warning', async () => {
  const s = await setUp();
  const expected = await dump(s.store);
  s.objects.delete(s.newer);
  const r = await bootstrap(s);
  assert.deepEqual(r.state, expected);
  assert.deepEqual(r.warnings, []);
  // Snapshots that name no known objects at all: a key that is not a snapshot's is ignored.
  s.objects.set('snapshots/not-a-snapshot', hexToBytes('00'));
  assert.deepEqual((await bootstrap(s)).state, expected);
  await s.vault.close();
});

test('bootstrap: the round trips before the first chunk overlap (snapshot listing with the registry, the newest manifest with the heads)', async () => {
  const s = await setUp();
  let recording = false;
  const inFlight = new Set<string>();
  /** For each call made before the first chunk: the calls in flight when it started. */
  const seen: { call: string; during: string[] }[] = [];
  const base = openMemoryRemote(s.objects);
  const traced = new Proxy(base, {
    get(target, name, receiver) {
      const v = Reflect.get(target, name, receiver) as unknown;
      if (typeof v !== 'function' || !['get', 'list'].includes(String(name))) return v;
      return async (key: string, ...rest: unknown[]) => {
        const call = `${String(name)} ${key.split('/')[0]}`;
        if (recording && !seen.some((c) => c.call === 'get blobs')) seen.push({ call, during: [...inFlight] });
        inFlight.add(call);
        try {
          await new Promise((r) => setTimeout(r, 5)); // a remote with latency, so overlapping calls are in flight together
          return await (v as (...a: unknown[]) => Promise<unknown>).call(target, key, ...rest);
        } finally {
          inFlight.delete(call);
        }
      };
    },
  });
  const data = newMemoryStoreData();
  const restoredDevice = await Vault.restore({
    store: openMemoryStore(data),
    remote: traced,
    remoteUrl: 'memory:',
    recoveryCode: s.recoveryCode,
    deps: deps(300),
    snapshotEvery: false,
  });
  // Opened again, so the pull reads everything itself (a restore's read-ahead is snapshot/prefetch.test.ts's).
  await restoredDevice.close();
  const fresh = await Vault.open({ store: openMemoryStore(data), remote: traced, deps: deps(301), snapshotEvery: false });
  recording = true;
  await fresh.sync();
  await fresh.close();
  const overlapped = (a: string, b: string): boolean => seen.some((c) => (c.call === a && c.during.includes(b)) || (c.call === b && c.during.includes(a)));
  assert.ok(overlapped('list snapshots', 'list registry'), JSON.stringify(seen));
  assert.ok(overlapped('get snapshots', 'list heads'), JSON.stringify(seen));
});

test('a deleted one-write row’s history entry is the one its built registers give, without building them (fields named like the liveness register or __proto__ included)', () => {
  const stamp = fc.stringMatching(/^[0-9a-z]{9}[0-9a-f]{20}$/);
  fc.assert(
    fc.property(fc.dictionary(fc.oneof(fc.constantFrom('', '__proto__'), fc.string()), fc.jsonValue()), stamp, fc.boolean(), (drawn, updated, asText) => {
      const fields = drawn as JsonObject;
      const text = JSON.stringify(fields);
      const row = asText ? textRow('notes', 'n1', updated, true, text) : oneWriteRow('notes', 'n1', updated, fields, text, true);
      const built = { collection: 'notes', id: 'n1', fields, deleted: true, state: oneWriteState(fields, updated, true), conflicted: false, updated };
      assert.deepEqual(tombstoneEntry(row), tombstoneEntry(built));
    }),
  );
});
