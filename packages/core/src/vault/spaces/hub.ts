/**
 * @module vault/spaces/hub
 * What `vault.spaces` and `vault.space(...)` run on: the person's
 * identity, the directory of joined spaces, and the spaces opened locally
 * (one LocalSpace per space, opened on first use and kept until close).
 * Network work runs inside the session's remote lock only when called from
 * a sync (which holds it); the facade's own calls take it themselves.
 */
import { ErrorCode, KithError } from '../../base/errors.js';
import type { Deps } from '../../base/deps.js';
import { META, readMeta, type DeviceMeta, type VaultMeta } from '../../ports/store-meta.js';
import type { Remote } from '../../ports/remote.js';
import type { Store } from '../../ports/store.js';
import type { EngineContext } from '../../sync/context.js';
import { spaceIdOf } from '../../spaces/membership-entry.js';
import type { PersonKeys } from '../../spaces/person.js';
import { SpaceState } from '../../spaces/space-state.js';
import { adminInvite, joinInvite } from '../../spaces/invite-flow.js';
import { createSharedSpace, leaveSpace, removeMember, setMemberRole, type SpaceActor } from '../../spaces/space-ops.js';
import type { VaultSession } from '../session.js';
import type { Records } from '../records.js';
import type { SpaceRemotes } from '../vault-types.js';
import {
  NAMES,
  SPACE_NAME_ID,
  checkSpaceName,
  findSpace,
  isSynced,
  keepsInSync,
  readDirectory,
  readNames,
  saveEntry,
  setSynced,
  writeReserved,
  withoutLost,
  type SpaceEntry,
} from './directory.js';
import { loadIdentity, ownDevices } from './identity.js';
import { assertMember } from '../../spaces/space-segments.js';
import type { SyncWarning } from '../../base/warnings.js';
import { LocalSpace } from './local-space.js';
import { SpaceWatch, type SpaceWatchEvents, type SpaceWatcher } from './space-watch.js';
import { recordSpaceKeys } from './keyring.js';
import { syncKeptSpaces } from './hub-sync.js';
import type { SpaceRecordsHost } from './space-records.js';
import type { JoinSpaceOptions, Role, SpaceInfo, SpaceInviteOptions, SpaceInvited, SpaceJoined, SpaceMember } from './space-types.js';

const DEFAULT_ROLE: Role = 'writer';

export class SpaceHub {
  readonly #s: VaultSession;
  /** The personal space's records (the directory is a reserved collection of it). */
  readonly #records: Records;
  #person: Promise<PersonKeys> | undefined;
  readonly #open = new Map<string, Promise<LocalSpace>>();
  /** Auto-syncs' watches of the kept spaces, told when this device turns a space's sync on or off. */
  readonly #watches = new Set<SpaceWatch>();

  constructor(session: VaultSession, records: Records) {
    this.#s = session;
    this.#records = records;
  }

  // ---------------------------------------------------------------- the facade

  async create(name: string): Promise<{ spaceId: string; name: string }> {
    const clean = checkSpaceName(name);
    const { remotes, store: openStore } = this.#options();
    return this.#s.exclusive(async () => {
      const ctx = await this.#s.connect();
      const me = await this.#actor(ctx);
      // The spaceId comes from the founder's key and entry 1's nonce: drawn here so the space's remote can be named before it exists.
      const nonce = this.#s.deps.random(16);
      const spaceId = spaceIdOf(me.person.signPub, nonce);
      const url = remotes.urlFor(await this.#vaultUrl(), spaceId);
      const remote = await remotes.open(url);
      const local = await this.#adopt(spaceId, url, remote, openStore, me, async () => {
        const made = await createSharedSpace(remote, me, ownDevices(ctx), { ...this.#s.deps, random: firstDraw(nonce, this.#s.deps.random) });
        if (made.spaceId !== spaceId) throw new KithError(ErrorCode.Internal, 'internal error: the space was founded under another id');
      });
      await local.refresh(true);
      // Goes with the directory entry, so the space survives losing this device (if the remote fails here, the next sync records it).
      await recordSpaceKeys(this.#records, this.#s.store, local).catch(() => undefined);
      await writeReserved(local.records, NAMES, SPACE_NAME_ID, { name: clean });
      await writeReserved(local.records, NAMES, me.person.personId, { name: await this.#deviceName() });
      await saveEntry(this.#records, { spaceId, name: clean, url, role: 'admin' });
      await local.push().catch(() => undefined); // the space exists: the names go with the next sync
      return { spaceId, name: clean };
    });
  }

  async list(): Promise<SpaceInfo[]> {
    const out: SpaceInfo[] = [];
    for (const e of await readDirectory(this.#s.store)) {
      if (e.removed) continue;
      const synced = e.lost === undefined && (await isSynced(this.#s.store, e.spaceId));
      const summary = this.#s.spaceOptions.spaceStore ? await (await this.#local(e)).summary() : undefined;
      out.push({ spaceId: e.spaceId, name: e.name, role: summary?.role ?? e.role, members: summary?.members ?? 0, synced });
    }
    return out;
  }

  async invite(space: string, o: SpaceInviteOptions): Promise<SpaceInvited> {
    const local = await this.open(space);
    await local.refresh(true); // checks the pins, and that the actor is loaded
    // Its own state: the invite appends to the chain while it waits, beside syncs that catch the space's state up.
    const invited = await adminInvite(
      local.remote,
      new SpaceState(local.spaceId),
      local.me,
      {
        role: o.role ?? DEFAULT_ROLE,
        ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
        ...(o.pollMs !== undefined ? { pollMs: o.pollMs } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        onCode: (code) => o.onCode(`${code}@${local.url}`),
        confirm: (sas, who) => o.confirm(sas, who),
      },
      this.#s.deps,
    );
    // Names live in the space's records (never in membership entries): the invitee's came in their encrypted answer.
    await writeReserved(local.records, NAMES, invited.personId, { name: invited.name });
    await this.#s.exclusive(() => local.push()).catch(() => undefined); // they are a member already: the name goes with the next sync
    return { personId: invited.personId, name: invited.name, role: invited.role, sas: invited.sas };
  }

  async join(code: string, o: JoinSpaceOptions): Promise<SpaceJoined> {
    const at = typeof code === 'string' ? code.indexOf('@') : -1;
    if (at <= 0 || at === code.length - 1) {
      throw new KithError(ErrorCode.BadInviteCode, 'the invite code has no space address after "@"', {
        hint: 'copy the whole code, with the part after "@", from the person who invited you',
        reason: 'no-url',
      });
    }
    const url = code.slice(at + 1).trim();
    const name = checkSpaceName(o.name ?? (await this.#deviceName()), 'name');
    const { remotes, store: openStore } = this.#options();
    const ctx = await this.#s.connect();
    const me = await this.#actor(ctx);
    const remote = await remotes.open(url);
    let joined: Awaited<ReturnType<typeof joinInvite>> | undefined;
    const local = await this.#adopt(null, url, remote, openStore, me, async () => {
      joined = await joinInvite(
        remote,
        code.slice(0, at),
        me,
        ownDevices(ctx),
        name,
        {
          ...(o.onSas ? { onSas: o.onSas } : {}),
          ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
          ...(o.pollMs !== undefined ? { pollMs: o.pollMs } : {}),
          ...(o.signal ? { signal: o.signal } : {}),
        },
        this.#s.deps,
      );
      return joined.spaceId;
    });
    const j = joined!;
    await this.#s.exclusive(() => local.pull()).catch(() => undefined); // a member already: the next sync reads what this could not
    await this.#s.exclusive(() => recordSpaceKeys(this.#records, this.#s.store, local)).catch(() => undefined); // else on the next sync
    const spaceName = (await readNames(local.store)).get(SPACE_NAME_ID) ?? j.spaceId;
    await saveEntry(this.#records, { spaceId: j.spaceId, name: spaceName, url, role: j.role });
    return { spaceId: j.spaceId, name: spaceName, role: j.role, sas: j.sas };
  }

  async members(space: string): Promise<SpaceMember[]> {
    const entry = findSpace(await readDirectory(this.#s.store), space);
    const local = await this.#local(entry);
    await this.#s.exclusive(() => local.refresh(true)).catch(() => undefined); // offline: as verified before (this session, else the store's copy)
    // A removed person's copy is frozen at their removal: say so (who, when) rather than list members as they were.
    if (entry.removed) assertMember(local.state, (await this.#actor(await this.#s.connect())).person.personId);
    const names = await readNames(local.store);
    return (await local.verifiedMembers()).map((m) => ({ personId: m.personId, name: names.get(m.personId) ?? m.personId, role: m.role, devices: m.devices }));
  }

  async setRole(space: string, personId: string, role: Role): Promise<void> {
    const local = await this.open(space);
    await this.#s.exclusive(async () => setMemberRole(local.remote, await local.refresh(true), local.me, personId, role, this.#s.deps));
  }

  async remove(space: string, personId: string): Promise<void> {
    const local = await this.open(space);
    await this.#s.exclusive(async () => {
      // What they wrote up to now stays valid: pull it first, so the cut the new epoch records covers it.
      await local.pull().catch(() => undefined);
      await removeMember(local.remote, await local.refresh(true), local.me, personId, this.#s.deps);
      await recordSpaceKeys(this.#records, this.#s.store, local).catch(() => undefined); // the new epoch's key; else on the next sync
    });
  }

  async leave(space: string): Promise<void> {
    const local = await this.open(space);
    await this.#s.exclusive(async () => {
      await local.push().catch(() => undefined); // what this device wrote before leaving still reaches the others
      await leaveSpace(local.remote, await local.refresh(true), local.me, this.#s.deps);
    });
    const entry = findSpace(await readDirectory(this.#s.store), local.spaceId);
    await saveEntry(this.#records, { ...entry, removed: true });
  }

  async setSynced(space: string, on: boolean): Promise<void> {
    if (typeof on !== 'boolean') throw new KithError(ErrorCode.BadInput, 'synced is true or false');
    const entry = findSpace(await readDirectory(this.#s.store), space);
    await setSynced(this.#s.store, entry.spaceId, on);
    if (on && entry.lost !== undefined) await saveEntry(this.#records, withoutLost(entry)); // found again: every device of the person syncs it
    // Watched (or not) from now, and a round soon syncs a space turned back on.
    for (const w of this.#watches)
      void w.update().then(
        () => w.poke(),
        () => undefined,
      );
  }

  /** Watches the spaces this device keeps, for auto-sync (see space-watch.ts); `update()` after each round follows the directory. */
  watch(on: SpaceWatchEvents): SpaceWatcher {
    const w = new SpaceWatch({ kept: () => this.#kept(), open: (e) => this.#local(e) }, on, () => this.#watches.delete(w));
    this.#watches.add(w);
    return w;
  }

  /** The directory's spaces this device keeps in sync (not left or removed from, sync on). */
  async #kept(): Promise<SpaceEntry[]> {
    const kept: SpaceEntry[] = [];
    for (const e of await readDirectory(this.#s.store)) if (await keepsInSync(this.#s.store, e)) kept.push(e);
    return kept;
  }

  /** The space `space` names, opened locally (no network). */
  async open(space: string): Promise<LocalSpace> {
    return this.#local(findSpace(await readDirectory(this.#s.store), space));
  }

  /** What `vault.space(space)` runs on. */
  async host(space: string): Promise<SpaceRecordsHost> {
    const local = await this.open(space);
    const { registry, deviceId } = this.#s.ctx;
    return {
      records: local.records,
      blobs: local.blobs(),
      pending: () => local.store.read((tx) => tx.countOutbox()),
      // A device its vault revoked learns it from its registry (any sync); the space's certificates say the same once the person's other device dropped it.
      assertMayWrite: async () => {
        registry.assertNotRevoked(deviceId);
        await local.assertMayWrite();
      },
    };
  }

  /** Every space this device keeps in sync, after the personal space (see hub-sync.ts; the caller holds the session's remote lock). */
  syncAll(how: { pull: boolean; push: boolean }, _signal?: AbortSignal): Promise<{ pushed: number; pulled: number; warnings: SyncWarning[] }> {
    return syncKeptSpaces({ session: this.#s, records: this.#records, kept: () => this.#kept(), local: (e) => this.#local(e) }, how);
  }

  /** Closes the spaces opened locally. */
  async close(): Promise<void> {
    const open = [...this.#open.values()];
    this.#open.clear();
    for (const p of open) await (await p.catch(() => undefined))?.close();
  }

  // ---------------------------------------------------------------- inside

  /** The LocalSpace of a directory entry (opened once). */
  #local(entry: SpaceEntry): Promise<LocalSpace> {
    let p = this.#open.get(entry.spaceId);
    if (!p) {
      p = (async () => {
        const { remotes, store } = this.#options();
        const actor = async (): Promise<SpaceActor> => this.#actor(await this.#s.connect());
        return LocalSpace.open(entry.spaceId, entry.url, await store(entry.spaceId), await remotes.open(entry.url), this.#s.ctx.deviceId, actor, this.#s.deps);
      })();
      this.#open.set(entry.spaceId, p);
      p.catch(() => this.#open.delete(entry.spaceId));
    }
    return p;
  }

  /** Runs `found` (which founds or joins the space on `remote`, returning its id if not known yet), then keeps the space open locally. */
  async #adopt(
    spaceId: string | null,
    url: string,
    remote: Remote,
    openStore: (spaceId: string) => Promise<Store>,
    me: SpaceActor,
    found: () => Promise<string | void>,
  ): Promise<LocalSpace> {
    let id = spaceId;
    try {
      id = (await found()) ?? spaceId;
    } catch (e) {
      await remote.close().catch(() => undefined);
      throw e;
    }
    const local = await LocalSpace.open(id!, url, await openStore(id!), remote, me.deviceId, async () => me, this.#s.deps);
    this.#open.set(id!, Promise.resolve(local));
    return local;
  }

  #options(): { remotes: SpaceRemotes; store: (spaceId: string) => Promise<Store> } {
    const { spaceRemotes, spaceStore } = this.#s.spaceOptions;
    if (!spaceRemotes || !spaceStore) {
      throw new KithError(ErrorCode.BadInput, 'this vault was opened without spaceRemotes and spaceStore: shared spaces are not available', {
        hint: 'pass VaultOptions.spaceRemotes (Node: nodeSpaceRemotes from @kith/node) and spaceStore',
        reason: 'no-space-remotes',
      });
    }
    return { remotes: spaceRemotes, store: spaceStore };
  }

  /** This device acting for its person (the identity loaded, or created, on first need). */
  async #actor(ctx: EngineContext): Promise<SpaceActor> {
    if (!this.#person) {
      this.#person = loadIdentity(ctx);
      this.#person.catch(() => (this.#person = undefined));
    }
    const box = new Map(ctx.registry.recipients());
    return {
      person: await this.#person,
      deviceId: ctx.deviceId,
      signSeed: ctx.signSeed,
      boxSecret: ctx.boxSecret,
      signPub: ctx.registry.deviceSignPub(ctx.deviceId)!,
      boxPub: box.get(ctx.deviceId)!,
    };
  }

  async #vaultUrl(): Promise<string> {
    return (await this.#s.store.read((tx) => readMeta<VaultMeta>(tx, META.vault)))!.remoteUrl;
  }

  async #deviceName(): Promise<string> {
    return (await this.#s.store.read((tx) => readMeta<DeviceMeta>(tx, META.device)))?.name ?? 'device';
  }
}

/** Randomness whose first draw is `first` (the nonce drawn beforehand), then `random`'s. */
function firstDraw(first: Uint8Array, random: Deps['random']): Deps['random'] {
  let used = false;
  return (n) => {
    if (!used && n === first.length) {
      used = true;
      return first;
    }
    return random(n);
  };
}
