/**
 * `vault.delivery()`: acknowledgements carried by signed heads, read back
 * as "has your changes until". In-process devices on a memory remote with
 * one injected clock, so every time is exact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { remoteKeys } from '../format/index.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { newMemoryStoreData, openMemoryStore } from '../testing/memory-store.js';
import { Vault } from './vault.js';
import type { DeviceDelivery } from './delivery.js';

const T0 = Date.UTC(2026, 11, 6, 10, 0);
const iso = (ms: number): string => new Date(ms).toISOString();

/** Devices A, B (and C) on one memory remote, sharing a clock that only moves when told. */
async function devices(n: number, seed: number) {
  const objects = new Map<string, Uint8Array>();
  const clock = { t: T0 };
  const deps = (i: number) => ({ random: seededRandom(seed * 10 + i), now: () => clock.t });
  const stores = Array.from({ length: n }, () => newMemoryStoreData());
  const { vault: a, recoveryCode } = await Vault.create({
    store: openMemoryStore(stores[0]),
    remote: openMemoryRemote(objects),
    remoteUrl: 'memory:',
    deviceName: 'd0',
    deps: deps(0),
  });
  const all = [a];
  for (let i = 1; i < n; i++) {
    all.push(
      await Vault.restore({
        store: openMemoryStore(stores[i]),
        remote: openMemoryRemote(objects),
        remoteUrl: 'memory:',
        deviceName: `d${i}`,
        recoveryCode,
        deps: deps(i),
      }),
    );
  }
  // Everyone learns of everyone (the joins are registry entries).
  for (let pass = 0; pass < 2; pass++) for (const v of all) await v.sync();
  return { all, stores, objects, clock, close: () => Promise.all(all.map((v) => v.close())) };
}

const of = (list: DeviceDelivery[], deviceId: string): DeviceDelivery => {
  const d = list.find((x) => x.deviceId === deviceId);
  assert.ok(d, `device ${deviceId} listed`);
  return d;
};

/** At `at`, A writes record `id` and syncs, then B syncs (applies it, and publishes that in its head). */
async function writeThenDeliver(a: Vault, b: Vault, clock: { t: number }, at: number, id: string): Promise<void> {
  clock.t = at;
  await a.put('notes', id, { title: id });
  await a.sync();
  await b.sync();
}

test('delivery: after B syncs, A sees B has everything A wrote until its last write; after A writes more, the older time', async () => {
  const { all, objects, clock, close } = await devices(2, 1);
  const [a, b] = all as [Vault, Vault];
  try {
    clock.t = T0 + 60_000;
    await a.put('notes', 'n1', { title: 'one' });
    await a.sync();
    // B has not pulled yet: nothing of A's acknowledged.
    assert.deepEqual(await a.delivery(), [{ deviceId: b.deviceId, name: 'd1', lastSeen: iso(T0), hasYourChangesUntil: null, hasEverything: false }]);
    clock.t = T0 + 120_000;
    await b.sync(); // applies n1, then rewrites its head with the acknowledgement
    clock.t = T0 + 180_000;
    await a.sync(); // reads that head
    assert.deepEqual(await a.delivery(), [
      { deviceId: b.deviceId, name: 'd1', lastSeen: iso(T0 + 120_000), hasYourChangesUntil: iso(T0 + 60_000), hasEverything: true },
    ]);
    // A writes more; B does not sync: still the older time, no longer everything (pending, then pushed).
    clock.t = T0 + 240_000;
    await a.put('notes', 'n2', { title: 'two' });
    assert.equal(of(await a.delivery(), b.deviceId).hasEverything, false);
    await a.sync();
    const d = of(await a.delivery(), b.deviceId);
    assert.equal(d.hasYourChangesUntil, iso(T0 + 60_000));
    assert.equal(d.hasEverything, false);
    // An idle round trip writes no head (a new pull time alone does not move acknowledgements).
    const headB = objects.get(remoteKeys.head(b.deviceId));
    clock.t = T0 + 300_000;
    await b.pull();
    await b.push();
    assert.notDeepEqual(objects.get(remoteKeys.head(b.deviceId)), headB, 'B applied n2: its head moved');
    const moved = objects.get(remoteKeys.head(b.deviceId));
    await b.sync();
    await a.sync();
    await b.sync();
    assert.equal(objects.get(remoteKeys.head(b.deviceId)), moved, 'nothing new applied: B did not rewrite its head');
    assert.equal(of(await a.delivery(), b.deviceId).hasYourChangesUntil, iso(T0 + 240_000));
    // B's view of A: A has applied nothing of B (B wrote nothing): null, but everything.
    assert.deepEqual(of(await b.delivery(), a.deviceId), {
      deviceId: a.deviceId,
      name: 'd0',
      lastSeen: iso(T0 + 240_000),
      hasYourChangesUntil: null,
      hasEverything: true,
    });
  } finally {
    await close();
  }
});

test('delivery: an older head of B served again takes no acknowledgement back; a tampered one is refused as corrupt', async () => {
  const { all, objects, clock, close } = await devices(2, 2);
  const [a, b] = all as [Vault, Vault];
  try {
    await writeThenDeliver(a, b, clock, T0 + 60_000, 'n1');
    const older = objects.get(remoteKeys.head(b.deviceId))!; // acknowledges n1's segment
    await writeThenDeliver(a, b, clock, T0 + 120_000, 'n2');
    await a.sync();
    assert.equal(of(await a.delivery(), b.deviceId).hasYourChangesUntil, iso(T0 + 120_000));
    const good = objects.get(remoteKeys.head(b.deviceId))!;
    // The remote replays B's older head (validly signed, acknowledging less of A).
    objects.set(remoteKeys.head(b.deviceId), older);
    await a.sync();
    assert.equal(of(await a.delivery(), b.deviceId).hasYourChangesUntil, iso(T0 + 120_000), 'never goes back');
    // The remote raises B's acknowledgement of A by one: the signature no longer holds.
    const forged = good.slice();
    forged[forged.length - 65]! += 1;
    objects.set(remoteKeys.head(b.deviceId), forged);
    await assert.rejects(a.sync(), (e: unknown) => KithError.is(e, ErrorCode.IntegrityCorrupt));
    assert.equal(of(await a.delivery(), b.deviceId).hasYourChangesUntil, iso(T0 + 120_000));
  } finally {
    await close();
  }
});

test('delivery: segments pushed before write times were kept get their time from the kept bytes', async () => {
  const { all, stores, clock, close } = await devices(2, 4);
  const [a, b] = all as [Vault, Vault];
  try {
    await writeThenDeliver(a, b, clock, T0 + 60_000, 'n1');
    // As a store of the previous version: no write times recorded.
    stores[0]!.meta.delete('acks.written');
    await a.sync();
    assert.equal(of(await a.delivery(), b.deviceId).hasYourChangesUntil, iso(T0 + 60_000));
    assert.equal(stores[0]!.meta.get('acks.written'), JSON.stringify([[1, T0 + 60_000]]), 'found once, then kept');
  } finally {
    await close();
  }
});

/** The devices a version 3 head acknowledges, read from its bytes (layout in docs/FORMAT.md, Head). */
function acknowledged(head: Uint8Array): string[] {
  assert.equal(head[5], 3);
  let at = 6 + 8 + 8 + 32 + 8 + 32 + 8 + 8;
  const n = (head[at]! << 8) | head[at + 1]!;
  at += 2;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(Buffer.from(head.subarray(at, at + 8)).toString('hex'));
    at += 8;
    while (head[at++]! & 0x80);
  }
  return out;
}

test('delivery: a revoked device leaves the list, and the heads: they acknowledge active devices only', async () => {
  const { all, objects, close } = await devices(3, 3);
  const [a, b, c] = all as [Vault, Vault, Vault];
  try {
    await c.put('notes', 'c1', { from: 'tablet' });
    await c.sync();
    await b.put('notes', 'b1', { from: 'phone' });
    await b.sync();
    await a.sync();
    assert.deepEqual(acknowledged(objects.get(remoteKeys.head(a.deviceId))!), [b.deviceId, c.deviceId].sort());
    assert.deepEqual((await a.delivery()).map((d) => d.deviceId).sort(), [b.deviceId, c.deviceId].sort());
    await a.devices.revoke(c.deviceId);
    assert.deepEqual(
      (await a.delivery()).map((d) => d.deviceId),
      [b.deviceId],
    );
    await a.sync();
    assert.deepEqual(acknowledged(objects.get(remoteKeys.head(a.deviceId))!), [b.deviceId], "the revoked device's entry is gone from A's head");
    await b.sync();
    assert.deepEqual(
      (await b.delivery()).map((d) => d.deviceId),
      [a.deviceId],
    );
  } finally {
    await close();
  }
});

type Cmd = { kind: 'write' | 'push' | 'pull' | 'sync'; dev: number };
const ackedThenWroteMore: Cmd[] = [
  { kind: 'write', dev: 0 },
  { kind: 'sync', dev: 0 },
  { kind: 'sync', dev: 1 },
  { kind: 'write', dev: 0 },
  { kind: 'sync', dev: 0 },
];

test(
  'delivery (property): what a device says another has of it never goes back, and that device really holds every write up to then',
  { timeout: 600_000 },
  async () => {
    const cmd = fc.record({ kind: fc.constantFrom<Cmd['kind']>('write', 'write', 'push', 'pull', 'sync'), dev: fc.integer({ min: 0, max: 2 }) });
    let seed = 100;
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { minLength: 1, maxLength: 30, size: 'medium' }), async (cmds) => {
        const { all, clock, close } = await devices(3, seed++);
        try {
          /** writes[x]: [record id, write time] of every write of device x, in order. */
          const writes: [string, number][][] = all.map(() => []);
          const said = new Map<string, number>(); // "x→y" → the last hasYourChangesUntil (ms): monotone
          for (const [i, c] of cmds.entries()) {
            clock.t += 1000;
            const v = all[c.dev]!;
            if (c.kind === 'write') {
              await v.put('notes', `d${c.dev}-${i}`, { at: clock.t });
              writes[c.dev]!.push([`d${c.dev}-${i}`, clock.t]);
            } else await v[c.kind]();
            for (const [x, vx] of all.entries()) {
              const pushedUpTo = writes[x]!.length - (await vx.status()).pending;
              const pushedTimes = writes[x]!.slice(0, pushedUpTo).map(([, t]) => t);
              for (const d of await vx.delivery()) {
                const key = `${x}→${d.deviceId}`;
                const until = d.hasYourChangesUntil === null ? undefined : Date.parse(d.hasYourChangesUntil);
                const before = said.get(key);
                if (before !== undefined) assert.ok(until !== undefined && until >= before, `${key} went back from ${iso(before)} to ${d.hasYourChangesUntil}`);
                if (until === undefined) continue;
                said.set(key, until);
                // Never more than was pushed, and the other device holds every write up to then.
                assert.ok(until <= Math.max(...pushedTimes), `${key}: ${d.hasYourChangesUntil} is past what was pushed`);
                const y = all.find((w) => w.deviceId === d.deviceId)!;
                for (const [id, t] of writes[x]!) if (t <= until) assert.ok(await y.get('notes', id), `${key}: says ${id} is delivered, it is not`);
              }
            }
          }
          // Once everyone syncs twice over, every device has everything of every other, until its last write.
          for (let pass = 0; pass < 2; pass++) for (const v of all) await v.sync();
          for (const [x, vx] of all.entries()) {
            const last = writes[x]!.at(-1)?.[1];
            for (const d of await vx.delivery()) {
              assert.equal(d.hasEverything, true, `${x}→${d.deviceId}`);
              assert.equal(d.hasYourChangesUntil, last === undefined ? null : iso(last), `${x}→${d.deviceId}`);
            }
          }
        } finally {
          await close();
        }
      }),
      {
        numRuns: 40,
        // The case that tells an acknowledged seq from the newest write: B acknowledges w1, then A pushes w2 before B syncs again.
        examples: [[ackedThenWroteMore]],
      },
    );
  },
);
