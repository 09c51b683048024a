/**
 * People for the spaces tests: each a Vault of their own (own store, own
 * personal remote), all sharing one world of memory remotes by URL, so a
 * space's remote (`<vault url>/spaces/<id>`) is reachable by every person.
 */
import assert from 'node:assert/strict';
import { seededRandom } from '../../base/deps.js';
import { ErrorCode, KithError } from '../../base/errors.js';
import type { Remote, RemoteDeviceKey } from '../../ports/remote.js';
import { bytesEqual } from '../../crypto/index.js';
import { SpaceState } from '../../spaces/space-state.js';
import type { Store } from '../../ports/store.js';
import { newMemoryStoreData, openMemoryStore, type MemoryStoreData } from '../../testing/memory-store.js';
import { openMemoryRemote } from '../../testing/memory-remote.js';
import { Vault } from '../vault.js';
import type { SpaceRemotes, VaultOptions } from '../vault-types.js';
import type { Role } from './space-types.js';

/** Memory remotes by URL: what a folder tree is to `nodeSpaceRemotes`. */
export class World {
  readonly remotes = new Map<string, Map<string, Uint8Array>>();
  /** Remote calls, when `log` is on: `put <url> <key>`. */
  readonly calls: string[] = [];

  objects(url: string): Map<string, Uint8Array> {
    let m = this.remotes.get(url);
    if (!m) this.remotes.set(url, (m = new Map()));
    return m;
  }

  /** URLs whose remote fails every call, as an unreachable one does. */
  readonly down = new Set<string>();

  /** Remotes that can watch (as a relay's push does): a put tells every watcher of that URL under the key's prefix. */
  watchable = false;
  /** Watchers by URL, while they watch, each with the device (name) whose remote it is. */
  readonly watchers = new Map<string, Set<{ prefix: string; onChange: () => void; by: string }>>();

  /**
   * How many watches of `url` are open now; with `by`, only those of that
   * device (a test cannot tell who stopped from a total taken while
   * another device's watch was still being set up).
   */
  watching(url: string, by?: string): number {
    return [...(this.watchers.get(url) ?? [])].filter((w) => by === undefined || w.by === by).length;
  }

  /** A remote on `url`, opened by device `by` (named in its watches). */
  remote(url: string, by = ''): Remote {
    const r = openMemoryRemote(this.objects(url), url);
    if (this.watchable) {
      const set = this.watchers.get(url) ?? new Set();
      this.watchers.set(url, set);
      Object.assign(r, {
        capabilities: { ...r.capabilities, watch: true },
        watch: (prefix: string, onChange: () => void) => {
          const w = { prefix, onChange, by };
          set.add(w);
          return () => void set.delete(w);
        },
      });
    }
    const tell = (key: string): void => {
      for (const w of this.watchers.get(url) ?? []) if (key.startsWith(w.prefix)) setTimeout(w.onChange, 0);
    };
    const { put, get, list } = { put: r.put.bind(r), get: r.get.bind(r), list: r.list.bind(r) };
    const reach = (): void => {
      if (this.down.has(url)) throw new KithError(ErrorCode.RemoteUnavailable, `${url} is unreachable`);
    };
    return Object.assign(r, {
      put: async (key: string, bytes: Uint8Array, o?: Parameters<Remote['put']>[2]) => {
        reach();
        this.calls.push(`put ${url} ${key}`);
        await put(key, bytes, o);
        tell(key);
      },
      get: async (key: string, o?: Parameters<Remote['get']>[1]) => (reach(), get(key, o)),
      list: async (prefix: string, o?: Parameters<Remote['list']>[1]) => (reach(), list(prefix, o)),
    });
  }

  /** Space remotes follow a relay's sign-in rules (see {@link signerRules}). */
  relayRules = false;

  readonly spaceRemotes: SpaceRemotes = this.spaceRemotesOf('');

  /** Space remotes opened by device `by`. */
  spaceRemotesOf(by: string): SpaceRemotes {
    return {
      urlFor: (vaultUrl, spaceId) => `${vaultUrl}/spaces/${spaceId}`,
      open: async (url) => (this.relayRules ? signerRules(this.remote(url, by)) : this.remote(url, by)),
    };
  }
}

/** One device of a person: its stores survive close/reopen. */
export class Device {
  readonly data: MemoryStoreData = newMemoryStoreData();
  readonly spaceData = new Map<string, MemoryStoreData>();
  /** Wraps each space store this device opens (tests that crash a write). */
  wrapSpaceStore: (store: Store) => Store = (store) => store;

  constructor(
    readonly world: World,
    readonly url: string,
    readonly name: string,
    readonly seed: number,
  ) {}

  options(): Pick<VaultOptions, 'store' | 'remote' | 'deps' | 'spaceRemotes' | 'spaceStore' | 'snapshotEvery'> {
    return {
      store: openMemoryStore(this.data),
      remote: this.world.remote(this.url, this.name),
      deps: { random: seededRandom(this.seed) },
      spaceRemotes: this.world.spaceRemotesOf(this.name),
      snapshotEvery: false,
      spaceStore: async (spaceId) => {
        let d = this.spaceData.get(spaceId);
        if (!d) this.spaceData.set(spaceId, (d = newMemoryStoreData()));
        return this.wrapSpaceStore(openMemoryStore(d));
      },
    };
  }

  /** Every record this device holds, in any store (personal or spaces), as text. */
  everything(): string {
    const rows = [this.data, ...this.spaceData.values()].flatMap((d) => [...d.records.values()]);
    return JSON.stringify(rows, (_k, v: unknown) => (v instanceof Map ? [...v.entries()] : v));
  }
}

/** A person with a new vault of their own on `memory://<name>`. */
export async function newPerson(world: World, name: string, seed: number): Promise<{ vault: Vault; device: Device }> {
  const device = new Device(world, `memory://${name}`, name, seed);
  const { vault } = await Vault.create({ ...device.options(), remoteUrl: device.url, deviceName: name });
  return { vault, device };
}

/** A second device of `vault`'s person, paired with `vault.devices.pair` / `Vault.join`. */
export async function pairDevice(vault: Vault, first: Device, name: string, seed: number): Promise<{ vault: Vault; device: Device }> {
  const device = new Device(first.world, first.url, name, seed);
  let onCode: (c: string) => void = () => undefined;
  const code = new Promise<string>((resolve) => (onCode = resolve));
  let onSas: (s: string) => void = () => undefined;
  const sas = new Promise<string>((resolve) => (onSas = resolve));
  const inviter = vault.devices.pair({ pollMs: 5, timeoutMs: 60_000, onCode: (c) => onCode(c), confirm: async (j) => j.sas === (await sas) });
  const joined = await Vault.join({ ...device.options(), remoteUrl: device.url, deviceName: name, code: await code, pollMs: 5, onSas: (s) => onSas(s) });
  await inviter;
  return { vault: joined, device };
}

/**
 * A space's remote with the relay's sign-in rules, simplified (each opened
 * remote is one connection with the key last lent to it): `invites/` is
 * open; anything else needs a key for the space. A person key
 * (`person:<id>`) reads, and writes that person's certificates (and entry
 * 1 of an empty space); a device key does anything while the device is in
 * the newest certificate of a current member, with that key.
 */
export function signerRules(inner: Remote): Remote {
  let lent: RemoteDeviceKey | undefined;
  const allow = async (key: string, writing: boolean): Promise<void> => {
    if (key.startsWith('invites/')) return;
    const no = (why: string) => new KithError(ErrorCode.Forbidden, `relay: ${lent?.signer ?? 'nobody'} may not ${writing ? 'write' : 'read'} ${key}: ${why}`);
    if (!lent) throw no('no key lent');
    const space = await new SpaceState(lent.vaultId).refresh(inner);
    if (lent.signer.startsWith('person:')) {
      const personId = lent.signer.slice('person:'.length);
      const founding = key === 'members/000000000001' && space.m.seq === 0;
      if (writing && !founding && !key.startsWith(`people/${personId}/devices/`)) throw no('a person key writes its own certificates only');
      return;
    }
    const admitted = space.m.members().some((m) => {
      const certs = space.certs(m.personId);
      const device = certs?.deviceAt(lent!.signer, certs.version);
      return device !== undefined && bytesEqual(device.signPub, lent!.signPub);
    });
    if (!admitted) throw no('the device is in no member’s newest certificate');
  };
  return Object.assign(Object.create(inner) as Remote, {
    useDeviceKey: (k: RemoteDeviceKey) => void (lent = k),
    get: async (k: string, o?: Parameters<Remote['get']>[1]) => (await allow(k, false), inner.get(k, o)),
    head: async (k: string, o?: Parameters<Remote['head']>[1]) => (await allow(k, false), inner.head(k, o)),
    list: async (p: string, o?: Parameters<Remote['list']>[1]) => (await allow(p, false), inner.list(p, o)),
    put: async (k: string, b: Uint8Array, o?: Parameters<Remote['put']>[2]) => (await allow(k, true), inner.put(k, b, o)),
    delete: async (k: string, o?: Parameters<Remote['delete']>[1]) => (await allow(k, true), inner.delete(k, o)),
  });
}

/** Runs both sides of an invite at once; each side confirms with the string the other saw. */
export async function invite(admin: Vault, space: string, invitee: Vault, role: Role, name: string) {
  let onCode: (c: string) => void = () => undefined;
  const code = new Promise<string>((resolve) => (onCode = resolve));
  let onSas: (s: string) => void = () => undefined;
  const joinerSas = new Promise<string>((resolve) => (onSas = resolve));
  const seen: { admin?: string; who?: string } = {};
  const inviting = admin.spaces.invite(space, {
    role,
    pollMs: 5,
    timeoutMs: 60_000,
    onCode: (c) => onCode(c),
    confirm: async (sas, who) => {
      seen.admin = sas;
      seen.who = who.name;
      return sas === (await joinerSas);
    },
  });
  const joined = await invitee.spaces.join(await code, { name, pollMs: 5, timeoutMs: 60_000, onSas: (s) => onSas(s) });
  const invited = await inviting;
  assert.equal(invited.sas, joined.sas);
  assert.equal(seen.admin, await joinerSas);
  assert.equal(seen.who, name);
  assert.equal(invited.role, role);
  assert.equal(joined.role, role);
  return { joined, invited, code: await code };
}
