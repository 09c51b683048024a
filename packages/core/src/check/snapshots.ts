/**
 * @module check/snapshots
 * Snapshot manifests (`snapshots/<ms>-<deviceId>`), each checked as a
 * bootstrap checks it (snapshot/bootstrap `checkedManifest`: writer
 * admitted, registry position, V against the signed heads and the chains);
 * every chunk it lists must be on the remote. The chunks of every manifest
 * that opens are referenced, as blob GC keeps them. With `readData` each
 * snapshot's state is read through the stream a bootstrap reads it with
 * (chunk ids, sizes, row order and counts).
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { snapshotKeys, type Head, type SnapshotManifest } from '../format/index.js';
import { blobKeys, decodeBlobObject } from '../format/blob-format.js';
import { MAX_CHUNK } from '../blobs/chunker.js';
import { throwIfAborted } from '../ports/remote.js';
import type { EngineContext } from '../sync/context.js';
import { openSnapshotManifest } from '../sync/snapshot-cover.js';
import { checkedManifest } from '../snapshot/bootstrap.js';
import { readSnapshotRows } from '../snapshot/read.js';
import { withObject, type CheckRun } from './run.js';

const REWRITE = 'devices start from an older snapshot or the full history instead; a device that holds the vault can write a new one';

/** What the snapshots need of the blob chunks. */
export interface SnapshotChunks {
  /** Chunk id → plaintext size, for every chunk a manifest that opens lists. */
  readonly sizes: Map<string, number>;
  /** Chunks read and verified here: the blob check need not read them again. */
  readonly read: Set<string>;
}

/**
 * Checks every listed snapshot against the verified `heads`. `ctx` opens
 * them: a context that keeps what it learns (registry catch-ups, epoch
 * keys) to the check.
 */
export async function checkSnapshots(run: CheckRun, ctx: EngineContext, heads: ReadonlyMap<string, Head>, readData: boolean): Promise<SnapshotChunks> {
  const chunks: SnapshotChunks = { sizes: new Map(), read: new Set() };
  /** Per device, the highest seq a snapshot that passed covers. */
  const covered = new Map<string, number>();
  const refused: { key: string; opened: SnapshotManifest | undefined; error: unknown }[] = [];
  for (const key of [...run.layout.snapshots].sort()) {
    throwIfAborted(run.signal);
    const bytes = await run.read(key);
    if (!bytes) continue;
    // Opening and checking both read the manifest: from these bytes, one GET in all.
    const one: EngineContext = { ...ctx, remote: withObject(ctx.remote, key, bytes) };
    const writer = snapshotKeys.parse(key)!.deviceId;
    const reg = ctx.registry.device(writer);
    if (!reg) {
      run.log.add(
        'foreign',
        key,
        ErrorCode.IntegrityUnknownSigner,
        `snapshot by device ${writer}, which is not in the vault's device registry`,
        'no device of this vault wrote it, and every device ignores it; delete it',
      );
      continue;
    }
    const opened = await openSnapshotManifest(one, key, run.signal);
    for (const c of opened?.chunks ?? []) chunks.sizes.set(c.id, c.size);
    if (reg.revoked) {
      run.log.add(
        'unreferenced',
        key,
        ErrorCode.IntegritySnapshot,
        `snapshot by device ${writer}, revoked since: no device starts from it`,
        'harmless; delete it to free its chunks',
      );
      continue;
    }
    let m: SnapshotManifest;
    try {
      m = await checkedManifest(one, key, heads, run.signal);
    } catch (error) {
      refused.push({ key, opened, error });
      continue;
    }
    for (const d of m.devices) covered.set(d.deviceId, Math.max(d.seq, covered.get(d.deviceId) ?? 0));
    let complete = true;
    for (const c of m.chunks) {
      if (run.layout.chunks.has(c.id)) continue;
      complete = false;
      run.log.add('missing', blobKeys.chunk(c.id), ErrorCode.NotFound, `chunk ${c.id.slice(0, 12)}… of snapshot ${key} is missing`, REWRITE);
    }
    if (readData && complete) await readState(run, key, m, chunks.read);
  }
  for (const { key, opened, error } of refused) {
    const gone = opened && compactedAway(run, opened, covered);
    if (!gone || !KithError.is(error, ErrorCode.IntegrityChain)) run.log.failed(key, error, REWRITE);
    else
      run.log.add(
        'unreferenced',
        key,
        ErrorCode.UnreferencedObject,
        `snapshot ${key} needs device ${gone.deviceId}'s segment ${gone.seq + 1}, which compaction deleted under a newer snapshot: no device starts from it`,
        'left by an interrupted compaction (later ones leave it too); harmless: delete it',
      );
  }
  return chunks;
}

/**
 * The device entry of `m` whose next segment went with the start of its
 * chain under a snapshot that passed: compaction removed it, so `m` is
 * merely superseded (a compaction stopped between deleting segments and
 * deleting the snapshots they made useless).
 */
function compactedAway(run: CheckRun, m: SnapshotManifest, covered: ReadonlyMap<string, number>): SnapshotManifest['devices'][number] | undefined {
  // As the segment check judges a gap: compaction's when it starts the chain, and a signed snapshot covers it.
  const first = (device: string): number => Math.min(...(run.layout.segments.get(device)?.keys() ?? []));
  return m.devices.find((d) => first(d.deviceId) > d.seq + 1 && (covered.get(d.deviceId) ?? 0) >= d.seq + 1);
}

/** Reads the whole state of snapshot `key` as a bootstrap does, reporting the first failure against its chunk (or the snapshot). */
async function readState(run: CheckRun, key: string, m: SnapshotManifest, read: Set<string>): Promise<void> {
  const call = run.signal ? { signal: run.signal } : {};
  /** A chunk's failure → its id: the stream rethrows the first one in order. */
  const failedChunk = new Map<unknown, string>();
  const getChunk = async (id: string): Promise<Uint8Array> => {
    try {
      const ck = blobKeys.chunk(id);
      // A chunk another snapshot shares was counted for progress when it was first read.
      const bytes = read.has(id) ? await run.remote.get(ck, call) : await run.read(ck);
      if (!bytes) throw new KithError(ErrorCode.NotFound, `blob chunk ${id.slice(0, 12)}… of snapshot ${key} vanished from the remote`);
      const plain = await decodeBlobObject('chunk', bytes, {
        vaultId: run.ctx.vaultId,
        expectId: id,
        epochKey: (e) => run.epochKeys.get(e),
        maxBytes: MAX_CHUNK,
      });
      if (!read.has(id)) {
        read.add(id);
        run.log.counts.chunksRead++;
      }
      return plain;
    } catch (e) {
      failedChunk.set(e, id);
      throw e;
    }
  };
  try {
    await readSnapshotRows({ getChunk }, key, m, async () => undefined, { signal: run.signal });
  } catch (e) {
    const id = failedChunk.get(e);
    run.log.failed(id === undefined ? key : blobKeys.chunk(id), e, REWRITE);
  }
}
