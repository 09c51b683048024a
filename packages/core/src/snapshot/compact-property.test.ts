/**
 * The property of #15: any interleaving of writes, deletes, snapshots,
 * compactions and devices left unsynced past the horizon converges to the
 * reference, with no acknowledged write lost and no deleted record back.
 * The reference is the same history run on a second remote where nobody
 * ever compacts: same seeds, same clock, so the same stamps; whatever
 * compaction changed shows up as a difference.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRandom } from '../base/deps.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { Vault } from '../vault/vault.js';

const T0 = 1_767_225_600_000;
const DAY = 24 * 3600_000;
const IDS = ['r0', 'r1', 'r2', 'r3'] as const;
const DEVICES = 3;

type Action =
  | { k: 'put'; d: number; id: string; v: number }
  | { k: 'del'; d: number; id: string }
  | { k: 'sync'; d: number }
  | { k: 'snap'; d: number }
  | { k: 'compact'; d: number; grace: number }
  | { k: 'advance'; days: number };

const device = fc.integer({ min: 0, max: DEVICES - 1 });
const id = fc.constantFrom(...IDS);
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('put' as const), d: device, id, v: fc.integer({ min: 0, max: 99 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('del' as const), d: device, id }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant('sync' as const), d: device }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('snap' as const), d: device }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('compact' as const), d: device, grace: fc.constantFrom(0, 24) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('advance' as const), days: fc.constantFrom(1, 30, 100) }) },
);

/** One world: a remote and its devices, on a clock of its own that moves only with the actions. */
async function world(seed: number): Promise<{ vaults: Vault[]; tick(ms: number): void }> {
  const objects = new Map<string, Uint8Array>();
  let now = T0;
  const deps = (n: number) => ({ random: seededRandom(seed * 10 + n), now: () => now });
  const opts = { remoteUrl: 'memory:', snapshotEvery: false as const };
  const { vault, recoveryCode } = await Vault.create({ ...opts, store: openMemoryStore(), remote: openMemoryRemote(objects), deps: deps(0) });
  const vaults = [vault];
  for (let n = 1; n < DEVICES; n++)
    vaults.push(await Vault.restore({ ...opts, store: openMemoryStore(), remote: openMemoryRemote(objects), recoveryCode, deps: deps(n) }));
  return { vaults, tick: (ms) => (now += ms) };
}

/** What a device shows: live records and open conflicts. */
async function shown(v: Vault): Promise<unknown> {
  const records = (await v.list('t', { limit: 100 })).records;
  const conflicts = (await v.conflicts('t')).map((c) => ({ id: c.id, field: c.field, winner: c.winner, losers: c.losers }));
  return JSON.parse(JSON.stringify({ records, conflicts }));
}

/** Objects compaction deleted over every run: the property must have exercised it. */
let deleted = 0;

async function run(seed: number, actions: readonly Action[]): Promise<void> {
  const compacted = await world(seed);
  const reference = await world(seed);
  const both = async (fn: (w: { vaults: Vault[]; tick(ms: number): void }, isRef: boolean) => Promise<unknown>): Promise<void> => {
    await fn(compacted, false);
    await fn(reference, true);
  };
  try {
    for (const a of actions) {
      await both(async (w, isRef) => {
        w.tick(1000);
        switch (a.k) {
          case 'put':
            return w.vaults[a.d]!.put('t', a.id, { v: a.v, by: a.d });
          case 'del':
            return (await w.vaults[a.d]!.get('t', a.id)) ? w.vaults[a.d]!.delete('t', a.id) : undefined;
          case 'sync':
            return w.vaults[a.d]!.sync();
          case 'snap':
            return w.vaults[a.d]!.snapshot();
          case 'compact':
            // The reference syncs as compaction does first, and deletes nothing.
            if (isRef) return w.vaults[a.d]!.sync();
            deleted += (await w.vaults[a.d]!.compact({ graceHours: a.grace })).deleted;
            return;
          case 'advance':
            return w.tick(a.days * DAY);
        }
      });
    }
    // Everyone comes back and syncs until nothing moves.
    for (let round = 0; round < 3; round++) {
      await both(async (w) => {
        for (const v of w.vaults) await v.sync();
      });
    }
    const want = await shown(reference.vaults[0]!);
    for (const [i, v] of compacted.vaults.entries()) assert.deepEqual(await shown(v), want, `device ${i} against the reference`);
    for (const [i, v] of reference.vaults.entries()) assert.deepEqual(await shown(v), want, `reference device ${i} converged`);
  } finally {
    for (const v of [...compacted.vaults, ...reference.vaults]) await v.close();
  }
}

test(
  'property: writes, deletes, snapshots, compactions and devices away past the horizon converge to the history without compaction',
  { timeout: 600_000 },
  async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 1000 }), fc.array(action, { minLength: 20, maxLength: 60, size: 'max' }), run), {
      numRuns: Number(process.env['COMPACT_RUNS'] ?? 25),
    });
    assert.ok(deleted > 0, 'some compaction deleted something');
  },
);
