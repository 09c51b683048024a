/**
 * A shared space (issue #16): 5 people with 2 devices each, every person
 * a vault of their own (SQLite store per device, a folder remote per
 * person); person 0 founds a space beside their vault, fills it with N
 * records and invites the others as writers. Measured: the bootstrap of a
 * new member's device (admitted, then its first sync of the space: N
 * records), the bootstrap of that member's second device (it sees the
 * space with no admin step), and the time and bytes of removing a member
 * (a new key epoch sealed to the remaining members' devices). The
 * personal-space bootstrap of the same N records is the `kith` row.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Vault, type SpaceRemotes } from '@kith/core';
import { countingRemote, type CountingRemote, type RemoteStats } from '@kith/core/adapter';
import { openFolderRemote } from '@kith/folder';
import { openSqliteStore } from '@kith/sqlite';
import { fields, records } from '../data.js';
import { check, peakRssMiB, time, WARM_N, type Figures, type Task } from '../measure.js';

const PEOPLE = 5;
const bytesOf = (s: RemoteStats): number => s.bytesSent + s.bytesReceived;
const requestsOf = (s: RemoteStats): number => s.puts + s.gets + s.heads + s.lists + s.deletes;

/** Every space remote the devices of this run open, by URL, counting their traffic (one counter per opening). */
class CountedSpaces implements SpaceRemotes {
  readonly opened: CountingRemote[] = [];
  urlFor(vaultRemoteUrl: string, spaceId: string): string {
    return join(vaultRemoteUrl, 'spaces', spaceId);
  }
  async open(url: string): Promise<CountingRemote> {
    const r = countingRemote(await openFolderRemote(url, { create: true }));
    this.opened.push(r);
    return r;
  }
  /** Bytes and requests of every space remote opened so far. */
  totals(): { bytes: number; requests: number } {
    return this.opened.reduce((t, r) => ({ bytes: t.bytes + bytesOf(r.stats), requests: t.requests + requestsOf(r.stats) }), { bytes: 0, requests: 0 });
  }
}

interface Person {
  readonly vaults: Vault[];
  /** The space remotes each device opened (by device), counting their traffic. */
  readonly spaces: CountedSpaces[];
}

/** A device of person `p`: its own SQLite file and spaces' stores under `base/p<p>/d<d>`. */
function deviceOptions(base: string, p: number, d: number, spaces: SpaceRemotes) {
  const home = join(base, `p${p}`, `d${d}`);
  mkdirSync(home, { recursive: true });
  return { home, spaceRemotes: spaces, spaceStore: (spaceId: string) => openSqliteStore(join(home, `space-${spaceId}.db`)) };
}

/** Person `p`'s vault on device 1, and device 2 paired to it. */
async function person(base: string, p: number): Promise<Person> {
  const url = join(base, `remote-p${p}`);
  const remote = countingRemote(await openFolderRemote(url, { create: true }));
  const spaces = [new CountedSpaces(), new CountedSpaces()];
  const one = deviceOptions(base, p, 1, spaces[0]!);
  const { vault } = await Vault.create({ ...one, store: await openSqliteStore(join(one.home, 'kith.db')), remote, remoteUrl: url, deviceName: `p${p}-phone` });
  const two = deviceOptions(base, p, 2, spaces[1]!);
  let code!: (c: string) => void;
  const handed = new Promise<string>((r) => (code = r));
  const [, second] = await Promise.all([
    vault.devices.pair({ onCode: code, confirm: async () => true, pollMs: 20 }),
    handed.then(async (c) =>
      Vault.join({
        ...two,
        store: await openSqliteStore(join(two.home, 'kith.db')),
        remote: countingRemote(await openFolderRemote(url)),
        remoteUrl: url,
        code: c,
        deviceName: `p${p}-laptop`,
        pollMs: 20,
      }),
    ),
  ]);
  return { vaults: [vault, second], spaces };
}

/**
 * `admin` invites `who` (on their first device) as a writer; both sides run at once, as two people would.
 * Returns how long the invitee's `join` took: from the code in hand to the space pulled (its bootstrap).
 */
async function invite(admin: Vault, space: string, who: Vault): Promise<number> {
  let code!: (c: string) => void;
  const handed = new Promise<string>((r) => (code = r));
  const [invited, [joined, joinMs]] = await Promise.all([
    admin.spaces.invite(space, { role: 'writer', onCode: code, confirm: async () => true, pollMs: 20 }),
    handed.then((c) => time(() => who.spaces.join(c, { pollMs: 20 }))),
  ]);
  check(invited.sas === joined.sas, 'spaces: the two sides saw different SAS');
  return joinMs;
}

async function run(n: number, base: string): Promise<Figures> {
  const people: Person[] = [];
  try {
    for (let p = 0; p < PEOPLE; p++) people.push(await person(base, p));
    const founder = people[0]!.vaults[0]!;
    const { spaceId } = await founder.spaces.create('jar');
    const recs = records(n);
    const [, batchMs] = await time(() => founder.space(spaceId).batch((b) => recs.forEach((r) => b.put('notes', r.id, { ...fields(r) }))));
    const [, pushMs] = await time(() => founder.sync());
    // Persons 1–3 join and sync on both their devices (not measured); person 4 is the new member measured.
    for (let p = 1; p < PEOPLE - 1; p++) {
      await invite(founder, spaceId, people[p]!.vaults[0]!);
      for (const v of people[p]!.vaults) await v.sync();
    }
    const [newcomer, newcomerLaptop] = people[PEOPLE - 1]!.vaults as [Vault, Vault];
    const [newcomerSpaces, laptopSpaces] = people[PEOPLE - 1]!.spaces as [CountedSpaces, CountedSpaces];
    // The join admits the person and pulls the space: the new member's bootstrap.
    const bootstrapMs = await invite(founder, spaceId, newcomer);
    const boot = newcomerSpaces.totals();
    const hits = (await newcomer.space(spaceId).list('notes', { where: { done: true }, limit: 50 })).records.length;
    check(hits > 0, 'spaces: the new member found nothing');
    // Their second device learns of the space from the personal space, certifies itself and pulls it.
    const [, secondDeviceMs] = await time(async () => {
      await newcomerLaptop.sync();
      await newcomer.sync(); // shares the space's key with the newly certified device
      await newcomerLaptop.sync();
    });
    const second = laptopSpaces.totals();
    check((await newcomerLaptop.space(spaceId).get('notes', recs[0]!.id)) !== undefined, "spaces: the new member's second device did not get the space");
    const bootstrapRssMiB = peakRssMiB();
    // Removal: person 1 goes; a new epoch is sealed to the 3 remaining people's 6 devices and the founder's 2.
    const removed = await memberId(founder, spaceId, 1);
    const founderSpaces = people[0]!.spaces[0]!;
    const beforeRemoval = founderSpaces.totals();
    const [, removeMs] = await time(() => founder.spaces.remove(spaceId, removed));
    const afterRemoval = founderSpaces.totals();
    await founder.space(spaceId).put('notes', 'after-removal', { title: 'after' });
    await founder.sync();
    await people[1]!.vaults[0]!.sync().catch(() => undefined);
    check(
      (await people[1]!.vaults[0]!.space(spaceId)
        .get('notes', 'after-removal')
        .catch(() => undefined)) === undefined,
      'spaces: a removed member read a later write',
    );
    return {
      batchMs,
      pushMs,
      bootstrapMs,
      bootstrapBytes: boot.bytes,
      bootstrapRequests: boot.requests,
      bootstrapRssMiB,
      secondDeviceMs,
      secondDeviceBytes: second.bytes,
      secondDeviceRequests: second.requests,
      removeMs,
      removeBytes: afterRemoval.bytes - beforeRemoval.bytes,
      removeRequests: afterRemoval.requests - beforeRemoval.requests,
    };
  } finally {
    for (const p of people) for (const v of p.vaults) await v.close();
  }
}

/** The personId of person `p` as the founder's member list shows it (the invitee's name is its device's). */
async function memberId(founder: Vault, spaceId: string, p: number): Promise<string> {
  const m = (await founder.spaces.members(spaceId)).find((x) => x.name.startsWith(`p${p}-`));
  check(m !== undefined, `spaces: person ${p} is not a member`);
  return m.personId;
}

/** `spaces.run`: the whole scenario on a small space first (warm-up), then on N records. */
export const tasks: Record<string, Task> = {
  async run(n, dir) {
    await run(WARM_N, join(dir, 'warm'));
    return run(n, join(dir, 'measured'));
  },
};
