/**
 * People for the spaces tests: each a Vault of their own (own store, own
 * personal remote), all sharing one world of memory remotes by URL, so a
 * space's remote (`<vault url>/spaces/<id>`) is reachable by every person.
 */
import { seededRandom } from '../../base/deps.js';
import type { Remote } from '../../ports/remote.js';
import { newMemoryStoreData, openMemoryStore, type MemoryStoreData } from '../../testing/memory-store.js';
import { openMemoryRemote } from '../../testing/memory-remote.js';
import { Vault } from '../vault.js';
import type { SpaceRemotes, VaultOptions } from '../vault-types.js';

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

  remote(url: string): Remote {
    const r = openMemoryRemote(this.objects(url), url);
    const put = r.put.bind(r);
    return Object.assign(r, {
      put: (key: string, bytes: Uint8Array, o?: Parameters<Remote['put']>[2]) => {
        this.calls.push(`put ${url} ${key}`);
        return put(key, bytes, o);
      },
    });
  }

  readonly spaceRemotes: SpaceRemotes = {
    urlFor: (vaultUrl, spaceId) => `${vaultUrl}/spaces/${spaceId}`,
    open: async (url) => this.remote(url),
  };
}

/** One device of a person: its stores survive close/reopen. */
export class Device {
  readonly data: MemoryStoreData = newMemoryStoreData();
  readonly spaceData = new Map<string, MemoryStoreData>();

  constructor(
    readonly world: World,
    readonly url: string,
    readonly name: string,
    readonly seed: number,
  ) {}

  options(): Pick<VaultOptions, 'store' | 'remote' | 'deps' | 'spaceRemotes' | 'spaceStore' | 'snapshotEvery'> {
    return {
      store: openMemoryStore(this.data),
      remote: this.world.remote(this.url),
      deps: { random: seededRandom(this.seed) },
      spaceRemotes: this.world.spaceRemotes,
      snapshotEvery: false,
      spaceStore: async (spaceId) => {
        let d = this.spaceData.get(spaceId);
        if (!d) this.spaceData.set(spaceId, (d = newMemoryStoreData()));
        return openMemoryStore(d);
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
