/**
 * @module vault/backup-restore
 * `Vault.restoreFromBackup()`: the vault again, on a new and empty remote,
 * from a backup file (and, for an incremental one, the files of its chain).
 * The vault keeps its id, registry and recovery key: the backup's signed
 * objects are put back byte for byte, this store joins as a new device with
 * the recovery code or password (as `restore` does), and the records are
 * written again as this device's writes; blobs keep their encrypted
 * objects, so every ref still resolves. Every file is read and verified in
 * full before anything is written anywhere.
 */
import { lendDeviceKey, usesDeviceKey } from '../ports/capabilities.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesEqual, hexToBytes, parseRecoveryCode, passwordKeys, recoveryKeys } from '../crypto/index.js';
import { BackupFileReader } from '../format/backup-file.js';
import { openBackupKey, opensWithRecoveryKey, type BackupFrame, type BackupRecord, type BackupState } from '../format/backup-header.js';
import { blobKeys } from '../format/blob-format.js';
import { decodeVaultHeader, remoteKeys } from '../format/index.js';
import { checkDeviceName, refuseExistingVault } from '../identity/join.js';
import { remoteDeviceKey } from '../identity/remote-auth.js';
import { DeviceRegistry, initialRegistry } from '../identity/registry.js';
import type { JsonObject } from '../model/json.js';
import { putOp } from '../model/local-writes.js';
import { isReservedCollection } from '../model/names.js';
import { putIfAbsentHolds } from '../ports/put-if-absent.js';
import type { Remote } from '../ports/remote.js';
import type { BackupSource } from './backup.js';
import { restoreVault } from './lifecycle.js';
import { Records } from './records.js';
import { readDirectory, saveEntry } from './spaces/directory.js';
import { loadIdentity } from './spaces/identity.js';
import { deviceKeyOf } from '../identity/device-key.js';
import { membershipKey } from '../spaces/membership-entry.js';
import type { VaultSession } from './session.js';
import type { RestoreVaultOptions } from './vault-types.js';

export type RestoreFromBackupOptions = RestoreVaultOptions & {
  /** The backup to restore: the newest file of its chain. */
  readonly backup: BackupSource;
  /** The file of the chain named `name` (where `backup` lies), or undefined if there is none. */
  readonly beside?: (name: string) => BackupSource | undefined;
  /** Called as records and blobs are put back. */
  readonly onProgress?: (p: { readonly records: number; readonly blobs: number }) => void;
};

/** What a restore from backup brought back. */
export interface BackupRestoreResult {
  /** Live records written. */
  readonly records: number;
  /** Blobs put back on the remote. */
  readonly blobs: number;
  /** False when the newest file was written without blobs (`--no-blobs`): their refs stay unresolved. */
  readonly blobsIncluded: boolean;
  /** Files of the chain read (1 for a full backup). */
  readonly files: number;
  /**
   * Shared spaces of the directory whose remote holds no space now (or could
   * not be opened): those hosted next to the lost vault went with its remote
   * and are not recovered; the directory marks them `lost`, so the person's
   * devices stop syncing them (until one turns a space's sync on again). Checked only when
   * `spaceRemotes` is given; the others are read again once a member's
   * device or the keyring gives keys.
   */
  readonly lostSpaces: readonly { readonly spaceId: string; readonly name: string; readonly url: string }[];
}

/** One file of the chain once verified: how to read it again, and its key. */
interface VerifiedFile {
  readonly source: BackupSource;
  readonly key: Uint8Array;
}

/** Records written per store transaction during a restore. */
const WRITE_BATCH = 1000;

/** Recreates the vault of a backup on the empty `remote`, with this store as a new device. */
export async function restoreFromBackup(o: RestoreFromBackupOptions, remote: Remote): Promise<{ session: VaultSession; result: BackupRestoreResult }> {
  const secret = 'recoveryCode' in o ? parseRecoveryCode(o.recoveryCode) : undefined; // a typo fails before anything is read
  checkDeviceName(o.deviceName);
  if (!secret && usesDeviceKey(remote)) {
    // Such a remote (the relay) takes the registry's first entries only from the recovery key, which signs entry 1.
    throw new KithError(ErrorCode.BadInput, `a backup can be restored onto ${remote.url} with the recovery code only`, {
      hint: "this remote authenticates every write, and only the recovery key may write a new vault's first registry entries",
    });
  }
  await refuseExistingVault(o.store); // before the remote is written to
  const newest = await BackupFileReader.open(o.backup.open(), o.backup.name);
  let fileKey: Uint8Array | undefined;
  let signer: { id: 'recovery' | 'password'; seed: Uint8Array };
  try {
    const h = newest.header;
    if (secret) {
      const keys = recoveryKeys(secret);
      if (!bytesEqual(keys.sign.pub, h.recoverySignPub)) {
        if (await opensWithRecoveryKey(newest.parsed, keys.sign.pub, keys.box.secret)) {
          throw new KithError(ErrorCode.IntegrityCorrupt, `${o.backup.name} is corrupt: its header was altered`, { hint: 'nothing from it was used' });
        }
        throw new KithError(ErrorCode.WrongRecoveryCode, `this recovery code does not open ${o.backup.name}`, {
          hint: 'use the recovery code of the vault this backup is of (after a rotation: the newest one)',
        });
      }
      fileKey = await openBackupKey(newest.parsed, { recipient: 'recovery', boxSecret: keys.box.secret });
      signer = { id: 'recovery', seed: keys.sign.seed };
    } else {
      const stanza = newest.parsed.stanzas.find((s) => s.kind === 'password');
      if (stanza?.kind !== 'password') {
        throw new KithError(ErrorCode.WrongPassword, `${o.backup.name} cannot be opened with a password: the vault had none when it was written`, {
          hint: 'restore with the recovery code',
        });
      }
      const keys = await passwordKeys((o as { password: string }).password, stanza.params);
      if (!bytesEqual(keys.sign.pub, stanza.signPub)) throw new KithError(ErrorCode.WrongPassword, `wrong password for ${o.backup.name}`);
      fileKey = await openBackupKey(newest.parsed, { recipient: 'password', boxSecret: keys.box.secret });
      signer = { id: 'password', seed: keys.sign.seed };
    }
  } finally {
    await newest.close();
  }
  // Pass 1: every file of the chain read to its end and verified; nothing written yet.
  const { chain, objects, blobsIncluded } = await verifyChain(o, fileKey!);
  if (await remote.head(remoteKeys.vault)) {
    throw new KithError(ErrorCode.RemoteInUse, `the remote ${remote.url} already holds a vault`, {
      hint: 'restore a backup onto a new, empty location (the vault it holds can be restored or joined instead)',
      reason: 'remote-has-vault',
    });
  }
  // Pass 2: the vault's signed objects first (header, registry in order, sealed keys), then this device joins.
  // The header goes first, put-if-absent and read back, as `create` writes it: of two devices racing
  // here the loser stops, and a relay learns the recovery key that signs in the writes after it.
  const header = objects.find(([k]) => k === remoteKeys.vault)![1];
  if (!(await putIfAbsentHolds(remote, remoteKeys.vault, header)))
    throw new KithError(ErrorCode.RemoteInUse, `another device created a vault at ${remote.url} at the same moment`);
  lendDeviceKey(remote, remoteDeviceKey(chain[0]!.header.vaultId, signer!.id, signer!.seed));
  for (const [key, bytes] of objects) if (key !== remoteKeys.vault) await remote.put(key, bytes, { ifAbsent: true });
  const session = await restoreVault(o, remote);
  const records = new Records(session);
  // Newest file first: a record a newer file holds (or deletes) is taken from it, older copies skipped.
  const seen = new Map<string, Set<string>>();
  const putBlobs = new Set<string>();
  let written = 0;
  let blobs = 0;
  for (const f of chain) {
    const reader = await BackupFileReader.open(f.source.open(), f.source.name);
    try {
      reader.unlock(f.key);
      let pending: BackupRecord[] = [];
      const flush = async (): Promise<void> => {
        if (pending.length === 0) return;
        written += await writeRecords(records, pending);
        pending = [];
        o.onProgress?.({ records: written, blobs });
      };
      for (let frame = await reader.next(); frame && frame.type !== 'end'; frame = await reader.next()) {
        if (frame.type === 'blob') {
          const key = frame.kind === 'chunk' ? blobKeys.chunk(frame.id) : blobKeys.manifest(frame.id);
          if (putBlobs.has(key)) continue;
          await remote.put(key, frame.bytes, { ifAbsent: true });
          putBlobs.add(key);
          if (frame.kind === 'manifest') o.onProgress?.({ records: written, blobs: ++blobs });
        } else if (frame.type === 'records') {
          for (const r of frame.records) {
            let ids = seen.get(r[0]);
            if (!ids) seen.set(r[0], (ids = new Set()));
            if (ids.has(r[1])) continue;
            ids.add(r[1]);
            if (r[2] !== null) pending.push(r);
            if (pending.length >= WRITE_BATCH) await flush();
          }
        }
      }
      await flush();
    } finally {
      await reader.close();
    }
  }
  const lostSpaces = await spacesGone(session, records, o);
  return { session, result: { records: written, blobs, blobsIncluded, files: chain.length, lostSpaces } };
}

/**
 * The directory's spaces (not left) whose remote holds no first membership
 * entry now, or cannot be reached. A relay lets only members read a space:
 * the probe signs in as the person (their identity came back with the
 * backup), and a space that refuses this person (removed, say) is there,
 * not lost.
 */
async function spacesGone(session: VaultSession, records: Records, o: RestoreFromBackupOptions): Promise<BackupRestoreResult['lostSpaces']> {
  if (!o.spaceRemotes) return [];
  const entries = (await readDirectory(session.store)).filter((e) => !e.removed);
  if (entries.length === 0) return [];
  const person = await loadIdentity(await session.connect(), { create: false }).catch(() => null);
  const lost: BackupRestoreResult['lostSpaces'][number][] = [];
  for (const e of entries) {
    let held: boolean;
    try {
      const remote = await o.spaceRemotes.open(e.url);
      try {
        if (person)
          lendDeviceKey(
            remote,
            deviceKeyOf(e.spaceId, `person:${person.personId}`, person.sign.seed, () => person.signPub),
          );
        held = (await remote.get(membershipKey(1))) !== null;
      } finally {
        await remote.close().catch(() => undefined);
      }
    } catch (err) {
      if (!(err instanceof KithError)) throw err;
      held = HELD_BUT_REFUSED.has(err.code);
    }
    if (!held) {
      lost.push({ spaceId: e.spaceId, name: e.name, url: e.url });
      // Marked in the directory, so no device of the person (this one, one paired to it later) fails every sync on it; turning its sync on undoes it.
      await saveEntry(records, { ...e, lost: session.deps.now() });
    }
  }
  return lost;
}

/** Refusals that come from a space's remote holding the space: it answered for it, so the space is not lost. */
const HELD_BUT_REFUSED: ReadonlySet<string> = new Set([ErrorCode.Removed, ErrorCode.Revoked, ErrorCode.Forbidden]);

/**
 * Writes records of a backup as this device's puts; those of the reserved
 * `_kith.` collections (retention rules, spaces directory and keyring,
 * which the app's API refuses) as the engine writes them. Returns how
 * many of the app's records were written.
 */
async function writeRecords(records: Records, batch: readonly BackupRecord[]): Promise<number> {
  const reserved = batch.filter(([c]) => isReservedCollection(c));
  const app = batch.filter(([c]) => !isReservedCollection(c));
  if (reserved.length > 0) {
    await records.commitInternal(async (_tx, views, clock, local) => {
      await views.load(reserved.map(([c, id]) => [c, id] as const));
      return reserved.map(([c, id, fields]) => {
        const v = views.view(c, id);
        return local(v, putOp(v, clock.next(), fields as JsonObject));
      });
    });
  }
  return app.length === 0 ? 0 : records.write(app.map(([collection, id, fields]) => ({ kind: 'put', collection, id, fields: fields as JsonObject })));
}

/**
 * Reads every file of the chain (newest first) to its end: each frame
 * authenticated, each file's signature checked against the registry the
 * newest file holds, each older file the one its successor names by hash.
 * Returns the chain and the newest file's vault objects.
 */
async function verifyChain(
  o: RestoreFromBackupOptions,
  newestKey: Uint8Array,
): Promise<{ chain: (VerifiedFile & { header: BackupFileReader['header'] })[]; objects: [string, Uint8Array][]; blobsIncluded: boolean }> {
  const chain: (VerifiedFile & { header: BackupFileReader['header'] })[] = [];
  let objects: [string, Uint8Array][] = [];
  let registry: DeviceRegistry | undefined;
  let source = o.backup;
  let key = newestKey;
  let expect: { hash: Uint8Array; by: string } | undefined;
  let blobsIncluded = true;
  for (;;) {
    const reader = await BackupFileReader.open(source.open(), source.name);
    let state: BackupState | undefined;
    let end: Extract<BackupFrame, { type: 'end' }> | undefined;
    try {
      const h = reader.header;
      if (chain.length === 0) blobsIncluded = h.blobs;
      else if (h.vaultId !== chain[0]!.header.vaultId) throw new KithError(ErrorCode.IntegrityCorrupt, `${source.name} is a backup of another vault`);
      reader.unlock(key);
      const own: [string, Uint8Array][] = [];
      let records = 0;
      let manifests = 0;
      for (let frame = await reader.next(); frame; frame = await reader.next()) {
        if (frame.type === 'state') state = frame.state;
        else if (frame.type === 'object') own.push([frame.key, frame.bytes.slice()]);
        else if (frame.type === 'records') records += frame.records.length;
        else if (frame.type === 'blob') manifests += frame.kind === 'manifest' ? 1 : 0;
        else end = frame;
      }
      if (!end || end.records !== records || end.blobs !== manifests) {
        throw new KithError(ErrorCode.IntegrityCorrupt, `${source.name} is corrupt: its counts do not match its contents`);
      }
      if (expect && !bytesEqual(reader.fileHash(), expect.hash)) {
        throw new KithError(ErrorCode.IntegrityCorrupt, `${source.name} is not the backup ${expect.by} was made after (its SHA-256 differs)`, {
          hint: 'put the right file of the chain beside the newest one',
        });
      }
      if (!registry) {
        objects = own;
        registry = await registryOf(own, h.vaultId, source.name);
        if (!bytesEqual(registry.recoverySignPub(), h.recoverySignPub)) {
          throw new KithError(ErrorCode.IntegrityCorrupt, `${source.name} is corrupt: its header and its registry name different recovery keys`);
        }
      }
      // Older files may be signed by a device revoked since: it was a device of the vault when it wrote them.
      await reader.verifyEnd(end, chain.length === 0 ? registry.signPubOf(h.deviceId) : registry.deviceSignPub(h.deviceId));
      chain.push({ source, key, header: h });
      if (!h.previous) return { chain, objects, blobsIncluded };
      if (!state?.previousKey) throw new KithError(ErrorCode.IntegrityCorrupt, `${source.name} is corrupt: it names a previous file but not its key`);
      const name = h.previous.name;
      const next = o.beside?.(name);
      if (!next) {
        throw new KithError(ErrorCode.NotFound, `${name}, the backup ${source.name} was made after, is missing`, {
          hint: `put ${name} beside ${source.name}: an incremental backup needs every file of its chain`,
        });
      }
      expect = { hash: h.previous.hash, by: source.name };
      key = hexToBytes(state.previousKey);
      source = next;
    } finally {
      await reader.close();
    }
  }
}

/** The registry a backup holds, verified from its header (signed by the recovery key) entry by entry. */
async function registryOf(objects: readonly [string, Uint8Array][], vaultId: string, name: string): Promise<DeviceRegistry> {
  const headerBytes = objects.find(([k]) => k === remoteKeys.vault)?.[1];
  if (!headerBytes) throw new KithError(ErrorCode.IntegrityCorrupt, `${name} is corrupt: it holds no vault header`);
  const header = await decodeVaultHeader(headerBytes);
  if (header.vaultId !== vaultId) throw new KithError(ErrorCode.IntegrityCorrupt, `${name} is corrupt: it holds another vault's header`);
  const registry = new DeviceRegistry(vaultId, initialRegistry(header.recoverySignPub, header.recoveryBoxPub));
  const entries = objects.filter(([k]) => k.startsWith(remoteKeys.registryPrefix)).sort(([a], [b]) => (a < b ? -1 : 1));
  for (const [key, bytes] of entries) {
    if (key !== remoteKeys.registryEntry(registry.seq + 1))
      throw new KithError(ErrorCode.IntegrityCorrupt, `${name} is corrupt: registry entry ${registry.seq + 1} is missing`);
    await registry.applyNext(bytes);
  }
  return registry;
}
