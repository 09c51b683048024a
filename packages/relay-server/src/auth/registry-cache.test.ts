import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestVault, startTestRelay, type TestRelay, type TestVault } from '../testing/test-vaults.js';
import type { ObjectDb } from '../object-db.js';
import type { RunningRelay } from '../index.js';
import { silentLogger } from '../relay-log.js';
import type { RelayStorage } from '../relay-storage.js';
import { RegistryCache } from './registry-cache.js';

/**
 * The cache under test reads the same storage as a relay, as a second relay
 * process would: entries the relay stores are "another process's", and
 * only a storage check (or a notice) can bring them.
 */
describe('registry cache: trust window', () => {
  let served: TestRelay;
  let db: ObjectDb;
  let relay: RunningRelay;
  let names = 0;
  before(async () => {
    served = await startTestRelay();
    ({ relay, db } = served);
  });
  after(() => served.stop());

  /** A vault with two devices, a cache with a controllable bus and clock, and the cache's view checked once. */
  async function setup(
    trustMs = 1000,
  ): Promise<{ tv: TestVault; cache: RegistryCache; bus: { continuity: number | undefined }; clock: { now: number }; seq: () => Promise<number | undefined> }> {
    const name = `t${++names}`;
    const tv = await createTestVault(relay.url, name, { devices: 2 });
    const bus: { continuity: number | undefined } = { continuity: 0 };
    const clock = { now: 1_000_000 };
    const cache = new RegistryCache(db, silentLogger, () => undefined, { ms: trustMs, continuity: () => bus.continuity, now: () => clock.now });
    const seq = async () => (await cache.current(name))?.seq;
    assert.equal(await seq(), 2);
    assert.equal(await seq(), 2); // the check above found nothing new: trusted from here
    return { tv, cache, bus, clock, seq };
  }

  test('within the window, with the bus up and no notice, storage is not asked', async () => {
    const { tv, seq } = await setup();
    await tv.revoke(1);
    assert.equal(await seq(), 2, 'the revocation stored elsewhere is not seen yet');
  });

  test('a registry notice ends the trust at once', async () => {
    const { tv, cache, seq } = await setup();
    await tv.revoke(1);
    cache.distrust(`t${names}`);
    assert.equal(await seq(), 3);
    const replay = await cache.current(`t${names}`);
    assert.equal(replay?.signPubOf(tv.devices[1]!.deviceId), undefined, 'the revoked device is refused');
  });

  test('lost notices (bus down, reconnected, missed changes) and the end of the window each end the trust', async () => {
    const cases: [string, (s: Awaited<ReturnType<typeof setup>>) => void][] = [
      ['bus down', (s) => (s.bus.continuity = undefined)],
      ['bus reconnected', (s) => (s.bus.continuity = 1)],
      ['missed changes', (s) => s.cache.distrustAll()],
      ['window over', (s) => (s.clock.now += 1000)],
    ];
    for (const [what, end] of cases) {
      const s = await setup();
      await s.tv.revoke(1);
      assert.equal(await s.seq(), 2, `${what}: trusted before`);
      end(s);
      assert.equal(await s.seq(), 3, `${what}: storage asked`);
    }
  });

  test('a check that overlaps a notice does not start a trust window', async () => {
    const name = `t${++names}`;
    const tv = await createTestVault(relay.url, name, { devices: 2 });
    let onHead = (): void => undefined;
    // Storage as the cache sees it, with a notice landing while a check is in flight.
    const storage: RelayStorage = {
      put: db.put.bind(db),
      get: db.get.bind(db),
      getMany: db.getMany.bind(db),
      head: (vault, key) => (onHead(), db.head(vault, key)),
      list: db.list.bind(db),
      delete: db.delete.bind(db),
      claim: db.claim.bind(db),
      close: () => Promise.resolve(),
    };
    const cache = new RegistryCache(storage, silentLogger, () => undefined, { ms: 60_000, continuity: () => 0 });
    await cache.current(name);
    cache.distrust(name); // a first notice: the next request checks storage...
    onHead = () => cache.distrust(name); // ...and a second lands during that check
    await cache.current(name); // the check overlapped a notice: it proves nothing about the entry announced
    onHead = () => undefined;
    await tv.revoke(1);
    assert.equal((await cache.current(name))?.seq, 3);
  });

  test('checks made in one turn of the event loop share one look at storage, made after they all arrived', async () => {
    const name = `t${++names}`;
    const tv = await createTestVault(relay.url, name, { devices: 2 });
    let heads = 0;
    const storage: RelayStorage = { ...bound(db), head: (vault, key) => (heads++, db.head(vault, key)) };
    const cache = new RegistryCache(storage, silentLogger, () => undefined);
    assert.equal((await cache.current(name))?.seq, 2);
    await tv.revoke(1); // stored elsewhere before the checks come: each of them must see it
    heads = 0;
    const seen = await Promise.all(Array.from({ length: 5 }, () => cache.current(name)));
    assert.ok(
      seen.every((r) => r?.seq === 3),
      'each check sees the entry stored before it came',
    );
    assert.ok(heads <= 3, `${heads} lookups for 5 checks (one look, and the catch-up's own)`);
    heads = 0;
    await Promise.all(Array.from({ length: 5 }, () => cache.current(name)));
    assert.equal(heads, 1, 'five checks of one turn, one lookup');
  });

  test('without a trust window every check asks storage', async () => {
    const name = `t${++names}`;
    const tv = await createTestVault(relay.url, name, { devices: 2 });
    const cache = new RegistryCache(db, silentLogger, () => undefined);
    assert.equal((await cache.current(name))?.seq, 2);
    await tv.revoke(1);
    assert.equal((await cache.current(name))?.seq, 3);
  });
});

/** `db`'s methods as a plain storage object, to override one of them. */
function bound(db: ObjectDb): RelayStorage {
  return {
    put: db.put.bind(db),
    get: db.get.bind(db),
    getMany: db.getMany.bind(db),
    head: db.head.bind(db),
    list: db.list.bind(db),
    delete: db.delete.bind(db),
    claim: db.claim.bind(db),
    close: () => Promise.resolve(),
  };
}
