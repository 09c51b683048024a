import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../base/deps.js';
import { ErrorCode } from '../base/errors.js';
import { remoteKeys, snapshotKeys } from '../format/index.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import { openMemoryStore } from '../testing/memory-store.js';
import { Vault } from '../vault/vault.js';

const T0 = 1_767_225_600_000;
const HOUR = 3600_000;
const DAY = 24 * HOUR;
void DAY;
/** One clock for every device of a test, moved by hand (plus a tick per read: snapshot keys are per ms). */
function clock() {
  let now = T0;
  return { now: () => ++now, advance: (ms: number) => (now += ms) };
}
const segmentsOf = (objects: Map<string, Uint8Array>, device: string): number[] =>
  [...objects.keys()].filter((k) => k.startsWith(remoteKeys.segmentPrefix(device))).map((k) => Number(k.slice(-12)));
const snapshotsIn = (objects: Map<string, Uint8Array>): string[] => [...objects.keys()].filter((k) => k.startsWith(snapshotKeys.prefix));

async function twoDevices() {
  const objects = new Map<string, Uint8Array>();
  const c = clock();
  const opts = { remoteUrl: 'memory:', snapshotEvery: false as const };
  const { vault: a, recoveryCode } = await Vault.create({
    ...opts,
    store: openMemoryStore(),
    remote: openMemoryRemote(objects),
    deps: { random: seededRandom(1), now: c.now },
  });
  const b = await Vault.restore({
    ...opts,
    store: openMemoryStore(),
    remote: openMemoryRemote(objects),
    recoveryCode,
    deps: { random: seededRandom(2), now: c.now },
  });
  return { objects, c, a, b, recoveryCode, opts };
}

test('compact deletes only what a snapshot older than the grace period covers and every active device acknowledged, never a newest segment', async () => {
  const { objects, c, a, b } = await twoDevices();
  for (let i = 0; i < 5; i++) {
    await a.put('notes', `a${i}`, { i });
    await a.sync();
    await b.put('notes', `b${i}`, { i });
    await b.sync();
  }
  await a.sync();
  await a.snapshot();
  // Younger than the grace period: nothing goes.
  assert.equal((await a.compact()).deleted, 0);
  c.advance(25 * HOUR);
  // B has not acknowledged A's last segments yet... it syncs first, so both have everything.
  await b.sync();
  const dry = await a.compact({ dryRun: true });
  assert.ok(dry.deleted > 0, JSON.stringify(dry));
  const before = new Map(objects);
  assert.deepEqual([...objects.keys()].sort(), [...before.keys()].sort(), 'a dry run deletes nothing');
  const real = await a.compact();
  assert.equal(real.deleted, dry.deleted);
  assert.ok(real.bytes > 0);
  for (const v of [a, b]) assert.deepEqual(segmentsOf(objects, v.deviceId).length, 1, 'only the newest segment of each device stays');
  await assert.rejects(a.compact({ graceHours: -1 }), (e: unknown) => (e as { code?: string }).code === ErrorCode.BadInput);
  // Both go on syncing as before.
  await a.put('notes', 'after', { x: 1 });
  await a.sync();
  await b.sync();
  assert.deepEqual((await b.get('notes', 'after'))?.['x'], 1);
  assert.equal(snapshotsIn(objects).length, 1);
  await a.close();
  await b.close();
});
