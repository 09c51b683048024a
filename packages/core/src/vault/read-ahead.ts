/**
 * @module vault/read-ahead
 * Reads a restoring or pairing device starts before it can check what
 * they return, so that independent round trips overlap; each result is
 * used only once what it depends on is verified, exactly as a read made
 * then would be.
 */
import { openSealedKey, openSealedKeyBytes, sealedKeyPlace, type KeyPlace } from '../identity/epoch-seals.js';
import type { HeadsRead } from '../identity/heads-read.js';
import { catchUpWithHeads, type HeadTime, type StoredVault } from '../identity/join.js';
import type { Remote } from '../ports/remote.js';
import { SnapshotPrefetch } from '../snapshot/prefetch.js';
import { bulkRowOutput } from '../snapshot/row-reader.js';
import type { Store } from '../ports/store.js';

/** A sealed key's bytes read ahead, and where from. */
export interface SealedAhead {
  readonly key: string;
  readonly bytes: Promise<Uint8Array | null>;
}

/** Starts reading the key sealed to `recipientId` at the registry's current epoch (a failure surfaces when it is opened). */
export function readSealedAhead(p: KeyPlace, recipientId: string): SealedAhead {
  const key = sealedKeyPlace(p.registry, p.registry.epoch, recipientId);
  const bytes = p.remote.get(key);
  bytes.catch(() => undefined);
  return { key, bytes };
}

/**
 * Opens the key sealed at `epoch` to `recipientId` against the registry as
 * it stands now, from the bytes read ahead if they are the ones now named
 * (the registry's catch-up may have moved the epoch: then read again).
 */
export async function openSealedAhead(
  p: KeyPlace,
  epoch: number,
  recipientId: string,
  boxSecret: Uint8Array,
  ahead: SealedAhead,
): Promise<Uint8Array | undefined> {
  if (sealedKeyPlace(p.registry, epoch, recipientId) !== ahead.key) return openSealedKey(p, epoch, recipientId, boxSecret);
  const bytes = await ahead.bytes;
  return bytes ? openSealedKeyBytes(p, epoch, recipientId, bytes, boxSecret) : undefined;
}

/** What a newcomer read once it may authenticate: the heads (also handed to its first pull), its vault key, and the snapshot read-ahead. */
export interface NewcomerReads {
  readonly heads: HeadsRead & { times: HeadTime[] };
  readonly epochKey: Uint8Array | undefined;
  readonly prefetch: SnapshotPrefetch;
}

/**
 * The authenticated reads of a restore or a pairing, at once: the key sealed to `recipientId` as
 * the registry stands, the first pull's snapshot reads and every head. Each is used only once
 * what it depends on is verified: the heads against the registry, then `check` (the caller's
 * checks of the caught-up registry), then the sealed key against that registry; the snapshot by
 * the bootstrap's own checks.
 */
export async function readAsNewcomer(
  remote: Remote,
  stored: StoredVault,
  recipientId: string,
  boxSecret: Uint8Array,
  o: { store: Store; check?: () => void },
): Promise<NewcomerReads> {
  const { header, registry } = stored;
  const place = { remote, registry, vaultId: header.vaultId };
  const sealed = readSealedAhead(place, recipientId);
  let epochKey: Uint8Array | undefined;
  let opened: (k: Uint8Array | undefined) => void = () => undefined;
  const openedKey = new Promise<Uint8Array | undefined>((resolve) => (opened = resolve));
  // The manifest read ahead is decoded (to name its chunks) with the key this device opens, once it has.
  const keyOf = async (e: number): Promise<Uint8Array | undefined> => {
    const key = await openedKey;
    return e === registry.epoch ? key : undefined;
  };
  // Only a store with `bulkLoad` takes the first chunks' rows from here; others read them through the blob layer.
  const prefetch = new SnapshotPrefetch(remote, header.vaultId, registry, keyOf, o.store.bulkLoad ? bulkRowOutput(o.store) : undefined);
  try {
    const heads = await catchUpWithHeads(remote, stored);
    o.check?.();
    epochKey = await openSealedAhead(place, registry.epoch, recipientId, boxSecret, sealed);
    return { heads, epochKey, prefetch };
  } finally {
    opened(epochKey);
  }
}
