import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRandom } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { concatBytes } from '../crypto/index.js';
import { newMemoryStoreData, openMemoryStore } from '../testing/memory-store.js';
import { openMemoryRemote } from '../testing/memory-remote.js';
import type { BackupSource } from './backup.js';
import { Vault } from './vault.js';
import type { Doc } from './vault-types.js';
import { Device, invite, newPerson, World } from './spaces/people.test.support.js';

type Step =
  | { kind: 'put'; dev: 0 | 1; id: string; n: number }
  | { kind: 'patch'; dev: 0 | 1; id: string; n: number }
  | { kind: 'delete'; dev: 0 | 1; id: string }
  | { kind: 'sync'; dev: 0 | 1 }
  | { kind: 'backup' };

const id = fc.constantFrom('r1', 'r2', 'r3', 'r4');
const dev = fc.constantFrom(0 as const, 1 as const);
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), dev, id, n: fc.nat(99) }),
  fc.record({ kind: fc.constant('patch' as const), dev, id, n: fc.nat(99) }),
  fc.record({ kind: fc.constant('delete' as const), dev, id }),
  fc.record({ kind: fc.constant('sync' as const), dev }),
  fc.constant({ kind: 'backup' as const }),
);

async function everything(v: Vault): Promise<Doc[]> {
  const out: Doc[] = [];
  for await (const page of v.exportRecords()) out.push(...page.records.map((r) => ({ ...r, c: page.collection })));
  return out;
}

/** Tolerates writes the model makes on records that are not live (the library refuses them, changing nothing). */
async function attempt(write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (e) {
    if (!KithError.is(e, ErrorCode.NotFound)) throw e;
  }
}

test('property: a chain of a full and incremental backups, written between any writes and syncs of two devices, restores the state of its newest file', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 24 }), fc.integer(), async (steps, seed) => {
      const remote = new Map<string, Uint8Array>();
      const { vault: a, recoveryCode } = await Vault.create({
        store: openMemoryStore(newMemoryStoreData()),
        remote: openMemoryRemote(remote),
        remoteUrl: 'memory:',
        deps: { random: seededRandom(seed) },
      });
      // B's clock is an hour behind: its writes pulled after a backup carry stamps older than A's at that backup.
      const b = await Vault.restore({
        store: openMemoryStore(newMemoryStoreData()),
        remote: openMemoryRemote(remote),
        remoteUrl: 'memory:',
        recoveryCode,
        deps: { now: () => Date.now() - 3600_000 },
      });
      const devices = [a, b];
      const files = new Map<string, Uint8Array>();
      const source = (name: string): BackupSource => ({
        name,
        open: async function* () {
          yield files.get(name)!;
        },
      });
      let newest: string | undefined;
      let expected: Doc[] = [];
      const backup = async (): Promise<void> => {
        const name = `b${files.size}.kbk`;
        const parts: Uint8Array[] = [];
        await a.backup({ write: async (bytes) => void parts.push(bytes), ...(newest ? { previous: source(newest) } : {}) });
        files.set(name, concatBytes(...parts));
        newest = name;
        expected = await everything(a);
      };
      try {
        for (const s of [...steps, { kind: 'sync', dev: 0 } as const, { kind: 'backup' } as const]) {
          if (s.kind === 'backup') await backup();
          else if (s.kind === 'sync') await devices[s.dev]!.sync();
          else if (s.kind === 'put') await devices[s.dev]!.put('c', s.id, { n: s.n, by: s.dev });
          else if (s.kind === 'patch') await attempt(() => devices[s.dev]!.patch('c', s.id, { p: s.n }));
          else await attempt(() => devices[s.dev]!.delete('c', s.id));
        }
        const { vault: r } = await Vault.restoreFromBackup({
          store: openMemoryStore(newMemoryStoreData()),
          remote: openMemoryRemote(new Map()),
          remoteUrl: 'memory:',
          recoveryCode,
          backup: source(newest!),
          beside: (name) => (files.has(name) ? source(name) : undefined),
        });
        assert.deepEqual(await everything(r), expected);
        assert.equal(r.vaultId, a.vaultId);
        await r.close();
      } finally {
        await a.close();
        await b.close();
      }
    }),
    {
      numRuns: 40,
      examples: [
        [[{ kind: 'put', dev: 0, id: 'r1', n: 1 }, { kind: 'backup' }, { kind: 'delete', dev: 0, id: 'r1' }], 1],
        [[{ kind: 'put', dev: 0, id: 'r1', n: 1 }, { kind: 'backup' }, { kind: 'put', dev: 1, id: 'r2', n: 2 }, { kind: 'sync', dev: 1 }], 2],
      ],
    },
  );
});

/** Bytes written through `vault.backup`, as a source to restore from. */
async function backupOf(v: Vault): Promise<BackupSource> {
  const parts: Uint8Array[] = [];
  await v.backup({ write: async (bytes) => void parts.push(bytes) });
  const file = concatBytes(...parts);
  return {
    name: 'full.kbk',
    open: async function* () {
      yield file;
    },
  };
}

test('a vault restored from a full backup keeps its retention rules, its person, its spaces directory and keyring, and reads a space hosted elsewhere again', async () => {
  const world = new World();
  const bob = await newPerson(world, 'bob', 2);
  await bob.vault.spaces.create('Club');
  const first = new Device(world, 'memory://ana', 'ana', 1);
  const { vault: ana, recoveryCode } = await Vault.create({ ...first.options(), remoteUrl: first.url, deviceName: 'ana' });
  const home = await ana.spaces.create('Home'); // hosted next to Ana's vault: lost with it
  await invite(bob.vault, 'Club', ana, 'writer', 'Ana');
  await bob.vault.space('Club').put('notes', 'c1', { text: 'from bob' });
  await bob.vault.sync();
  await ana.setRetention('notes', { days: 30 });
  await ana.put('notes', 'n1', { text: 'mine' });
  await ana.sync();
  const personId = (await bob.vault.spaces.members('Club')).find((m) => m.name === 'Ana')!.personId;
  const file = await backupOf(ana);
  await ana.close();
  for (const url of [...world.remotes.keys()]) if (url.startsWith('memory://ana')) world.remotes.delete(url); // the vault's remote is lost

  const d = new Device(world, 'memory://ana-new', 'ana-new', 7);
  const { vault: r, restored } = await Vault.restoreFromBackup({ ...d.options(), remoteUrl: d.url, deviceName: 'ana-new', recoveryCode, backup: file });
  try {
    assert.deepEqual(await r.retention(), [{ collection: 'notes', days: 30 }]);
    assert.deepEqual((await r.spaces.list()).map((s) => s.name).sort(), ['Club', 'Home']);
    const keyring = await openMemoryStore(d.data).read((tx) => tx.query({ collection: '_kith.spacekeys' }));
    assert.ok(keyring.rows.length >= 2, 'the keyring holds both spaces’ keys');
    assert.deepEqual(restored.lostSpaces, [{ spaceId: home.spaceId, name: 'Home', url: `memory://ana/spaces/${home.spaceId}` }]);
    assert.equal(restored.records, 1, 'the app’s records only');
    const exported: string[] = [];
    for await (const page of r.exportRecords()) exported.push(page.collection);
    assert.deepEqual(exported, ['notes'], 'export still leaves the reserved collections out');
    const objects = world.objects('memory://ana-new');
    const me = (await r.devices.list()).find((x) => x.current)!.deviceId;
    assert.ok(objects.has('keys/identity/recovery') && objects.has(`keys/identity/${me}`), 'the identity, sealed to the restored device');

    // The person's space hosted on Bob's remote: the restored device certifies itself under the same person and reads it.
    await r.sync(); // Home's remote is gone: the restore turned its sync off on this device
    assert.equal((await r.spaces.list()).find((s) => s.name === 'Home')?.synced, false);
    await bob.vault.sync();
    await r.sync();
    const members = await r.spaces.members('Club');
    assert.ok(
      members.some((m) => m.personId === personId && m.devices >= 2),
      'the same person, with the restored device certified',
    );
    assert.deepEqual(await r.space('Club').get('notes', 'c1'), { text: 'from bob', id: 'c1' });
    await r.space('Club').put('notes', 'c2', { text: 'after the restore' });
    await r.sync();
    await bob.vault.sync();
    assert.deepEqual(await bob.vault.space('Club').get('notes', 'c2'), { text: 'after the restore', id: 'c2' });
  } finally {
    await r.close();
    await bob.vault.close();
  }
  // Obeyed: 31 days on, the device expires the restored record under the restored rule.
  const later = await Vault.open({ ...d.options(), deps: { random: seededRandom(8), now: () => Date.now() + 31 * 86_400_000 } });
  try {
    assert.equal(await later.get('notes', 'n1'), undefined);
  } finally {
    await later.close();
  }
});

test('an incremental backup carries a reserved collection’s change (a retention rule set after the full one), and restores it', async () => {
  const remote = new Map<string, Uint8Array>();
  const { vault: a, recoveryCode } = await Vault.create({
    store: openMemoryStore(newMemoryStoreData()),
    remote: openMemoryRemote(remote),
    remoteUrl: 'memory:',
  });
  const files = new Map<string, Uint8Array>();
  const source = (name: string): BackupSource => ({
    name,
    open: async function* () {
      yield files.get(name)!;
    },
  });
  const write = async (name: string, previous?: string): Promise<void> => {
    const parts: Uint8Array[] = [];
    await a.backup({ write: async (bytes) => void parts.push(bytes), ...(previous ? { previous: source(previous) } : {}) });
    files.set(name, concatBytes(...parts));
  };
  try {
    await a.put('notes', 'n1', { text: 'kept' });
    await a.setRetention('logs', { days: 7 });
    await write('full.kbk');
    await a.setRetention('notes', { days: 30 });
    await a.setRetention('logs', null);
    await write('incr.kbk', 'full.kbk');
    const { vault: r } = await Vault.restoreFromBackup({
      store: openMemoryStore(newMemoryStoreData()),
      remote: openMemoryRemote(new Map()),
      remoteUrl: 'memory:',
      recoveryCode,
      backup: source('incr.kbk'),
      beside: (name) => (files.has(name) ? source(name) : undefined),
    });
    assert.deepEqual(await r.retention(), [{ collection: 'notes', days: 30 }]);
    assert.deepEqual(await r.get('notes', 'n1'), { text: 'kept', id: 'n1' });
    await r.close();
  } finally {
    await a.close();
  }
});

test('restored from a backup with the password, the vault keeps its person and reads its space again (keys from the keyring, no other member)', async () => {
  const world = new World();
  const first = new Device(world, 'memory://ana', 'ana', 1);
  const { vault: ana } = await Vault.create({ ...first.options(), remoteUrl: first.url, deviceName: 'ana' });
  await ana.spaces.create('Home');
  await ana.devices.setPassword('correct horse battery staple');
  await ana.space('Home').put('notes', 'h1', { text: 'at home' });
  await ana.sync();
  const personId = (await ana.spaces.members('Home'))[0]!.personId;
  const file = await backupOf(ana);
  await ana.close(); // the device is lost; the space's remote (next to the vault's) survives here

  const d = new Device(world, 'memory://ana-new', 'ana-new', 7);
  const { vault: r, restored } = await Vault.restoreFromBackup({
    ...d.options(),
    remoteUrl: d.url,
    deviceName: 'ana-new',
    password: 'correct horse battery staple',
    backup: file,
  });
  try {
    assert.deepEqual(restored.lostSpaces, []);
    assert.ok(world.objects('memory://ana-new').has('keys/identity/password'));
    await r.sync();
    assert.deepEqual(
      (await r.spaces.members('Home')).map((m) => [m.personId, m.devices]),
      [[personId, 2]],
      'the same person, now with the restored device',
    );
    assert.deepEqual(await r.space('Home').get('notes', 'h1'), { text: 'at home', id: 'h1' });
  } finally {
    await r.close();
  }
});

test('a space lost with the vault’s remote is marked lost in the directory: the person’s other devices leave it out too, until one turns its sync on', async () => {
  const world = new World();
  const first = new Device(world, 'memory://ana', 'ana', 1);
  const { vault: ana, recoveryCode } = await Vault.create({ ...first.options(), remoteUrl: first.url, deviceName: 'ana' });
  const home = await ana.spaces.create('Home');
  await ana.sync();
  const file = await backupOf(ana);
  await ana.close();
  const gone = new Map([...world.remotes].filter(([url]) => url.startsWith('memory://ana')));
  for (const url of gone.keys()) world.remotes.delete(url);

  const d = new Device(world, 'memory://ana-new', 'ana-new', 7);
  const { vault: r } = await Vault.restoreFromBackup({ ...d.options(), remoteUrl: d.url, deviceName: 'ana-new', recoveryCode, backup: file });
  try {
    const entry = (await openMemoryStore(d.data).read((tx) => tx.query({ collection: '_kith.spaces' }))).rows.find((x) => x.id === home.spaceId);
    assert.equal(typeof entry?.fields['lost'], 'number', 'the directory, which every device of the person reads, says so');
    await r.sync(); // leaves Home out
    // The space's remote turns out to be there after all: turning its sync on clears the mark, for every device.
    for (const [url, objects] of gone) world.remotes.set(url, objects);
    await r.spaces.setSynced('Home', true);
    const again = (await openMemoryStore(d.data).read((tx) => tx.query({ collection: '_kith.spaces' }))).rows.find((x) => x.id === home.spaceId);
    assert.equal(again?.fields['lost'], undefined);
    assert.equal((await r.spaces.list()).find((s) => s.name === 'Home')?.synced, true);
    await r.sync();
  } finally {
    await r.close();
  }
});
