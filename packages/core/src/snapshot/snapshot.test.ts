import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, KithError } from '../base/errors.js';
import { seededRandom } from '../base/deps.js';
import type { Remote } from '../ports/remote.js';
import type { Store } from '../ports/store.js';
import { countingRemote } from '../ports/counting.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { Vault } from '../vault/vault.js';
import { snapshotKeys } from '../format/snapshot.js';

const T0 = 1_767_225_600_000;
let tick = 0;
/** Deterministic randomness, and a clock that moves on every read (snapshot keys are per ms). */
const deps = (seed: number) => ({ random: seededRandom(seed), now: () => T0 + ++tick });

/** The same objects, with `snapshots/` hidden from listings: a device on it replays the full history. */
function withoutSnapshots(objects: Map<string, Uint8Array>): Remote {
  const base = openMemoryRemote(objects);
  return { ...base, list: async (prefix, o) => (prefix.startsWith(snapshotKeys.prefix) ? [] : base.list(prefix, o)) };
}

/** Every row of `collection` among `ids` (deleted ones too) with its merge state, as plain JSON; independent of how snapshots find rows. */
async function dump(store: Store, collection: string, ids: readonly string[]): Promise<unknown> {
  const rows = await store.read((tx) => tx.getRecords(collection, ids));
  return JSON.parse(JSON.stringify(ids.filter((id) => rows.has(id)).map((id) => rows.get(id))));
}

async function restore(remote: Remote, recoveryCode: string, seed: number, store = openMemoryStore()): Promise<{ vault: Vault; store: Store }> {
  const vault = await Vault.restore({ store, remote, remoteUrl: 'memory:', recoveryCode, deps: deps(seed), snapshotEvery: false });
  return { vault, store };
}

test('a new device bootstraps from a snapshot plus the tail: same rows, conflicts and tombstones as a full replay, fewer bytes', async () => {
  const objects = new Map<string, Uint8Array>();
  const aStore = openMemoryStore();
  const { vault: a, recoveryCode } = await Vault.create({
    store: aStore,
    remote: openMemoryRemote(objects),
    remoteUrl: 'memory:',
    deps: deps(1),
    snapshotEvery: false,
  });
  const { vault: b } = await restore(openMemoryRemote(objects), recoveryCode, 2);
  const rand = seededRandom(99);
  for (let round = 0; round < 8; round++) {
    for (let i = 0; i < 40; i++) await a.put('notes', `n${i}`, { title: `note ${i} v${round}`, body: Buffer.from(rand(100)).toString('hex') });
    await a.sync();
  }
  for (let i = 0; i < 5; i++) await a.delete('notes', `n${i}`);
  await a.sync();
  await b.sync();
  // Concurrent edits: a conflict on n10, a patch meeting a delete on n11.
  await a.patch('notes', 'n10', { title: 'from a' });
  await b.patch('notes', 'n10', { title: 'from b' });
  await a.delete('notes', 'n11');
  await b.patch('notes', 'n11', { title: 'kept by b' });
  await a.sync();
  await b.sync();
  await a.sync();
  const snap = await a.snapshot();
  assert.match(snap.snapshot, /^snapshots\/\d{16}-[0-9a-f]{16}$/);
  assert.equal(snap.records, 35);
  assert.ok(snap.uploaded > 0 && snap.bytes > 0);
  // The tail: writes after the snapshot, one of them concurrent with a delete.
  await b.delete('notes', 'n12');
  await a.patch('notes', 'n12', { title: 'after the snapshot' });
  await a.put('notes', 'late', { title: 'late' });
  await b.sync();
  await a.sync();

  const counted = countingRemote(openMemoryRemote(objects));
  const fresh = await restore(counted, recoveryCode, 3);
  const r = await fresh.vault.sync();
  assert.equal(r.warnings, undefined);
  const replay = countingRemote(withoutSnapshots(objects));
  const full = await restore(replay, recoveryCode, 4);
  await full.vault.sync();
  const ids = [...Array.from({ length: 40 }, (_, i) => `n${i}`), 'late'];
  assert.deepEqual(await dump(fresh.store, 'notes', ids), await dump(full.store, 'notes', ids));
  assert.deepEqual(await dump(fresh.store, 'notes', ids), await dump(aStore, 'notes', ids));
  assert.ok(counted.stats.bytesReceived < replay.stats.bytesReceived / 2, `${counted.stats.bytesReceived} vs ${replay.stats.bytesReceived}`);
  assert.ok((await fresh.vault.status()).conflicts > 0);

  // A second snapshot after a small change sends only the changed chunks.
  await a.patch('notes', 'n20', { title: 'one change' });
  const again = await a.snapshot();
  assert.ok(again.uploaded < again.bytes / 3, `uploaded ${again.uploaded} of ${again.bytes}`);
  for (const v of [a, b, fresh.vault, full.vault]) await v.close();
});

test('property: bootstrap from a snapshot at any point plus the tail equals a full replay, on 2–3 devices with deletes and conflicts', async () => {
  const id = fc.integer({ min: 0, max: 3 });
  const action = fc.oneof(
    { weight: 4, arbitrary: fc.record({ k: fc.constant('put' as const), d: fc.nat(2), id, v: fc.integer({ min: 0, max: 9 }) }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('patch' as const), d: fc.nat(2), id, v: fc.integer({ min: 0, max: 9 }) }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('delete' as const), d: fc.nat(2), id }) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant('sync' as const), d: fc.nat(2) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('snapshot' as const), d: fc.nat(2) }) },
  );
  let withSnapshot = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 2, max: 3 }),
      fc.array(action, { minLength: 10, maxLength: 40 }),
      fc.array(action, { maxLength: 15 }),
      async (n, before, after) => {
        const objects = new Map<string, Uint8Array>();
        const { vault: first, recoveryCode } = await Vault.create({
          store: openMemoryStore(),
          remote: openMemoryRemote(objects),
          remoteUrl: 'memory:',
          deps: deps(10),
          snapshotEvery: false,
        });
        const devices = [first];
        for (let i = 1; i < n; i++) devices.push((await restore(openMemoryRemote(objects), recoveryCode, 10 + i)).vault);
        const run = async (acts: typeof before, vaults: Vault[]) => {
          for (const x of acts) {
            const v = vaults[x.d % vaults.length]!;
            try {
              if (x.k === 'put') await v.put('c', `r${x.id}`, { f: x.v, g: x.id });
              else if (x.k === 'patch') await v.patch('c', `r${x.id}`, { f: x.v });
              else if (x.k === 'delete') await v.delete('c', `r${x.id}`);
              else if (x.k === 'sync') await v.sync();
              else await v.snapshot();
            } catch (e) {
              if (!KithError.is(e, ErrorCode.NotFound)) throw e; // a patch or delete of a record this device does not hold
            }
          }
        };
        await run(before, devices);
        const boot = await restore(openMemoryRemote(objects), recoveryCode, 20);
        const full = await restore(withoutSnapshots(objects), recoveryCode, 21);
        if ([...objects.keys()].some((k) => k.startsWith(snapshotKeys.prefix))) withSnapshot++;
        assert.equal((await boot.vault.sync()).warnings, undefined);
        await full.vault.sync();
        // More concurrent history after the new devices started; everyone syncs to the end.
        await run(after, devices);
        for (let round = 0; round < 2; round++) for (const v of [...devices, boot.vault, full.vault]) await v.sync();
        const ids = Array.from({ length: 4 }, (_, i) => `r${i}`);
        assert.deepEqual(await dump(boot.store, 'c', ids), await dump(full.store, 'c', ids));
        for (const v of [...devices, boot.vault, full.vault]) await v.close();
      },
    ),
    { numRuns: 30 },
  );
  assert.ok(withSnapshot >= 5, `only ${withSnapshot} runs bootstrapped from a snapshot`);
});
