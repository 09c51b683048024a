/**
 * @module sync/meta
 * Typed access to the store's meta entries that the engine keeps: the
 * vault's identity, this device's secrets, epoch keys, the device registry
 * cache, clocks, push state and per-device pull cursors. Binary values are
 * base64 in JSON.
 */
import { base64 } from '@scure/base';
import { ErrorCode, KithError } from '../base/errors.js';
import type { JsonObject, JsonValue } from '../model/json.js';
import type { StoreTx } from './store.js';
import type { LocalSealParams } from '../crypto/index.js';

export const b64 = (bytes: Uint8Array): string => base64.encode(bytes);
export const unb64 = (text: string): Uint8Array => base64.decode(text);

/** Meta entry names. Changing one is a store migration. */
export const META = {
  vault: 'vault',
  device: 'device',
  epochs: 'epochs',
  registry: 'registry',
  hlc: 'hlc',
  push: 'push',
  pendingSegment: 'push.pending',
  /** What this device last verified of its own chain on the remote (sync/repair). */
  ownChain: 'push.own',
  status: 'status',
  cursor: (deviceId: string) => `cursor.${deviceId}`,
  /** Blobs this device stored or opened: manifest id → size, chunks, name, type. */
  blobs: 'blobs',
  /** This device's blob policy (what to prefetch, how much cache to keep); never synced. */
  blobPolicy: 'blobs.policy',
} as const;

export interface VaultMeta {
  vaultId: string;
  remoteUrl: string;
  createdAt: number;
  founder: string;
  recoverySignPub: string;
  recoveryBoxPub: string;
}

export interface DeviceMeta {
  deviceId: string;
  name: string;
  /** Empty when `sealed` holds the secrets. */
  signSeed: string;
  boxSecret: string;
  /** Present when a local passphrase seals this device's secrets (and every stored epoch key). */
  sealed?: { params: LocalSealParams; secrets: string };
}

export interface PushMeta {
  /** Last segment this device finished uploading (0: none). */
  seq: number;
  /** Its hash (hex); '' for seq 0. */
  hash: string;
  /** The head object still names an older segment. */
  headDirty: boolean;
  /** The registry seq the head on the remote names. */
  registrySeq?: number;
  /** The signed time of the last head this device wrote (ms). */
  headAt?: number;
}

/** A segment built and recorded locally before upload, so a retry re-sends the same bytes. */
export interface PendingSegment {
  seq: number;
  hash: string;
  bytes: string;
  /** Outbox entries up to this seq are inside it. */
  through: number;
  ops: number;
  /** When the newest op inside was written (ms, from its stamp): what an acknowledgement of this seq means (sync/acks). */
  writtenAt?: number;
}

/** How far this device has applied another device's chain. */
export interface Cursor {
  seq: number;
  hash: string;
  /** Full stamp of the last op applied from that device ('' before any). */
  stamp: string;
  /** The head object's etag when last read (idle-pull shortcut). */
  etag: string;
  /**
   * A listed etag whose read brought a head no newer than one seen before:
   * taken as `etag` only if the next pull lists and reads the same again
   * (sync/pull `headEtag`).
   */
  pending?: string;
}

export interface StatusMeta {
  lastPush: string | null;
  lastPull: string | null;
  caughtUp: boolean;
}

export const emptyCursor: Cursor = { seq: 0, hash: '', stamp: '', etag: '' };
export const emptyPush: PushMeta = { seq: 0, hash: '', headDirty: false };

export async function readMeta<T>(tx: StoreTx, key: string): Promise<T | undefined> {
  return (await tx.getMeta(key)) as T | undefined;
}

export async function writeMeta<T>(tx: StoreTx, key: string, value: T | undefined): Promise<void> {
  await tx.setMeta(key, value as unknown as JsonValue | undefined);
}

/** The vault identity, or KITH_NO_VAULT. */
export async function requireVault(tx: StoreTx): Promise<{ vault: VaultMeta; device: DeviceMeta }> {
  const vault = await readMeta<VaultMeta>(tx, META.vault);
  const device = await readMeta<DeviceMeta>(tx, META.device);
  if (!vault || !device) {
    throw new KithError(ErrorCode.NoVault, 'this store holds no vault', {
      hint: 'create a vault first, or restore or join one',
      reason: 'store-empty',
    });
  }
  return { vault, device };
}

export type Json = JsonObject;

/** What this device last verified of its own chain on the remote. */
export interface OwnChainMeta {
  /** Etag of the own head as last written or verified ('' when unknown). */
  headEtag: string;
  /** When the own segments were last listed and checked (device clock, ms). */
  auditedAt?: number;
  /**
   * Seqs the remote lost that this device does not hold either (pushed by
   * a version that did not keep its segments, and lost before the first
   * audit could copy them): nobody can put them back.
   */
  lost?: number[];
}
