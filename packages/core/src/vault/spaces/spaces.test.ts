import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KithError } from '../../base/errors.js';
import type { Remote } from '../../ports/remote.js';
import { Vault } from '../vault.js';
import { invite, newPerson, pairDevice, World } from './people.test.support.js';

const ids = async (v: Vault, space: string, collection = 'notes'): Promise<string[]> => (await v.space(space).list(collection)).records.map((r) => r.id);

test('a space: create, invite a writer and a reader, converge; readers and removed members are refused; personal records stay personal', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 11);
  const b = await newPerson(world, 'ben', 12);
  const c = await newPerson(world, 'cat', 13);
  try {
    const made = await a.vault.spaces.create('Family');
    assert.match(made.spaceId, /^[0-9a-f]{32}$/);
    assert.deepEqual(await a.vault.spaces.list(), [{ spaceId: made.spaceId, name: 'Family', role: 'admin', members: 1, synced: true }]);
    await a.vault.space('Family').put('notes', 'n1', { text: 'hello' });
    assert.deepEqual(await a.vault.space(made.spaceId).get('notes', 'n1'), { text: 'hello', id: 'n1' });
    await a.vault.put('diary', 'd1', { text: 'personal-only-marker' });
    await a.vault.sync();

    const { code } = await invite(a.vault, 'Family', b.vault, 'writer', 'Ben');
    assert.ok(code.endsWith(`@memory://ana/spaces/${made.spaceId}`), code);
    await invite(a.vault, made.spaceId, c.vault, 'reader', 'Cat');

    await b.vault.sync();
    await c.vault.sync();
    assert.deepEqual(await ids(b.vault, 'Family'), ['n1']);
    assert.deepEqual(await ids(c.vault, 'Family'), ['n1']);
    await b.vault.space('Family').put('notes', 'n2', { text: 'from ben' });
    await b.vault.sync();
    await a.vault.sync();
    await c.vault.sync();
    for (const v of [a.vault, b.vault, c.vault]) assert.deepEqual(await ids(v, 'Family'), ['n1', 'n2']);
    const members = await a.vault.spaces.members('Family');
    assert.deepEqual(members.map((m) => [m.name, m.role, m.devices]).sort(), [
      ['Ben', 'writer', 1],
      ['Cat', 'reader', 1],
      ['ana', 'admin', 1],
    ]);
    assert.deepEqual(
      (await c.vault.spaces.list()).map((s) => [s.name, s.role, s.members]),
      [['Family', 'reader', 3]],
    );

    // A reader's write is refused before anything is sent.
    const before = world.calls.length;
    await assert.rejects(c.vault.space('Family').put('notes', 'c1', { text: 'nope' }), { code: 'KITH_FORBIDDEN' });
    assert.equal(world.calls.length, before);
    assert.equal(await c.vault.space('Family').get('notes', 'c1'), undefined);

    // Removal: B reads nothing written afterwards, and B's writes are refused.
    const ben = members.find((m) => m.name === 'Ben')!.personId;
    await a.vault.spaces.remove('Family', ben);
    await a.vault.space('Family').put('notes', 'n3', { text: 'after ben left' });
    await a.vault.sync();
    await b.vault.sync();
    assert.deepEqual(await ids(b.vault, 'Family'), ['n1', 'n2']);
    await assert.rejects(b.vault.space('Family').put('notes', 'b2', { text: 'still here?' }), { code: 'KITH_REMOVED', reason: 'removed' });
    assert.deepEqual(await b.vault.spaces.list(), [], 'a removed member no longer lists or syncs the space');
    await b.vault.sync();
    await c.vault.sync();
    assert.deepEqual(await ids(c.vault, 'Family'), ['n1', 'n2', 'n3']);

    // Nothing of A's personal space reached B's or C's stores.
    assert.ok(a.device.everything().includes('personal-only-marker'));
    assert.ok(!b.device.everything().includes('personal-only-marker'));
    assert.ok(!c.device.everything().includes('personal-only-marker'));
  } finally {
    for (const p of [a, b, c]) await p.vault.close();
  }
});

test("a member's new device sees the space after a sync, with no admin step; setSynced(false) stops pulling the space", async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 21);
  const b = await newPerson(world, 'ben', 22);
  try {
    await a.vault.spaces.create('Club');
    await a.vault.space('Club').put('notes', 'n1', { text: 'one' });
    await a.vault.sync();
    await invite(a.vault, 'Club', b.vault, 'writer', 'Ben');
    await b.vault.sync();
    const b2 = await pairDevice(b.vault, b.device, 'ben-phone', 23);
    try {
      await b.vault.sync(); // the directory entry reaches the personal remote (it was pushed by the join's sync already)
      await b2.vault.sync(); // certifies the new device in the space
      await b.vault.sync(); // any member's device seals the current key to it
      await b2.vault.sync();
      assert.deepEqual(await ids(b2.vault, 'Club'), ['n1']);
      await b2.vault.space('Club').put('notes', 'p1', { text: 'from the phone' });
      await b2.vault.sync();
      await a.vault.sync();
      assert.deepEqual(await ids(a.vault, 'Club'), ['n1', 'p1']);
      assert.equal((await a.vault.spaces.members('Club')).find((m) => m.name === 'Ben')?.devices, 2);

      await b.vault.spaces.setSynced('Club', false);
      assert.equal((await b.vault.spaces.list())[0]?.synced, false);
      assert.equal((await b2.vault.spaces.list())[0]?.synced, true, 'the flag is local to the device');
      await a.vault.space('Club').put('notes', 'n2', { text: 'two' });
      await a.vault.sync();
      await b.vault.sync();
      await b2.vault.sync();
      assert.deepEqual(await ids(b.vault, 'Club'), ['n1'], 'not pulled since it was turned off');
      assert.deepEqual(await ids(b2.vault, 'Club'), ['n1', 'n2', 'p1']);
      await b.vault.spaces.setSynced('Club', true);
      await b.vault.sync();
      assert.deepEqual(await ids(b.vault, 'Club'), ['n1', 'n2', 'p1']);
    } finally {
      await b2.vault.close();
    }
  } finally {
    for (const p of [a, b]) await p.vault.close();
  }
});

test('spaces by name: an unknown one is KITH_NOT_FOUND, a name two spaces share KITH_BAD_INPUT; without spaceRemotes a clear error', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 31);
  try {
    await assert.rejects(a.vault.space('nope').get('notes', 'x'), { code: 'KITH_NOT_FOUND' });
    const one = await a.vault.spaces.create('Twins');
    await a.vault.spaces.create('Twins');
    await assert.rejects(a.vault.space('Twins').get('notes', 'x'), { code: 'KITH_BAD_INPUT' });
    assert.equal(await a.vault.space(one.spaceId).get('notes', 'x'), undefined);
    await assert.rejects(a.vault.spaces.create(''), { code: 'KITH_BAD_INPUT' });
    await assert.rejects(a.vault.spaces.join('ABCD-EFGH'), { code: 'KITH_BAD_INVITE_CODE', reason: 'no-url' });
    assert.equal((await a.vault.spaces.list()).length, 2);
  } finally {
    await a.vault.close();
  }
});

test('a space reads and writes offline: its records are local, the identity is needed only to sync', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 41);
  const offline = (): Promise<never> => Promise.reject(new KithError(ErrorCode.RemoteUnavailable, 'offline'));
  let spaceId = '';
  try {
    spaceId = (await a.vault.spaces.create('Trip')).spaceId;
    await a.vault.space('Trip').put('notes', 'n1', { text: 'one' });
  } finally {
    await a.vault.close();
  }
  const unreachable: Remote = Object.assign(world.remote('memory://nowhere'), { get: offline, list: offline, put: offline, head: offline });
  const vault = await Vault.open({ ...a.device.options(), remote: offline, spaceRemotes: { ...world.spaceRemotes, open: async () => unreachable } });
  try {
    assert.deepEqual(await ids(vault, 'Trip'), ['n1']);
    await vault.space('Trip').put('notes', 'n2', { text: 'two' });
    assert.deepEqual(await ids(vault, 'Trip'), ['n1', 'n2']);
    await assert.rejects(vault.sync(), { code: 'KITH_REMOTE_UNAVAILABLE' });
  } finally {
    await vault.close();
  }
  const back = await Vault.open(a.device.options());
  try {
    const segments = () => [...world.objects(`memory://ana/spaces/${spaceId}`).keys()].filter((k) => k.startsWith('segments/'));
    assert.equal(segments().length, 1, 'the names, written by create');
    await back.sync();
    assert.equal(segments().length, 2, 'both offline writes, sent by the next sync');
  } finally {
    await back.close();
  }
});

test('roles change through the facade, a member leaves, and a revoked device of a member is refused', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 51);
  const c = await newPerson(world, 'cat', 52);
  try {
    await a.vault.spaces.create('Team');
    await a.vault.space('Team').put('notes', 'n1', { text: 'one' });
    await a.vault.sync();
    const { invited } = await invite(a.vault, 'Team', c.vault, 'reader', 'Cat');
    await c.vault.sync();
    await assert.rejects(c.vault.space('Team').put('notes', 'c1', { text: 'x' }), { code: 'KITH_FORBIDDEN' });
    await a.vault.spaces.setRole('Team', invited.personId, 'writer');
    await c.vault.sync();
    assert.equal((await c.vault.spaces.list())[0]?.role, 'writer');
    await c.vault.space('Team').put('notes', 'c1', { text: 'now a writer' });
    await c.vault.sync();
    await a.vault.sync();
    assert.deepEqual(await ids(a.vault, 'Team'), ['c1', 'n1']);

    await c.vault.spaces.leave('Team');
    assert.deepEqual(await c.vault.spaces.list(), []);
    await a.vault.sync(); // an admin's sync starts the epoch that leaves the leaver out
    assert.deepEqual(
      (await a.vault.spaces.members('Team')).map((m) => m.name),
      ['ana'],
    );
    await a.vault.space('Team').put('notes', 'n2', { text: 'after cat left' });
    await a.vault.sync();
    await c.vault.sync();
    assert.deepEqual(await ids(c.vault, 'Team'), ['c1', 'n1']);
    await assert.rejects(c.vault.space('Team').put('notes', 'c2', { text: 'x' }), { code: 'KITH_REMOVED', reason: 'left' });

    // A second device of ana, revoked: ana's next sync drops it from her certificate and starts an epoch it cannot open.
    const a2 = await pairDevice(a.vault, a.device, 'ana-phone', 53);
    try {
      await a2.vault.sync();
      await a.vault.sync();
      await a2.vault.sync();
      assert.deepEqual(await ids(a2.vault, 'Team'), ['c1', 'n1', 'n2']);
      await a.vault.devices.revoke(a2.vault.deviceId);
      await a.vault.sync();
      assert.equal((await a.vault.spaces.members('Team'))[0]?.devices, 1);
      await a.vault.space('Team').put('notes', 'n3', { text: 'after the phone was lost' });
      await a.vault.sync();
      await assert.rejects(a2.vault.sync(), { code: 'KITH_REVOKED' });
      await assert.rejects(a2.vault.space('Team').put('notes', 'p1', { text: 'x' }), { code: 'KITH_REVOKED' });
      assert.deepEqual(await ids(a2.vault, 'Team'), ['c1', 'n1', 'n2']);
      assert.ok(!a2.device.everything().includes('after the phone was lost'));
    } finally {
      await a2.vault.close();
    }
  } finally {
    for (const p of [a, c]) await p.vault.close();
  }
});

test('the membership position a device verified is pinned in the space’s store: a remote rolled back to an older chain is caught after a restart', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 61);
  const b = await newPerson(world, 'ben', 62);
  let spaceId = '';
  try {
    spaceId = (await a.vault.spaces.create('Pinned')).spaceId;
    await invite(a.vault, 'Pinned', b.vault, 'writer', 'Ben');
    await a.vault.sync();
  } finally {
    await b.vault.close();
    await a.vault.close();
  }
  // The remote forgets the entry that added Ben (as an old copy of it would): a valid chain, one entry shorter.
  const objects = world.objects(`memory://ana/spaces/${spaceId}`);
  const last = [...objects.keys()]
    .filter((k) => k.startsWith('members/'))
    .sort()
    .at(-1)!;
  objects.delete(last);
  const again = await Vault.open(a.device.options());
  try {
    await assert.rejects(again.sync(), { code: 'KITH_INTEGRITY_ROLLBACK' });
  } finally {
    await again.close();
  }
});

test('blobs in a space: a writer stores one under the space’s root, a member reads it; a reader cannot store one', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 71);
  const c = await newPerson(world, 'cat', 72);
  try {
    const { spaceId } = await a.vault.spaces.create('Photos');
    await invite(a.vault, 'Photos', c.vault, 'reader', 'Cat');
    const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);
    const { ref } = await a.vault.space('Photos').blobs.put(bytes, { name: 'p.bin' });
    await a.vault.space('Photos').put('photos', 'p1', { file: ref });
    await a.vault.sync();
    const space = world.objects(`memory://ana/spaces/${spaceId}`);
    assert.ok(
      [...space.keys()].some((k) => k.startsWith('blobs/manifests/')),
      'under the space’s root',
    );
    assert.ok(![...world.objects('memory://ana').keys()].some((k) => k.startsWith('blobs/')), 'not in the personal space');
    await c.vault.sync();
    const got = (await c.vault.space('Photos').get('photos', 'p1'))!;
    const read = new Uint8Array(await new Response(c.vault.space('Photos').blobs.get(got['file'] as string)).arrayBuffer());
    assert.deepEqual(read, bytes);
    const before = world.calls.length;
    await assert.rejects(c.vault.space('Photos').blobs.put(new Uint8Array(10)), { code: 'KITH_FORBIDDEN' });
    assert.equal(world.calls.filter((x, i) => i >= before && x.includes('/spaces/')).length, 0);
  } finally {
    for (const p of [a, c]) await p.vault.close();
  }
});

test('a crash after a space segment was uploaded and before the store noted it: the next sync takes it as sent, each write arrives once', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 81);
  const b = await newPerson(world, 'ben', 82);
  let crash = false;
  // The write that would drop the sent ops from the outbox fails once, as if the process died there.
  a.device.wrapSpaceStore = (store) => ({
    ...store,
    read: (fn) => store.read(fn),
    close: () => store.close(),
    write: (fn) =>
      store.write((tx) =>
        fn(
          Object.assign(Object.create(tx) as typeof tx, {
            deleteOutbox: async (through: number) => {
              if (crash) {
                crash = false;
                throw new Error('crash');
              }
              return tx.deleteOutbox(through);
            },
          }),
        ),
      ),
  });
  try {
    const { spaceId } = await a.vault.spaces.create('Crash');
    await invite(a.vault, 'Crash', b.vault, 'writer', 'Ben');
    await a.vault.space('Crash').put('notes', 'n1', { text: 'one' });
    crash = true;
    await assert.rejects(a.vault.sync(), /crash/);
    await a.vault.space('Crash').put('notes', 'n2', { text: 'two' });
    await a.vault.sync();
    await b.vault.sync();
    assert.deepEqual(await ids(b.vault, 'Crash'), ['n1', 'n2']);
    assert.equal((await b.vault.space('Crash').log({ collection: 'notes' })).length, 2, 'each write once');
    const segments = [...world.objects(`memory://ana/spaces/${spaceId}`).keys()].filter((k) => k.startsWith(`segments/${a.vault.deviceId}/`));
    assert.equal(segments.length, 4, 'names, the invitee’s name, n1, n2: none sent twice');
  } finally {
    for (const p of [a, b]) await p.vault.close();
  }
});

test('a space whose remote is down does not keep the other spaces from syncing; the sync then reports its failure', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 91);
  const b = await newPerson(world, 'ben', 92);
  try {
    // Spaces sync in spaceId order: the one that fails is the first.
    const made = [await a.vault.spaces.create('One'), await a.vault.spaces.create('Two')].sort((x, y) => (x.spaceId < y.spaceId ? -1 : 1));
    const [first, second] = made.map((m) => m.spaceId) as [string, string];
    for (const id of [first, second]) {
      await invite(a.vault, id, b.vault, 'writer', 'Ben');
      await a.vault.space(id).put('notes', 'n', { text: id });
    }
    await a.vault.sync();
    world.down.add(`memory://ana/spaces/${first}`);
    await assert.rejects(b.vault.sync(), { code: 'KITH_REMOTE_UNAVAILABLE' });
    assert.deepEqual(await ids(b.vault, second), ['n'], 'the second space synced all the same');
    assert.deepEqual(await ids(b.vault, first), []);
    world.down.clear();
    await b.vault.sync();
    assert.deepEqual(await ids(b.vault, first), ['n']);
  } finally {
    for (const p of [a, b]) await p.vault.close();
  }
});

test('a write’s check and a sync catching the same space up at once (after a restart) do not trip over each other', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 101);
  const b = await newPerson(world, 'ben', 102);
  try {
    await a.vault.spaces.create('Busy');
    await invite(a.vault, 'Busy', b.vault, 'writer', 'Ben');
    await a.vault.sync();
    await b.vault.sync();
  } finally {
    await b.vault.close();
  }
  const again = await Vault.open(b.device.options());
  try {
    await Promise.all([again.sync(), again.space('Busy').put('notes', 'x', { text: 'x' }), again.space('Busy').put('notes', 'y', { text: 'y' })]);
    await again.sync();
    await a.vault.sync();
    assert.deepEqual(await ids(a.vault, 'Busy'), ['x', 'y']);
  } finally {
    await again.close();
    await a.vault.close();
  }
});

test('on remotes that sign devices in as a relay does: create, invite, a new device of a member, all through the facade', async () => {
  const world = new World();
  world.relayRules = true;
  const a = await newPerson(world, 'ana', 111);
  const b = await newPerson(world, 'ben', 112);
  try {
    await a.vault.spaces.create('Relay');
    await a.vault.space('Relay').put('notes', 'n1', { text: 'one' });
    await a.vault.sync();
    await invite(a.vault, 'Relay', b.vault, 'writer', 'Ben');
    await b.vault.sync();
    assert.deepEqual(await ids(b.vault, 'Relay'), ['n1']);
    const b2 = await pairDevice(b.vault, b.device, 'ben-phone', 113);
    try {
      await b2.vault.sync(); // reads as the person, certifies itself, then signs in as the device
      await b.vault.sync();
      await b2.vault.sync();
      await b2.vault.space('Relay').put('notes', 'p1', { text: 'from the phone' });
      await b2.vault.sync();
      await a.vault.sync();
      assert.deepEqual(await ids(a.vault, 'Relay'), ['n1', 'p1']);
    } finally {
      await b2.vault.close();
    }
  } finally {
    for (const p of [a, b]) await p.vault.close();
  }
});

test('a person added after a removal reads the whole history: earlier epochs’ keys reach them from a member’s next sync', async () => {
  const world = new World();
  const a = await newPerson(world, 'ana', 21);
  const b = await newPerson(world, 'ben', 22);
  const d = await newPerson(world, 'dan', 23);
  try {
    const { spaceId } = await a.vault.spaces.create('Jar');
    await a.vault.space('Jar').put('notes', 'old', { text: 'under epoch 0' });
    await a.vault.sync();
    await invite(a.vault, 'Jar', b.vault, 'writer', 'Ben');
    const ben = (await a.vault.spaces.members('Jar')).find((m) => m.name === 'Ben')!.personId;
    await a.vault.spaces.remove('Jar', ben); // epoch 1 begins
    await a.vault.space('Jar').put('notes', 'new', { text: 'under epoch 1' });
    await a.vault.sync();
    await invite(a.vault, 'Jar', d.vault, 'reader', 'Dan');
    await a.vault.sync(); // seals epoch 0's key to Dan's device
    await d.vault.sync();
    assert.deepEqual(await ids(d.vault, spaceId), ['new', 'old']);
    // Ben, removed before Dan came, got no key of epoch 1 from it.
    await b.vault.sync();
    assert.equal(
      await b.vault
        .space(spaceId)
        .get('notes', 'new')
        .catch(() => undefined),
      undefined,
    );
  } finally {
    for (const p of [a, b, d]) await p.vault.close();
  }
});
