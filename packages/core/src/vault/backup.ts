/**
 * @module vault/backup
 * `vault.backup()`: one encrypted file of the whole vault (see
 * format/backup-file and docs/FORMAT.md "Backup file"): the vault's signed
 * objects as the remote holds them (header, registry, sealed keys: so the
 * recovery code alone opens it, and a restored vault keeps its identity;
 * the person's identity as sealed to the recovery and password keys, so it
 * keeps its person too), the records (the reserved `_kith.` ones included:
 * retention rules, spaces directory and keyring), and the blobs' encrypted
 * objects, or with `previous` only what changed since that backup.
 * Streams: memory holds one frame.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesToHex, sha256 } from '../crypto/index.js';
import { blobKeys, decodeBlobObject, decodeManifestPlaintext, MAX_MANIFEST_BYTES, peekBlobEpoch } from '../format/blob-format.js';
import { BackupFileReader, BackupFileWriter } from '../format/backup-file.js';
import { openBackupKey, type BackupRecord, type BackupState } from '../format/backup-header.js';
import { remoteKeys } from '../format/remote-keys.js';
import { loadEpochKey } from '../identity/epochs.js';
import { META, readMeta, type Cursor } from '../ports/store-meta.js';
import { catchUpRegistry, epochKeyNamedBy } from '../sync/catch-up.js';
import type { EngineContext } from '../sync/context.js';
import { MAX_CHUNK } from '../blobs/chunker.js';
import { referencedBlobs } from '../blobs/refs.js';
import { exportRecords } from './export.js';
import { isReservedCollection } from '../model/names.js';
import type { Records } from './records.js';
import type { VaultSession } from './session.js';
import { sealedIdentityKey } from '../spaces/person.js';

/** A backup file to read: the CLI opens it from disk, an app from wherever it keeps it. */
export interface BackupSource {
  /** How errors name it, and how a later incremental backup refers to it (beside its own file). */
  readonly name: string;
  /** The file's bytes from the start; called once per pass over it. */
  open(): AsyncIterable<Uint8Array>;
}

export interface BackupOptions {
  /** Receives the file's bytes in order (write them to a temporary file and rename it at the end). */
  readonly write: (bytes: Uint8Array) => Promise<void>;
  /** Include blobs (default true). */
  readonly blobs?: boolean;
  /** Write only what changed since this earlier backup of the vault (an incremental backup). */
  readonly previous?: BackupSource;
  /** Called as records and blobs are written. */
  readonly onProgress?: (p: { readonly records: number; readonly blobs: number; readonly bytes: number }) => void;
  readonly signal?: AbortSignal;
}

export interface BackupResult {
  /** Bytes written. */
  readonly bytes: number;
  /** Records in the file (for an incremental one: those changed or deleted since the previous backup). */
  readonly records: number;
  /** Blobs in the file. */
  readonly blobs: number;
  /** Referenced blobs the remote no longer holds: not in the file (a later backup tries again). */
  readonly missingBlobs: number;
  readonly incremental: boolean;
}

/** Records per frame, and raw JSON bytes per frame, whichever comes first. */
const FRAME_RECORDS = 1000;
const FRAME_JSON_BYTES = 4 * 1024 * 1024;

/** Writes a backup of the vault of `s` through `o.write`. */
export async function backupVault(s: VaultSession, records: Records, o: BackupOptions): Promise<BackupResult> {
  const ctx = await s.connect();
  return s.exclusive(async () => {
    await catchUpRegistry(ctx, o.signal);
    const prev = o.previous ? await readPrevious(ctx, o.previous) : undefined;
    // Before the records are read: whatever is applied meanwhile is in them or in the next incremental backup.
    const vv = await versionVector(ctx);
    const objects = await vaultObjects(ctx, o.signal);
    const includeBlobs = o.blobs !== false;
    const had = new Set(prev?.state.blobs ?? []);
    const blobIds = includeBlobs ? [...(await referencedBlobs(ctx.store))].filter((id) => !had.has(id)).sort() : [];
    const registry = ctx.registry;
    const epoch = registry.epoch;
    const password = registry.passwordParams();
    const fileKey = ctx.deps.random(32);
    const writer = await BackupFileWriter.start(
      {
        vaultId: ctx.vaultId,
        deviceId: ctx.deviceId,
        createdAt: ctx.deps.now(),
        recoverySignPub: registry.recoverySignPub(),
        salt: ctx.deps.random(16),
        blobs: includeBlobs,
        ...(prev ? { previous: { hash: prev.hash, name: prev.name } } : {}),
      },
      fileKey,
      {
        recoveryBoxPub: registry.recipients().find(([id]) => id === 'recovery')![1],
        ...(password ? { password: { params: password, signPub: password.signPub, boxPub: registry.recipients().find(([id]) => id === 'password')![1] } } : {}),
        epoch: { epoch, key: await loadEpochKey(ctx, epoch) },
      },
      ctx.deps.random,
      o.write,
    );
    let recordCount = 0;
    let blobCount = 0;
    const progress = (): void => o.onProgress?.({ records: recordCount, blobs: blobCount, bytes: writer.bytes });
    const state: BackupState = { v: 1, vv, blobs: [], ...(prev ? { previousKey: bytesToHex(prev.key) } : {}) };
    // The blob list is final only after the blobs: it is in the first frame, so it is computed first.
    const present = await presentBlobs(ctx, blobIds, o.signal);
    await writer.frame({ type: 'state', state: { ...state, blobs: [...had, ...present.keys()].sort() } });
    for (const [key, bytes] of objects) await writer.frame({ type: 'object', key, bytes });

    let batch: BackupRecord[] = [];
    let batchBytes = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      await writer.frame({ type: 'records', records: batch });
      recordCount += batch.length;
      batch = [];
      batchBytes = 0;
      progress();
    };
    const add = async (r: BackupRecord): Promise<void> => {
      batch.push(r);
      batchBytes += r[2] ? JSON.stringify(r[2]).length : 0;
      if (batch.length >= FRAME_RECORDS || batchBytes >= FRAME_JSON_BYTES) await flush();
    };
    if (prev) {
      for await (const r of changedSince(ctx, prev.state.vv)) await add(r);
    } else {
      for await (const page of exportRecords(s, records)) {
        for (const doc of page.records) {
          // Rest destructuring defines own properties: a field named "__proto__" stays a field.
          const { id, ...fields } = doc;
          await add([page.collection, id, fields]);
        }
      }
      for await (const r of reservedRecords(ctx)) await add(r);
    }
    await flush();

    for (const [id, { chunks, manifest }] of present) {
      o.signal?.throwIfAborted();
      // Chunks before their manifest, as an upload does: a restored manifest never names a missing chunk.
      for (const c of chunks) {
        const bytes = await verifiedObject(ctx, 'chunk', c, o.signal);
        if (bytes) await writer.frame({ type: 'blob', kind: 'chunk', id: c, bytes });
      }
      await writer.frame({ type: 'blob', kind: 'manifest', id, bytes: manifest });
      blobCount++;
      progress();
    }
    await writer.end({ records: recordCount, blobs: blobCount }, ctx.signSeed);
    progress();
    return { bytes: writer.bytes, records: recordCount, blobs: blobCount, missingBlobs: blobIds.length - present.size, incremental: prev !== undefined };
  });
}

/** What an incremental backup needs of the previous file: its state, hash, key and name. */
async function readPrevious(ctx: EngineContext, source: BackupSource): Promise<{ state: BackupState; hash: Uint8Array; key: Uint8Array; name: string }> {
  const reader = await BackupFileReader.open(source.open(), source.name);
  try {
    const h = reader.header;
    if (h.vaultId !== ctx.vaultId) {
      throw new KithError(ErrorCode.BadInput, `${source.name} is a backup of another vault (${h.vaultId})`, {
        hint: 'an incremental backup follows an earlier backup of the same vault',
      });
    }
    const key = await openBackupKey(reader.parsed, { recipient: 'epoch', epoch: (e) => loadEpochKey(ctx, e) });
    if (!key) throw new KithError(ErrorCode.BadInput, `${source.name} cannot be opened by this vault's devices`);
    reader.unlock(key);
    const first = await reader.next();
    if (first?.type !== 'state') throw new KithError(ErrorCode.IntegrityCorrupt, `${source.name} is corrupt: it has no state frame`);
    return { state: first.state, hash: await reader.hashToEnd(), key, name: source.name.split(/[\\/]/).pop()! };
  } finally {
    await reader.close();
  }
}

/** Per device, the newest stamp (local part) whose writes this store holds: its own clock, and every pull cursor. */
async function versionVector(ctx: EngineContext): Promise<Record<string, string>> {
  return ctx.store.read(async (tx) => {
    const vv: Record<string, string> = Object.create(null) as Record<string, string>;
    const own = await readMeta<{ last: string }>(tx, META.hlc);
    if (own) vv[ctx.deviceId] = own.last;
    for (const [deviceId] of ctx.registry.devices()) {
      if (deviceId === ctx.deviceId) continue;
      const c = await readMeta<Cursor>(tx, META.cursor(deviceId));
      if (c?.stamp) vv[deviceId] = c.stamp.slice(0, 13);
    }
    return { ...vv };
  });
}

/**
 * Records written since `vv` (by any device, applied here since): every
 * device's stamps increase, and its writes are applied in order, so a
 * write is new exactly when its stamp passes the device's entry in `vv`.
 */
async function* changedSince(ctx: EngineContext, vv: Record<string, string>): AsyncGenerator<BackupRecord> {
  const log = await ctx.store.read((tx) => tx.readLog({}));
  const changed = new Map<string, Set<string>>();
  for (const e of log) {
    const seen = Object.hasOwn(vv, e.device) ? vv[e.device]! : '';
    if (e.stamp.slice(0, 13) <= seen) continue;
    let ids = changed.get(e.collection);
    if (!ids) changed.set(e.collection, (ids = new Set()));
    ids.add(e.id);
  }
  for (const [collection, set] of [...changed].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const ids = [...set].sort();
    for (let i = 0; i < ids.length; i += FRAME_RECORDS) {
      const rows = await ctx.store.read((tx) => tx.getRecords(collection, ids.slice(i, i + FRAME_RECORDS)));
      for (const id of ids.slice(i, i + FRAME_RECORDS)) {
        const row = rows.get(id);
        if (row) yield [collection, id, row.deleted ? null : row.fields];
      }
    }
  }
}

/**
 * The vault's signed objects as the remote holds them: its header, every
 * registry entry this device verified (checked against the hashes it
 * keeps), and every sealed key. Copied byte for byte: only their signers
 * could write them again.
 */
async function vaultObjects(ctx: EngineContext, signal?: AbortSignal): Promise<[string, Uint8Array][]> {
  const call = signal ? { signal } : {};
  const get = async (key: string): Promise<Uint8Array> => {
    const bytes = await ctx.remote.get(key, call);
    if (!bytes) throw new KithError(ErrorCode.RemoteUnavailable, `${key} vanished from the remote during the backup`, { hint: 'run the backup again' });
    return bytes;
  };
  const out: [string, Uint8Array][] = [[remoteKeys.vault, await get(remoteKeys.vault)]];
  const hashes = ctx.registry.state.hashes;
  for (let seq = 1; seq <= hashes.length; seq++) {
    const key = remoteKeys.registryEntry(seq);
    const bytes = await get(key);
    if (bytesToHex(await sha256(bytes)) !== hashes[seq - 1]) {
      throw new KithError(ErrorCode.IntegrityChain, `registry entry ${seq} on the remote is not the one this device verified`, {
        hint: 'the remote replaced it; check the remote before backing up',
      });
    }
    out.push([key, bytes]);
  }
  // Of the person's identity (keys/identity/) only the copies sealed to the recovery and password keys: a restore opens
  // one with the code or password it proves (the devices' copies are sealed to devices no restore brings back).
  const identity = new Set(['recovery', 'password'].map(sealedIdentityKey));
  for (const info of await ctx.remote.list('keys/', call)) {
    if (!info.key.startsWith(IDENTITY_PREFIX) || identity.has(info.key)) out.push([info.key, await get(info.key)]);
  }
  return out;
}

const IDENTITY_PREFIX = sealedIdentityKey('');

/**
 * The live records of the engine's reserved `_kith.` collections (retention
 * rules, the spaces directory and keyring): `kith export` leaves them out,
 * but they are the vault's settings and its way back to its spaces.
 */
async function* reservedRecords(ctx: EngineContext): AsyncGenerator<BackupRecord> {
  const collections = (await ctx.store.read((tx) => tx.listCollections())).filter(isReservedCollection);
  for (const collection of collections) {
    let after: string | undefined;
    do {
      const page = await ctx.store.read((tx) => tx.query({ collection, limit: FRAME_RECORDS, ...(after ? { after } : {}) }));
      for (const row of page.rows) yield [collection, row.id, row.fields];
      after = page.next ?? undefined;
    } while (after);
  }
}

/** The manifest object and chunks of each blob whose manifest the remote holds (verified); the others are left out. */
async function presentBlobs(
  ctx: EngineContext,
  ids: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, { manifest: Uint8Array; chunks: string[] }>> {
  const out = new Map<string, { manifest: Uint8Array; chunks: string[] }>();
  for (const id of ids) {
    const bytes = await verifiedObject(ctx, 'manifest', id, signal);
    if (!bytes) continue;
    const plain = await decodeBlobObject('manifest', bytes, {
      vaultId: ctx.vaultId,
      expectId: id,
      epochKey: (e) => ctx.epochKeys.get(e),
      maxBytes: MAX_MANIFEST_BYTES,
    });
    out.set(id, { manifest: bytes, chunks: [...new Set(decodeManifestPlaintext(plain, id).chunks.map((c) => c[0]))] });
  }
  return out;
}

/** A blob object's bytes from the remote, verified as a reader would (undefined if the remote lacks it). */
async function verifiedObject(ctx: EngineContext, kind: 'chunk' | 'manifest', id: string, signal?: AbortSignal): Promise<Uint8Array | undefined> {
  const key = kind === 'chunk' ? blobKeys.chunk(id) : blobKeys.manifest(id);
  const bytes = await ctx.remote.get(key, signal ? { signal } : {});
  if (!bytes) {
    if (kind === 'chunk')
      throw new KithError(ErrorCode.NotFound, `blob chunk ${id.slice(0, 12)}… is missing from the remote`, {
        hint: 'the remote lost part of this blob; check the remote',
      });
    return undefined;
  }
  const epoch = peekBlobEpoch(bytes);
  if (epoch !== undefined) await epochKeyNamedBy(ctx, epoch, `blob ${kind} ${id.slice(0, 12)}…`, signal);
  await decodeBlobObject(kind, bytes, {
    vaultId: ctx.vaultId,
    expectId: id,
    epochKey: (e) => ctx.epochKeys.get(e),
    maxBytes: kind === 'chunk' ? MAX_CHUNK : MAX_MANIFEST_BYTES,
  });
  return bytes;
}
