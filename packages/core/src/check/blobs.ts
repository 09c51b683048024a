/**
 * @module check/blobs
 * Blob manifests, chunks and GC marks. Every manifest is read, decrypted
 * and checked against its id, and its chunks must be listed; with
 * `readData` every chunk is read and checked too (the costly part, as in
 * `restic check --read-data`).
 */
import { blobKeys, decodeBlobObject, decodeManifestPlaintext, MAX_MANIFEST_BYTES } from '../format/blob-format.js';
import { MAX_CHUNK } from '../blobs/chunker.js';
import { ErrorCode } from '../base/errors.js';
import { throwIfAborted } from '../ports/remote.js';
import { readInOrder, type CheckRun } from './run.js';
import type { SnapshotChunks } from './snapshots.js';

const REUPLOAD = 'store the file again from a device that has it, or restore the object from another copy of the remote';
const COLLECTED = 'blob garbage collection marks it and deletes it after the grace period; nothing is lost';
const MARK_BYTES = 8;

/**
 * `live`: manifest ids live records reference (this device's copy);
 * `mentioned`: manifest ids any op on the remote ever set; `snapshots`:
 * the chunks snapshots reference, and those the snapshot check has read.
 */
export async function checkBlobs(
  run: CheckRun,
  live: ReadonlySet<string>,
  mentioned: ReadonlySet<string>,
  snapshots: SnapshotChunks,
  readData: boolean,
): Promise<void> {
  const { log, layout } = run;
  /** chunk id → size some manifest (blob or snapshot) gives it. */
  const wanted = new Map<string, number>(snapshots.sizes);
  const manifests = [...layout.manifests].sort();
  const manifestReads = readInOrder(run, manifests.map(blobKeys.manifest));
  for (const id of manifests) {
    throwIfAborted(run.signal);
    const key = blobKeys.manifest(id);
    const bytes = (await manifestReads.next()).value;
    if (!bytes) continue;
    try {
      const plain = await decodeBlobObject('manifest', bytes, {
        vaultId: run.ctx.vaultId,
        expectId: id,
        epochKey: (e) => run.epochKeys.get(e),
        maxBytes: MAX_MANIFEST_BYTES,
      });
      const manifest = decodeManifestPlaintext(plain, id);
      log.counts.manifests++;
      for (const [chunk, size] of manifest.chunks) {
        wanted.set(chunk, size);
        if (!layout.chunks.has(chunk)) {
          log.add(
            'missing',
            blobKeys.chunk(chunk),
            ErrorCode.NotFound,
            `blob chunk ${chunk.slice(0, 12)}… of blob ${id.slice(0, 12)}… is missing`,
            `the blob cannot be read; ${REUPLOAD}`,
          );
        }
      }
    } catch (e) {
      log.failed(key, e, REUPLOAD);
      continue;
    }
    if (!live.has(id) && !mentioned.has(id)) {
      log.add(
        'unreferenced',
        key,
        ErrorCode.UnreferencedObject,
        `blob ${id.slice(0, 12)}… is referenced by no record`,
        `an upload whose record was never written; ${COLLECTED}`,
      );
    }
  }
  for (const id of [...live].sort()) {
    if (!layout.manifests.has(id)) {
      log.add(
        'missing',
        blobKeys.manifest(id),
        ErrorCode.NotFound,
        `blob ${id.slice(0, 12)}… is referenced by a record but missing`,
        `the blob cannot be read; ${REUPLOAD}`,
      );
    }
  }
  const chunks = [...layout.chunks].sort();
  // A chunk the snapshot check read and verified is not read again.
  const toRead = chunks.filter((id) => !snapshots.read.has(id));
  const chunkReads = readData ? readInOrder(run, toRead.map(blobKeys.chunk)) : undefined;
  for (const id of chunks) {
    throwIfAborted(run.signal);
    log.counts.chunks++;
    const key = blobKeys.chunk(id);
    const size = wanted.get(id);
    if (size === undefined) {
      log.add(
        'unreferenced',
        key,
        ErrorCode.UnreferencedObject,
        `blob chunk ${id.slice(0, 12)}… belongs to no blob or snapshot`,
        `left by an interrupted upload or a blob's removal; ${COLLECTED}`,
      );
    }
    if (!chunkReads || snapshots.read.has(id)) continue;
    const bytes = (await chunkReads.next()).value;
    if (!bytes) continue;
    try {
      const plain = await decodeBlobObject('chunk', bytes, {
        vaultId: run.ctx.vaultId,
        expectId: id,
        epochKey: (e) => run.epochKeys.get(e),
        maxBytes: MAX_CHUNK,
      });
      if (size !== undefined && plain.length !== size) {
        log.add('damaged', key, ErrorCode.IntegrityCorrupt, `blob chunk ${id.slice(0, 12)}… holds ${plain.length} bytes, its manifest says ${size}`, REUPLOAD);
        continue;
      }
      log.counts.chunksRead++;
    } catch (e) {
      log.failed(key, e, REUPLOAD);
    }
  }
  for (const [key, target] of layout.marks) {
    const bytes = await run.read(key);
    if (!bytes) continue;
    if (bytes.length !== MARK_BYTES) {
      log.add(
        'damaged',
        key,
        ErrorCode.IntegrityCorrupt,
        `GC mark ${key} is ${bytes.length} bytes, not ${MARK_BYTES}`,
        'garbage collection ignores it; delete it',
      );
      continue;
    }
    log.counts.marks++;
    const exists = target.startsWith(blobKeys.manifestsPrefix)
      ? layout.manifests.has(target.slice(blobKeys.manifestsPrefix.length))
      : layout.chunks.has(target.slice(blobKeys.chunksPrefix.length));
    if (!exists)
      log.add(
        'unreferenced',
        key,
        ErrorCode.UnreferencedObject,
        `GC mark ${key} marks an object that is gone`,
        'left by an interrupted garbage collection; harmless, and safe to delete',
      );
  }
}
