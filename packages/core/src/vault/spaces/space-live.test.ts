import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WarningCode, type SyncWarning } from '../../base/warnings.js';
import { formatLocal } from '../../model/hlc.js';
import { openSpaceEpochKey } from '../../spaces/epochs.js';
import { writeSpaceSegment, SPACE_CHAIN_START } from '../../spaces/space-segments.js';
import { openVault } from '../open.js';
import { Records } from '../records.js';
import { Vault } from '../vault.js';
import { SpaceHub } from './hub.js';
import { invite, newPerson, World, type Device } from './people.test.support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (generously: the machine may be loaded) until `check` holds. */
async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

const has = (v: Vault, space: string, id: string) => async () => (await v.space(space).get('notes', id)) !== undefined;

test(
  'auto-sync watches every kept space: writes cross without a sync call; a space turned off, or removed from, stops being watched; one joined later is watched without a restart',
  { timeout: 180_000 },
  async () => {
    const world = new World();
    world.watchable = true;
    const a = await newPerson(world, 'ana', 31);
    const b = await newPerson(world, 'ben', 32);
    const autos: { stop(): Promise<void> }[] = [];
    try {
      const club = await a.vault.spaces.create('Club');
      await invite(a.vault, 'Club', b.vault, 'writer', 'Ben');
      await a.vault.sync();
      await b.vault.sync();
      const clubUrl = `memory://ana/spaces/${club.spaceId}`;
      // An hour between rounds: only pushes and local writes start them.
      const warnings: SyncWarning[] = [];
      b.vault.on('synced', (r) => warnings.push(...(r.warnings ?? [])));
      autos.push(a.vault.startAutoSync({ intervalMs: 3_600_000 }), b.vault.startAutoSync({ intervalMs: 3_600_000 }));
      // Counted per device: a total can be reached by one device's watches while the other's are still being set up.
      const watches = (url: string, by: 'ana' | 'ben') => world.watching(url, by);
      await eventually('both devices watch the space', () => watches(clubUrl, 'ana') > 0 && watches(clubUrl, 'ben') > 0);

      await a.vault.space('Club').put('notes', 'a1', { text: 'from ana' });
      await eventually('ben has ana’s record', has(b.vault, 'Club', 'a1'));
      await b.vault.space('Club').put('notes', 'b1', { text: 'from ben' });
      await eventually('ana has ben’s record', has(a.vault, 'Club', 'b1'));

      // Turned off on ben's device: no longer watched there (ana still watches it).
      const [anas, bens] = [watches(clubUrl, 'ana'), watches(clubUrl, 'ben')];
      await b.vault.spaces.setSynced('Club', false);
      await eventually('ben stops watching the space', () => watches(clubUrl, 'ben') === 0);
      assert.equal(watches(clubUrl, 'ana'), anas);
      await b.vault.spaces.setSynced('Club', true);
      await eventually('ben watches it again', () => watches(clubUrl, 'ben') === bens);
      assert.equal(watches(clubUrl, 'ana'), anas);
      await a.vault.space('Club').put('notes', 'a2', { text: 'after turning it back on' });
      await eventually('ben has ana’s later record', has(b.vault, 'Club', 'a2'));

      // A space joined while both run: watched from the next round on, no restart.
      const later = await a.vault.spaces.create('Later');
      await invite(a.vault, 'Later', b.vault, 'writer', 'Ben');
      const laterUrl = `memory://ana/spaces/${later.spaceId}`;
      await eventually('both devices watch the new space', () => watches(laterUrl, 'ana') > 0 && watches(laterUrl, 'ben') > 0);
      await a.vault.space('Later').put('notes', 'l1', { text: 'in the new space' });
      await eventually('ben has the new space’s record', has(b.vault, 'Later', 'l1'));

      // Ben removed from it: his device is told once, and stops watching it.
      const anasLater = watches(laterUrl, 'ana');
      const ben = (await a.vault.spaces.members('Later')).find((m) => m.name === 'Ben')!.personId;
      await a.vault.spaces.remove('Later', ben);
      await eventually('ben is told of the removal', () => warnings.some((w) => w.code === WarningCode.Removed && w.space === later.spaceId));
      await eventually('ben stops watching the space he was removed from', () => watches(laterUrl, 'ben') === 0);
      assert.equal(watches(laterUrl, 'ana'), anasLater);
      await a.vault.space('Club').put('notes', 'a3', { text: 'club goes on' });
      await eventually('the other space still syncs live', has(b.vault, 'Club', 'a3'));
    } finally {
      for (const s of autos) await s.stop();
      for (const p of [a, b]) await p.vault.close();
    }
  },
);

test('a space write made before auto-sync watches the space (after a round pushed) starts a round soon, not at the interval', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 61);
  await a.vault.spaces.create('Club');
  await a.vault.sync();
  // Written while nothing watches the space: as in the gap between a round's push and the watch set up after it.
  await a.vault.space('Club').put('notes', 'n1', { text: 'not pushed yet' });
  await a.vault.close();
  const session = await openVault(a.device.options());
  const hub = new SpaceHub(session, new Records(session));
  let pokes = 0;
  const watches = [hub.watch({ onRemote: () => undefined, onLocal: () => pokes++ })];
  try {
    await watches[0]!.update();
    assert.equal(pokes, 1, 'the write waiting to be pushed asks for a round');
    await session.exclusive(() => hub.syncAll({ pull: false, push: true }));
    watches.push(hub.watch({ onRemote: () => undefined, onLocal: () => pokes++ }));
    await watches[1]!.update();
    assert.equal(pokes, 1, 'with nothing to push, starting to watch asks for none');
  } finally {
    for (const w of watches) w.stop();
    await hub.close();
    await session.close();
  }
});

/** A device acting in a space with no local checks (a modified client): its actor and verified state, read from its store. */
async function modifiedClient(device: Device, space: string) {
  const session = await openVault(device.options());
  const hub = new SpaceHub(session, new Records(session));
  const local = await hub.open(space);
  const state = await local.refresh(true);
  return { local, state, close: async () => (await hub.close(), await session.close()) };
}

test('a reader’s forged segment: a member’s sync returns one KITH_SPACE_REFUSED warning (space, device, person, seq) and applies everyone else’s changes', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 41);
  const b = await newPerson(world, 'ben', 42);
  const c = await newPerson(world, 'cat', 43);
  let cat: Vault | undefined = c.vault;
  try {
    const family = await a.vault.spaces.create('Family');
    await invite(a.vault, 'Family', b.vault, 'writer', 'Ben');
    await invite(a.vault, 'Family', c.vault, 'reader', 'Cat');
    for (const v of [a.vault, b.vault, c.vault, a.vault]) await v.sync(); // certificates, then ana seals the key to them
    await cat.close();
    cat = undefined;

    // Cat's device holds the epoch key: a modified client encrypts and signs a segment past the local role check.
    const forger = await modifiedClient(c.device, 'Family');
    try {
      const { local, state } = forger;
      const me = local.me;
      const epoch = state.epochs.current!.epoch;
      const epochKey = await openSpaceEpochKey(local.remote, {
        m: state.m,
        epochs: state.epochs,
        certs: state.certs,
        epoch,
        deviceId: me.deviceId,
        boxSecret: me.boxSecret,
      });
      assert.ok(epochKey, 'the reader holds the key');
      const op = { c: 'notes', i: 'forged', t: formatLocal({ wall: Date.now(), counter: 0 }), k: 'p' as const, s: { text: 'forged by cat' }, a: true };
      await writeSpaceSegment(local.remote, { state, me, ops: [op], chain: SPACE_CHAIN_START, epoch, epochKey }, { random: local.deps.random, now: Date.now });

      await b.vault.space('Family').put('notes', 'b1', { text: 'from ben' });
      await b.vault.sync();
      const first = await a.vault.sync();
      const refused = (first.warnings ?? []).filter((w) => w.code === WarningCode.SpaceRefused);
      assert.equal(refused.length, 1, JSON.stringify(first.warnings));
      const catId = (await a.vault.spaces.members('Family')).find((m) => m.name === 'Cat')!.personId;
      assert.deepEqual(
        {
          space: refused[0]!.space,
          device: refused[0]!.device,
          person: refused[0]!.person,
          seq: refused[0]!.seq,
          error: refused[0]!.error,
          reason: refused[0]!.reason,
        },
        { space: family.spaceId, device: me.deviceId, person: catId, seq: 1, error: 'KITH_INTEGRITY_UNKNOWN_SIGNER', reason: 'not-a-writer' },
      );
      assert.match(refused[0]!.message, /"Family"/);
      assert.deepEqual(await a.vault.space('Family').get('notes', 'b1'), { id: 'b1', text: 'from ben' }, 'the writer’s records are applied');
      assert.equal(await a.vault.space('Family').get('notes', 'forged'), undefined, 'nothing of the forged segment is');

      // Said once: the next syncs meet the same segment and say nothing; others' changes keep coming.
      await b.vault.space('Family').put('notes', 'b2', { text: 'ben again' });
      await b.vault.sync();
      const again = await a.vault.sync();
      assert.ok(!(again.warnings ?? []).some((w) => w.code === WarningCode.SpaceRefused), JSON.stringify(again.warnings));
      assert.deepEqual(await a.vault.space('Family').get('notes', 'b2'), { id: 'b2', text: 'ben again' });
      assert.equal((await a.vault.pull()).warnings?.some((w) => w.code === WarningCode.SpaceRefused) ?? false, false);
    } finally {
      await forger.close();
    }
  } finally {
    for (const v of [a.vault, b.vault, cat]) await v?.close();
  }
});

test('members() after a restart with the remote unreachable: the membership verified last (names, roles, device counts), from the space’s store', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 51);
  const b = await newPerson(world, 'ben', 52);
  let ana: Vault | undefined = a.vault;
  try {
    const club = await a.vault.spaces.create('Club');
    await invite(a.vault, 'Club', b.vault, 'reader', 'Ben');
    for (const v of [b.vault, a.vault]) await v.sync();
    const online = await a.vault.spaces.members('Club');
    assert.deepEqual(online.map((m) => [m.name, m.role, m.devices]).sort(), [
      ['Ben', 'reader', 1],
      ['ana', 'admin', 1],
    ]);
    await a.vault.close();
    ana = undefined;
    for (const url of ['memory://ana', `memory://ana/spaces/${club.spaceId}`]) world.down.add(url);
    ana = await Vault.open(a.device.options());
    assert.deepEqual(await ana.spaces.members('Club'), online);
    assert.deepEqual(await ana.spaces.members(club.spaceId), online);
  } finally {
    await ana?.close();
    await b.vault.close();
  }
});
