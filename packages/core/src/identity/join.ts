/**
 * @module sync/join
 * What creating, restoring and joining a vault share: reading and checking
 * the vault header and registry, and writing a new device's state to its
 * store in one transaction (only after every check passed).
 */
import { b64 } from '../ports/store-meta.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { decodeHead, decodeVaultHeader, MAX_DEVICE_NAME_BYTES, remoteKeys, type Head, type VaultHeader } from '../format/index.js';
import { isDeviceId } from '../model/hlc.js';
import { getListed } from '../ports/capabilities.js';
import type { Remote, RemoteObjectInfo } from '../ports/remote.js';
import type { HeadsRead } from './heads-read.js';
import type { Store, StoreTx } from '../ports/store.js';
import { DeviceRegistry, initialRegistry, type RegistryState } from './registry.js';
import { META, readMeta, writeMeta, type DeviceMeta, type StatusMeta, type VaultMeta } from '../ports/store-meta.js';

/** A vault's header and verified registry as read from its remote. */
export interface StoredVault {
  readonly header: VaultHeader;
  readonly headerBytes: Uint8Array;
  readonly registry: DeviceRegistry;
}

/**
 * Reads the vault header and the whole verified registry from a remote,
 * then catches up with every device's head; returns the heads as read too.
 */
export async function readVault(remote: Remote): Promise<StoredVault & { heads: HeadsRead & { times: HeadTime[] } }> {
  const stored = await readHeaderAndRegistry(remote);
  return { ...stored, heads: await catchUpWithHeads(remote, stored) };
}

/** A registered device's verified head time (absent for version 1 heads). */
export interface HeadTime {
  readonly device: string;
  readonly at?: number;
}

/**
 * Reads the header and the registry entries as listed: the reads a device
 * makes before it can authenticate to a remote that asks (they say which
 * key to prove). Not enough to append: see {@link catchUpWithHeads}.
 */
export async function readHeaderAndRegistry(remote: Remote): Promise<StoredVault> {
  // Listed while the header is read; the entries are verified once the header says by which keys.
  const listing = remote.list(remoteKeys.registryPrefix, { after: remoteKeys.registryEntry(0) });
  listing.catch(() => undefined); // awaited below, unless there is no vault
  const headerBytes = await remote.get(remoteKeys.vault);
  if (!headerBytes) {
    throw new KithError(ErrorCode.RemoteEmpty, `there is no vault at ${remote.url}`, {
      hint: 'check the remote URL, or create a vault there first',
      reason: 'no-vault-at-remote',
    });
  }
  const header = await decodeVaultHeader(headerBytes);
  const registry = new DeviceRegistry(header.vaultId, initialRegistry(header.recoverySignPub, header.recoveryBoxPub));
  await registry.sync(remote, undefined, undefined, listing);
  return { header, headerBytes, registry };
}

/**
 * Every device's signed head names the registry it had seen: a newcomer
 * must see at least that much before it appends, or a remote that dropped
 * the newest entries (a revocation) could make it write into the gap.
 * Every listed head is fetched at once (one round trip, or one batch);
 * they are then verified one by one in listing order, each against the
 * registry as the heads before it brought it up to date. Returns what was
 * read, for the first pull (see identity/heads-read).
 */
export async function catchUpWithHeads(remote: Remote, { header, registry }: StoredVault): Promise<HeadsRead & { times: HeadTime[] }> {
  const listing = await remote.list(remoteKeys.headsPrefix);
  const bytes = await readListedHeads(remote, listing);
  const times: HeadTime[] = [];
  const verified = new Map<string, Head>();
  for (const info of listing) {
    const deviceId = info.key.slice(remoteKeys.headsPrefix.length);
    const signPub = registry.deviceSignPub(deviceId);
    const got = bytes.get(info.key);
    if (!signPub || !got) continue; // strangers' heads are refused when pulling
    const head = await decodeHead(got, { vaultId: header.vaultId, deviceId, signPub });
    await registry.sync(remote, { seq: head.registrySeq, hash: head.registryHash, by: deviceId });
    verified.set(deviceId, head);
    times.push(head.at === undefined ? { device: deviceId } : { device: deviceId, at: head.at });
  }
  return { listing, bytes, verified, times };
}

/**
 * The bytes of every listed head that names a device id, read together (each in the version the
 * listing names, from the listing where the remote can); `known` stands for a head whose listed
 * etag is the one it was read under.
 */
export async function readListedHeads(
  remote: Remote,
  listing: readonly RemoteObjectInfo[],
  known?: HeadsRead,
  signal?: AbortSignal,
): Promise<Map<string, Uint8Array>> {
  const before = new Map((known?.listing ?? []).map((i) => [i.key, i.etag] as const));
  const out = new Map<string, Uint8Array>();
  await Promise.all(
    listing.map(async ({ key, etag }) => {
      if (!isDeviceId(key.slice(remoteKeys.headsPrefix.length))) return;
      const same = etag !== '' && before.get(key) === etag ? known?.bytes.get(key) : undefined;
      const bytes = same ?? (await getListed(remote, key, etag, signal));
      if (bytes) out.set(key, bytes);
    }),
  );
  return out;
}

export interface JoinedState {
  vault: VaultMeta;
  device: DeviceMeta;
  epochs: Record<string, string>;
  registry: RegistryState;
  caughtUp: boolean;
}

export function joinedState(
  header: VaultHeader,
  remoteUrl: string,
  device: DeviceMeta,
  epoch: number,
  epochKey: Uint8Array,
  registry: DeviceRegistry,
): JoinedState {
  return {
    vault: {
      vaultId: header.vaultId,
      remoteUrl,
      createdAt: header.createdAt,
      founder: header.founder,
      recoverySignPub: b64(header.recoverySignPub),
      recoveryBoxPub: b64(header.recoveryBoxPub),
    },
    device,
    epochs: { [epoch]: b64(epochKey) },
    registry: registry.state,
    caughtUp: false,
  };
}

/** Writes a new device's state in one transaction (refusing a home that already holds a vault). */
export async function persistJoined(store: Store, j: JoinedState): Promise<void> {
  await store.write(async (tx) => {
    await refuseExistingVaultTx(tx);
    await writeMeta(tx, META.vault, j.vault);
    await writeMeta(tx, META.device, j.device);
    await writeMeta(tx, META.epochs, j.epochs);
    await writeMeta(tx, META.registry, j.registry);
    await writeMeta<StatusMeta>(tx, META.status, { lastPush: null, lastPull: null, caughtUp: j.caughtUp });
  });
}

export async function refuseExistingVault(store: Store): Promise<void> {
  await store.read(refuseExistingVaultTx);
}

async function refuseExistingVaultTx(tx: StoreTx): Promise<void> {
  if (await readMeta(tx, META.vault)) {
    throw new KithError(ErrorCode.VaultExists, 'this store already holds a vault', { hint: 'give each device a store of its own', reason: 'store-has-vault' });
  }
}

/** A device name: 1–200 UTF-8 bytes, no control characters. */
export function checkDeviceName(name: string | undefined): string {
  const n = (name ?? 'device').trim();
  if (n === '' || new TextEncoder().encode(n).length > MAX_DEVICE_NAME_BYTES || /[\u0000-\u001f\u007f]/.test(n)) {
    throw new KithError(ErrorCode.BadInput, `invalid device name ${JSON.stringify(name)}: use 1 to ${MAX_DEVICE_NAME_BYTES} bytes without control characters`);
  }
  return n;
}

export function unknownDevice(deviceId: string): KithError {
  return new KithError(ErrorCode.UnknownDevice, `no device ${JSON.stringify(deviceId)} in this vault`, {
    hint: 'list the devices to find its id',
    reason: 'unknown-device',
  });
}
