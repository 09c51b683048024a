/**
 * Retention per collection: rules sync like records, expiry is the same on
 * every device whatever order writes and expiries meet in, and a write newer
 * than an expiry wins. In-process devices on a memory remote, each with its
 * own skewed clock driven by one test time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { DAY_MS } from '../model/expiry.js';
import { stampTime } from '../model/hlc.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { newMemoryStoreData, openMemoryStore, type MemoryStoreData } from '../testing/memory-store.js';
import { FLOORS } from './retention.js';
import { Vault } from './vault.js';

const T0 = Date.UTC(2026, 11, 6, 10, 0);

/** Devices on one memory remote; device i reads `clock.t + skews[i]`. */
async function devices(skews: readonly number[], seed: number) {
  const objects = new Map<string, Uint8Array>();
  const clock = { t: T0 };
  const deps = (i: number) => ({ random: seededRandom(seed * 10 + i), now: () => clock.t + skews[i]! });
  const stores = skews.map(() => newMemoryStoreData());
  const { vault: a, recoveryCode } = await Vault.create({
    store: openMemoryStore(stores[0]),
    remote: openMemoryRemote(objects),
    remoteUrl: 'memory:',
    deps: deps(0),
  });
  const all = [a];
  for (let i = 1; i < skews.length; i++) {
    all.push(await Vault.restore({ store: openMemoryStore(stores[i]), remote: openMemoryRemote(objects), remoteUrl: 'memory:', recoveryCode, deps: deps(i) }));
  }
  const syncAll = async (passes = 2) => {
    for (let pass = 0; pass < passes; pass++) for (const v of all) await v.sync();
  };
  await syncAll();
  const reopen = async (i: number) => {
    await all[i]!.close();
    all[i] = await Vault.open({ store: openMemoryStore(stores[i]), remote: openMemoryRemote(objects), deps: deps(i) });
  };
  return { all, stores, clock, syncAll, reopen, close: () => Promise.all(all.map((v) => v.close())) };
}

const records = async (v: Vault) => (await v.list('msgs')).records;

/** The newest floor each device holds in `_kith.expired`, by record id (read from its store). */
async function floorsIn(data: MemoryStoreData): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await openMemoryStore(data).read(async (tx) => {
    for (const row of (await tx.query({ collection: FLOORS })).rows) {
      for (const [field, value] of Object.entries(row.fields)) {
        if (typeof value === 'string') out.set(field.slice(2), Math.max(out.get(field.slice(2)) ?? 0, stampTime(value)));
      }
    }
  });
  return out;
}

test(
  'a rule set on one device reaches the others; expired records vanish everywhere, also on a device offline when they expired',
  { timeout: 120_000 },
  async () => {
    const d = await devices([0, 0, 0], 1);
    try {
      const [a, b] = d.all as [Vault, Vault, Vault];
      await a.put('msgs', 'old', { text: 'old' });
      await a.put('notes', 'keep', { text: 'not ruled' });
      await d.syncAll();
      await a.setRetention('msgs', { days: 30 });
      await a.sync();
      await b.sync();
      assert.deepEqual(await b.retention(), [{ collection: 'msgs', days: 30 }]);
      d.clock.t += 20 * DAY_MS;
      await b.put('msgs', 'new', { text: 'new' });
      await d.syncAll();
      // C stays offline (closed) while the old message passes 30 days; A notices.
      await d.all[2]!.close();
      d.clock.t += 11 * DAY_MS;
      await a.sync();
      assert.deepEqual(
        (await records(a)).map((r) => r.id),
        ['new'],
      );
      await b.sync();
      assert.deepEqual(
        (await records(b)).map((r) => r.id),
        ['new'],
      );
      assert.ok(await b.get('notes', 'keep'), 'collections without a rule keep their records');
      // C comes back: it expires on open, before any sync.
      await d.reopen(2);
      assert.deepEqual(
        (await records(d.all[2]!)).map((r) => r.id),
        ['new'],
      );
      // A later real write wins over the expiry (same id, written after it).
      await d.all[2]!.put('msgs', 'old', { text: 'again' });
      await d.syncAll();
      for (const v of d.all) assert.deepEqual(await v.get('msgs', 'old'), { text: 'again', id: 'old' });
      // Off: nothing more expires.
      await b.setRetention('msgs', null);
      await d.syncAll();
      d.clock.t += 100 * DAY_MS;
      await d.syncAll();
      for (const v of d.all)
        assert.deepEqual(
          (await records(v)).map((r) => r.id),
          ['new', 'old'],
        );
      for (const v of d.all) assert.deepEqual(await v.retention(), []);
    } finally {
      await d.close();
    }
  },
);

test('setRetention refuses bad input and reserved names, and changes nothing', async () => {
  const d = await devices([0], 2);
  try {
    const [a] = d.all as [Vault];
    for (const rule of [{ days: 0 }, { days: 1.5 }, { days: -1 }, { days: 40_000 }, { days: '3' as unknown as number }]) {
      await assert.rejects(a.setRetention('msgs', rule), (e) => e instanceof KithError && e.code === ErrorCode.BadInput);
    }
    for (const name of ['_kith.retention', '_kith.expired', '../x', '']) {
      await assert.rejects(a.setRetention(name, { days: 1 }), (e) => e instanceof KithError && e.code === ErrorCode.BadName);
    }
    await assert.rejects(a.put('_kith.retention', 'msgs', { days: 1 }), (e) => e instanceof KithError && e.code === ErrorCode.BadName);
    assert.deepEqual(await a.retention(), []);
  } finally {
    await d.close();
  }
});

test('two devices publishing different floors for one record agree on the higher one, and list no conflict', { timeout: 120_000 }, async () => {
  const d = await devices([0, 0], 3);
  try {
    const [a, b] = d.all as [Vault, Vault];
    await a.setRetention('msgs', { days: 1 });
    await a.put('msgs', 'm', { text: 'first' });
    await d.syncAll();
    d.clock.t += 3_600_000;
    await b.patch('msgs', 'm', { text: 'second' }); // not pushed: A never sees it before expiring
    d.clock.t += 2 * DAY_MS;
    await a.sync(); // A expires at first + 1 day and publishes it
    await d.reopen(1); // B expires on open, before pulling: at second + 1 day
    await d.syncAll();
    const floors = await Promise.all(d.stores.map(floorsIn));
    assert.deepEqual(floors[0], floors[1]);
    for (const v of d.all) {
      assert.deepEqual(await records(v), []);
      assert.deepEqual(await v.conflicts(), []);
      assert.equal((await v.status()).conflicts, 0);
    }
  } finally {
    await d.close();
  }
});

test('a sync with nothing to expire reports no local change (auto-sync would answer it with another sync)', { timeout: 60_000 }, async () => {
  const d = await devices([0], 4);
  try {
    const [a] = d.all as [Vault];
    await a.setRetention('msgs', { days: 1 });
    await a.put('msgs', 'm', { text: 'fresh' });
    await a.sync();
    const local: string[][] = [];
    const off = a.on('change', (e) => e.source === 'local' && local.push([...e.collections]));
    await a.sync();
    await a.sync();
    off();
    assert.deepEqual(local, []);
  } finally {
    await d.close();
  }
});

type Cmd = { kind: 'put' | 'patch' | 'delete' | 'sync' | 'reopen'; dev: number; id: string; advance: number; value: number };

test(
  'retention (property): random writes, syncs and clocks on 2-3 devices end with the same records everywhere; no floor before its time; a write newer than every expiry wins',
  { timeout: 900_000 },
  async () => {
    const cmd = fc.record({
      kind: fc.constantFrom<Cmd['kind']>('put', 'put', 'patch', 'delete', 'sync', 'sync', 'reopen'),
      dev: fc.integer({ min: 0, max: 2 }),
      id: fc.constantFrom('a', 'b', 'c'),
      // Up to 1.5 days between steps, under a 1-day rule: gaps both shorter and longer than the horizon.
      advance: fc.integer({ min: 0, max: 36 }).map((h) => h * 3_600_000),
      value: fc.integer({ min: 0, max: 9 }),
    });
    const skew = fc.integer({ min: -3, max: 3 }).map((h) => h * 3_600_000);
    let seed = 1000;
    await fc.assert(
      fc.asyncProperty(fc.array(skew, { minLength: 2, maxLength: 3 }), fc.array(cmd, { minLength: 1, maxLength: 25 }), async (skews, cmds) => {
        const d = await devices(skews, seed++);
        try {
          await d.all[0]!.setRetention('msgs', { days: 1 });
          await d.syncAll();
          /** Every write that took effect where it was made: record id → [stamp ms, full stamp, alive after it]. */
          const writes = new Map<string, { stamp: string; alive: boolean; value?: number }[]>();
          let maxClock = 0;
          for (const c of cmds) {
            const dev = c.dev % skews.length;
            d.clock.t += c.advance;
            maxClock = Math.max(maxClock, ...skews.map((s) => d.clock.t + s));
            const v = d.all[dev]!;
            try {
              if (c.kind === 'put') await v.put('msgs', c.id, { n: c.value, by: dev });
              else if (c.kind === 'patch') await v.patch('msgs', c.id, { n: c.value });
              else if (c.kind === 'delete') await v.delete('msgs', c.id);
              else if (c.kind === 'sync') await v.sync();
              else await d.reopen(dev);
            } catch (e) {
              if (e instanceof KithError && e.code === ErrorCode.NotFound) continue;
              throw e;
            }
            if (c.kind === 'put' || c.kind === 'patch' || c.kind === 'delete') {
              const [entry] = await v.log({ collection: 'msgs', id: c.id, limit: 1 });
              const list = writes.get(c.id) ?? [];
              list.push({ stamp: entry!.stamp, alive: c.kind !== 'delete' });
              writes.set(c.id, list);
            }
          }
          await d.syncAll(3);
          // 1. Every device holds the same records.
          const seen = await Promise.all(d.all.map(records));
          for (const r of seen.slice(1)) assert.deepEqual(r, seen[0]);
          // The same floors, too (what decides every later write).
          const floors = await Promise.all(d.stores.map(floorsIn));
          for (const f of floors.slice(1)) assert.deepEqual(f, floors[0]);
          for (const [id, ws] of writes) {
            const floor = floors[0]!.get(id);
            const newest = ws.reduce((x, y) => (y.stamp > x.stamp ? y : x));
            if (floor !== undefined) {
              // 2. No floor ahead of every clock, and each one is a real write's stamp plus the rule's days.
              assert.ok(floor <= maxClock, `${id}: expired at ${new Date(floor).toISOString()}, after every clock`);
              assert.ok(
                ws.some((w) => stampTime(w.stamp) + DAY_MS === floor),
                `${id}: floor ${new Date(floor).toISOString()} is not a write's time plus one day`,
              );
            }
            // 3. A write newer than every expiry wins: the record is as that newest write left it.
            const alive = seen[0]!.some((r) => r.id === id);
            if (floor === undefined || stampTime(newest.stamp) > floor) {
              const due = stampTime(newest.stamp) + DAY_MS <= Math.min(...skews.map((s) => d.clock.t + s));
              if (!due) assert.equal(alive, newest.alive, `${id}: newest write ${newest.stamp} (alive: ${newest.alive}) not honoured`);
            } else assert.equal(alive, false, `${id}: every write is older than its expiry, yet it is alive`);
            // 4. What every clock says is expired is gone everywhere.
            if (stampTime(newest.stamp) + DAY_MS <= Math.min(...skews.map((s) => d.clock.t + s))) assert.equal(alive, false, `${id}: due, yet alive`);
          }
        } finally {
          await d.close();
        }
      }),
      { numRuns: 30 },
    );
  },
);
