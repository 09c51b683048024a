/**
 * @module test-vaults
 * Test helpers for a relay that authenticates devices: a real vault
 * (header and registry, signed as devices sign them) with remotes
 * authenticated as its devices; the relay operator's own view of storage
 * (what a malicious operator can do); and the wrappers that let the shared
 * Remote conformance suite and sync scenarios run against such a relay;
 * and an embedded relay to run them on.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ErrorCode,
  KithError,
  countingRemote,
  decorateRemote,
  remoteKeys,
  type CountingRemote,
  type ListOptions,
  type Remote,
  type RemoteDeviceKey,
  type RemoteObjectInfo,
} from '@kith/core/adapter';
import {
  encodeRegistryEntry,
  encodeVaultHeader,
  generateDeviceKeys,
  newVaultId,
  recoveryKeys,
  remoteDeviceKey,
  type DeviceKeys,
  type RegistryChange,
} from '@kith/core/relay';
import { openRelayRemote, type RelayRemote, type RelayRemoteOptions } from '@kith/relay';
import { ObjectDb } from '../object-db.js';
import { startRelay, type RelayOptions, type RunningRelay } from '../relay-server.js';
import type { RelayStorage } from '../relay-storage.js';

const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

/** A vault on a relay whose registry holds `devices`, signed in by the recovery key. */
export interface TestVault {
  /** `relayUrl/name`: the remote URL. */
  readonly url: string;
  readonly vaultId: string;
  readonly devices: DeviceKeys[];
  /** The key device `i` lends its remote. */
  key(i: number): RemoteDeviceKey;
  /** The recovery key as a remote signer (what a founding or restoring device uses). */
  recoveryKey(): RemoteDeviceKey;
  /** A new relay remote authenticated as device `i`. */
  /** A relay remote signed in as device `i`, counting its requests. */
  remote(i?: number, o?: RelayRemoteOptions): RelayRemote & CountingRemote;
  /** Appends a registry entry signed by the recovery key (through the relay, or through `via`); returns its seq. */
  append(change: RegistryChange, via?: Remote): Promise<number>;
  /** Revokes device `i` (a new epoch, as devices do). */
  revoke(i: number): Promise<void>;
}

/** An embedded test relay (see {@link startTestRelay}). */
export interface TestRelay {
  readonly relay: RunningRelay;
  /** The operator's handle on the relay's storage. */
  readonly db: ObjectDb;
  readonly dir: string;
  /** Closes the relay and removes its directory (unless it was given). */
  stop(): Promise<void>;
}

/**
 * An embedded relay on its own SQLite file in a fresh directory, or on
 * `dir`'s (a second process on shared storage), with {@link GENEROUS_LIMITS}
 * unless `o` says otherwise.
 */
export async function startTestRelay(o: Partial<RelayOptions> = {}, dir?: string): Promise<TestRelay> {
  const d = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'kith-relay-'));
  const db = new ObjectDb(d, 'normal');
  const relay = await startRelay({ storage: db, rateLimit: GENEROUS_LIMITS, ...o });
  return {
    relay,
    db,
    dir: d,
    stop: async () => {
      await relay.close();
      if (!dir) fs.rmSync(d, { recursive: true, force: true });
    },
  };
}

/**
 * Creates a vault named `name` on the relay at `relayUrl` the way a
 * founding device does (header, then registry entries through a remote
 * authenticated by the recovery key) with `devices` registered devices.
 *
 * @example
 * const tv = await createTestVault(relay.url, 'family', { devices: 2 });
 * const phone = tv.remote(1);
 */
export async function createTestVault(relayUrl: string, name: string, o: { devices?: number; inviteToken?: string } = {}): Promise<TestVault> {
  const url = `${relayUrl}/${name}`;
  const vaultId = newVaultId(random);
  const recovery = recoveryKeys(random(16));
  const devices = Array.from({ length: o.devices ?? 1 }, () => generateDeviceKeys(random));
  const founder = openRelayRemote(url, { retry: { maxAttempts: 3, baseDelayMs: 5 }, ...(o.inviteToken ? { inviteToken: o.inviteToken } : {}) });
  let seq = 0;
  let prevHash: Uint8Array = new Uint8Array(32);
  let epoch = 0;
  try {
    const header = await encodeVaultHeader(
      { vaultId, createdAt: Date.now(), founder: devices[0]!.deviceId, recoverySignPub: recovery.sign.pub, recoveryBoxPub: recovery.box.pub },
      recovery.sign.seed,
    );
    await founder.put(remoteKeys.vault, header, { ifAbsent: true });
  } catch (e) {
    await founder.close();
    throw e;
  }
  founder.useDeviceKey(remoteDeviceKey(vaultId, 'recovery', recovery.sign.seed));
  const append = async (change: RegistryChange, via: Remote = founder): Promise<number> => {
    const entry = { seq: seq + 1, prevHash, at: Date.now(), signer: 'recovery', change };
    const { bytes, hash } = await encodeRegistryEntry(vaultId, entry, recovery.sign.seed);
    await via.put(remoteKeys.registryEntry(entry.seq), bytes, { ifAbsent: true });
    seq = entry.seq;
    prevHash = hash;
    return seq;
  };
  try {
    for (const [i, d] of devices.entries()) await append({ kind: 'add', deviceId: d.deviceId, name: `device ${i}`, signPub: d.sign.pub, boxPub: d.box.pub });
  } finally {
    await founder.close();
  }
  const key = (i: number): RemoteDeviceKey => remoteDeviceKey(vaultId, devices[i]!.deviceId, devices[i]!.sign.seed);
  return {
    url,
    vaultId,
    devices,
    key,
    recoveryKey: () => remoteDeviceKey(vaultId, 'recovery', recovery.sign.seed),
    remote: (i = 0, ro = {}) => {
      const r = countingRemote(openRelayRemote(url, ro));
      r.useDeviceKey(key(i));
      return r;
    },
    append,
    revoke: async (i) => {
      epoch++;
      await append({ kind: 'revoke', deviceId: devices[i]!.deviceId, lastSeq: 0, epoch });
    },
  };
}

/**
 * The relay operator's view of one vault: straight to storage, past every
 * check. What a malicious operator (or an attacker who owns the server)
 * can do; the sync scenarios tamper through it.
 */
export function operatorRemote(db: RelayStorage, vault: string): Remote {
  return {
    url: `operator:${vault}`,
    capabilities: { putIfAbsent: true, watch: false },
    put: async (key, bytes, o) => void (await db.put(vault, key, bytes, o?.ifAbsent ?? false)),
    // A plain Uint8Array, as remotes give: storage may return a Buffer, whose slice() is a view, not a copy.
    get: async (key, o) => {
      const bytes = await db.get(vault, key, o?.range);
      return bytes && Uint8Array.from(bytes);
    },
    head: async (key) => db.head(vault, key),
    list: async (prefix, o: ListOptions = {}) => {
      const out: RemoteObjectInfo[] = [];
      let after = o.after ?? '';
      for (;;) {
        const page = await db.list(vault, prefix, after, 1000);
        out.push(...page.items);
        if (page.next === undefined || page.items.length === 0 || out.length >= (o.limit ?? Infinity)) break;
        after = page.next;
      }
      return out.slice(0, o.limit ?? out.length);
    },
    delete: async (key) => void (await db.delete(vault, key)),
    close: async () => undefined,
  };
}

/**
 * A remote for the shared sync scenarios on an authenticating relay. It
 * is a relay remote; a call the relay refuses goes to the operator's view
 * instead, but only where the scenario acts as the remote itself: a client
 * that never lent a device key (the scenarios' "evil" tamperer), or a
 * device the registry revoked (whose bytes the scenario shows are refused
 * by every reader anyway). A device that gets refused before it lends a
 * key (its bootstrap reads) or while it is registered fails the test.
 */
export function scenarioRemote(relay: RelayRemote, operator: Remote): Remote {
  let lent = false;
  let fellBack: string | undefined;
  const viaOperator = async <T>(what: string, call: (r: Remote) => Promise<T>, overwrite = false): Promise<T> => {
    try {
      return await call(relay);
    } catch (e) {
      // The relay keeps the header and registry entries append-only: an overwrite of one is refused as in use.
      const refused =
        KithError.is(e, ErrorCode.RemoteAuth) || KithError.is(e, ErrorCode.Revoked) || (overwrite && !lent && KithError.is(e, ErrorCode.RemoteInUse));
      if (!refused || (lent && !KithError.is(e, ErrorCode.Revoked))) throw e;
      fellBack ??= what;
      return call(operator);
    }
  };
  // Every other power of the relay remote (batched reads, watching, traffic reports) passes through.
  return decorateRemote(relay, {
    put: (k, b, o) => viaOperator(`PUT ${k}`, (r) => r.put(k, b, o), !o?.ifAbsent),
    get: (k, o) => viaOperator(`GET ${k}`, (r) => r.get(k, o)),
    head: (k, o) => viaOperator(`HEAD ${k}`, (r) => r.head(k, o)),
    list: (p, o) => viaOperator(`LIST ${p}`, (r) => r.list(p, o)),
    delete: (k, o) => viaOperator(`DELETE ${k}`, (r) => r.delete(k, o)),
    useDeviceKey: (key: RemoteDeviceKey) => {
      if (fellBack !== undefined && !lent) throw new Error(`the relay refused a request a device makes before it is registered: ${fellBack}`);
      lent = true;
      relay.useDeviceKey(key);
    },
  });
}

/**
 * The remote of one Remote-conformance test: authenticated as a device of
 * a fresh vault, with the vault's own objects (`vault`, `registry/*`) left
 * out of listings, since the suite expects an empty location.
 */
export function withoutVaultObjects(remote: RelayRemote): Remote {
  const hidden = (key: string): boolean => key === remoteKeys.vault || key.startsWith(remoteKeys.registryPrefix);
  const mayHide = (prefix: string): boolean =>
    remoteKeys.vault.startsWith(prefix) || remoteKeys.registryPrefix.startsWith(prefix) || prefix.startsWith(remoteKeys.registryPrefix);
  return decorateRemote(remote, {
    list: async (prefix: string, o: ListOptions = {}) => {
      if (!mayHide(prefix)) return remote.list(prefix, o);
      // The limit applies after hiding, so list without it.
      const { limit, ...rest } = o;
      const all = (await remote.list(prefix, rest)).filter((i) => !hidden(i.key));
      return limit === undefined ? all : all.slice(0, limit);
    },
  });
}

/** Rate limits no test reaches: tests run many clients from one address (the limits themselves are tested in relay-auth.test.ts). */
export const GENEROUS_LIMITS = { device: { perSecond: 1e6, burst: 1e6 }, anonymous: { perSecond: 1e6, burst: 1e6 } };

/** Resolves once `pred()` holds, polling every 2 ms; rejects after `ms`. */
export async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Both remotes watching `heads/`, sockets live and subscribed; `seenA`/`seenB` collect when each was told. */
export async function watchHeads(a: RelayRemote, b: RelayRemote, liveWithinMs: number): Promise<{ seenA: number[]; seenB: number[]; stop: () => void }> {
  const seenA: number[] = [];
  const seenB: number[] = [];
  const stopA = a.watch('heads/', () => seenA.push(Date.now()));
  const stopB = b.watch('heads/', () => seenB.push(Date.now()));
  await until(() => a.pushLive && b.pushLive, liveWithinMs, 'both sockets');
  // The hello arrives before the subscription is processed; one round trip settles it.
  await a.list('heads/');
  await b.list('heads/');
  return {
    seenA,
    seenB,
    stop: () => {
      stopA();
      stopB();
    },
  };
}
