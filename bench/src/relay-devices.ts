/**
 * Registered devices for the load generator without a real vault per
 * device: one vault is made through the core (a founder, and the other
 * devices restored from its recovery code), and the keys the vaults lend
 * their remote (`Remote.useDeviceKey`) are kept. Its header and registry
 * can then be stored under other relay vault names: the relay knows vaults
 * by name, so each copy is a vault of its own with the same registered
 * devices, each of which signs its own challenge for its own token there.
 * @module
 */
import { join } from 'node:path';
import { Vault, type Remote } from '@kith/core';
import { type RemoteDeviceKey } from '@kith/core/adapter';
import { openRelayRemote } from '@kith/relay';
import { openSqliteStore } from '@kith/sqlite';

/** What every copy of the template vault holds and who may sign in to it. */
export interface DeviceTemplate {
  /** `vault` first, then `registry/…` in order: what a copy stores. */
  readonly objects: readonly (readonly [string, Uint8Array])[];
  /** Signs the registry entries in, so it may store them in a copy. */
  readonly recovery: RemoteDeviceKey;
  /** One key per device of a vault. */
  readonly devices: readonly RemoteDeviceKey[];
}

/** `remote`, with the keys a vault lends it also appended to `keys`. */
function keeping(remote: Remote, keys: RemoteDeviceKey[]): Remote {
  return new Proxy(remote, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      const fn = v as (...args: unknown[]) => unknown;
      if (prop === 'useDeviceKey') return (key: RemoteDeviceKey) => (keys.push(key), fn.call(target, key));
      return fn.bind(target);
    },
  });
}

/** Makes a vault of `perVault` devices at `url` (stores under `dir`) and returns its template. */
export async function makeDeviceTemplate(url: string, dir: string, perVault: number): Promise<DeviceTemplate> {
  const lent: RemoteDeviceKey[][] = [];
  const remote = (): Remote => keeping(openRelayRemote(url), (lent[lent.length] = []));
  const store = (i: number) => openSqliteStore(join(dir, `device-${i}`, 'kith.db'));
  const { vault, recoveryCode } = await Vault.create({ store: await store(0), remote: remote(), remoteUrl: url });
  const vaults = [vault];
  try {
    for (let i = 1; i < perVault; i++) vaults.push(await Vault.restore({ store: await store(i), remote: remote(), remoteUrl: url, recoveryCode }));
    // The vault header and registry are readable without a token: they say which key to prove.
    const reader = openRelayRemote(url);
    const keys = ['vault', ...(await reader.list('registry/')).map((i) => i.key)];
    const objects = await Promise.all(keys.map(async (k) => [k, (await reader.get(k))!] as const));
    await reader.close();
    const all = lent.flat();
    return { objects, recovery: all.find((k) => k.signer === 'recovery')!, devices: lent.map((keys) => keys.findLast((k) => k.signer !== 'recovery')!) };
  } finally {
    await Promise.all(vaults.map((v) => v.close()));
  }
}
