/**
 * @module check/space-blobs
 * A space's blob objects (`blobs/manifests|chunks/<id>` under its root,
 * FORMAT.md "Spaces" and "Blobs"), once its chains are verified. Without
 * the space's key (no device of the vault need be a member) a check reads
 * each object's 56-byte header only: the type its folder says, a known
 * suite and flags, the id its name says (another id: moved or swapped),
 * an epoch the space's verified epochs hold, and a size a sealed object of
 * that kind can have. When this device holds the key of an epoch (it is a
 * member's device), that epoch's manifests are opened too: a chunk a
 * manifest lists must be there (else missing), and a chunk no manifest
 * under a key this device holds lists is unreferenced (no GC runs in a
 * space yet: left by an interrupted upload). Chunks are not decrypted.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { MAX_CHUNK } from '../blobs/chunker.js';
import { blobKeys, decodeBlobObject, decodeManifestPlaintext, MAX_MANIFEST_BYTES, peekBlobEpoch } from '../format/blob-format.js';
import type { Remote, RemoteObjectInfo } from '../ports/remote.js';
import { openSpaceEpochKey } from '../spaces/epochs.js';
import type { SpaceLayout } from './layout.js';
import type { CheckRun } from './run.js';
import type { VerifiedSpace } from './space-epochs.js';
import { throwIfAborted } from '../ports/remote.js';

/** Preamble 6, suite 1, flags 1, epoch 4, id 32, nonce 12. */
const HEADER = 56;
const TAG = 16;
const REUPLOAD = 'store the file again from a member’s device that has it, or restore the object from another copy of the remote';
const TYPE = { manifests: 'M'.charCodeAt(0), chunks: 'C'.charCodeAt(0) } as const;

type Kind = keyof typeof TYPE;

export async function checkSpaceBlobs(run: CheckRun, s: VerifiedSpace, space: SpaceLayout): Promise<void> {
  if (space.manifests.size === 0 && space.chunks.size === 0) return;
  const { log } = run;
  log.counts.spaceBlobs ??= 0;
  const keys = spaceKeys(run, s);
  /** chunk id → whether some manifest this device opened lists it. */
  const listed = new Set<string>();
  const chunkEpochs = new Map<string, number>();
  /** Epochs with a manifest this device could not read (no key, or damaged), and whether a manifest's epoch is unknown: their chunks are not judged. */
  const unread = new Set<number>();
  let manifestUnknown = false;
  for (const kind of ['manifests', 'chunks'] as const) {
    const objects = kind === 'manifests' ? space.manifests : space.chunks;
    for (const id of [...objects.keys()].sort()) {
      throwIfAborted(run.signal);
      const info = objects.get(id)!;
      const epoch = await checkHeader(run, s, kind, id, info);
      if (epoch === undefined) {
        if (kind === 'manifests') manifestUnknown = true;
        continue;
      }
      log.counts.spaceBlobs++;
      if (kind === 'chunks') {
        chunkEpochs.set(id, epoch);
        continue;
      }
      const epochKey = await keys(epoch);
      if (!epochKey) {
        unread.add(epoch);
        continue;
      }
      try {
        const bytes = await run.read(info.key);
        if (!bytes) {
          unread.add(epoch);
          continue;
        }
        const plain = await decodeBlobObject('manifest', bytes, { vaultId: s.spaceId, expectId: id, epochKey: () => epochKey, maxBytes: MAX_MANIFEST_BYTES });
        for (const [chunk] of decodeManifestPlaintext(plain, id).chunks) {
          listed.add(chunk);
          if (!space.chunks.has(chunk)) {
            log.add(
              'missing',
              s.root + blobKeys.chunk(chunk),
              ErrorCode.NotFound,
              `blob chunk ${chunk.slice(0, 12)}… of blob ${id.slice(0, 12)}… in space ${s.spaceId} is missing`,
              `the blob cannot be read; ${REUPLOAD}`,
            );
          }
        }
      } catch (e) {
        unread.add(epoch);
        log.failed(info.key, e, REUPLOAD);
      }
    }
  }
  // A chunk's id is keyed by its epoch's key, so only a manifest of the same epoch lists it: judged where this device read all of them.
  if (manifestUnknown) return;
  for (const [id, epoch] of chunkEpochs) {
    if (listed.has(id) || unread.has(epoch) || !(await keys(epoch))) continue;
    log.add(
      'unreferenced',
      s.root + blobKeys.chunk(id),
      ErrorCode.UnreferencedObject,
      `blob chunk ${id.slice(0, 12)}… of space ${s.spaceId} belongs to no blob`,
      'left by an interrupted upload; harmless (a space has no blob garbage collection yet), and safe to delete',
    );
  }
}

/** Checks what a blob object's name, size and header say without its key; returns its epoch, or undefined after reporting it. */
async function checkHeader(run: CheckRun, s: VerifiedSpace, kind: Kind, id: string, info: RemoteObjectInfo): Promise<number | undefined> {
  const { log } = run;
  const what = `blob ${kind === 'manifests' ? 'manifest' : 'chunk'} ${id.slice(0, 12)}… of space ${s.spaceId}`;
  const damaged = (why: string): undefined => void log.add('damaged', info.key, ErrorCode.IntegrityCorrupt, `${what} ${why}`, REUPLOAD);
  const max = HEADER + (kind === 'manifests' ? MAX_MANIFEST_BYTES : MAX_CHUNK) + TAG;
  if (info.size < HEADER + TAG || info.size > max) return damaged(`is ${info.size} bytes: a sealed one is ${HEADER + TAG} to ${max}`);
  const header = await run.remote.get(info.key, { range: { offset: 0, length: HEADER } });
  if (!header) return undefined; // gone since the listing
  if (header.length < HEADER) return damaged('is truncated');
  const preamble = [0x4b, 0x49, 0x54, 0x48, TYPE[kind], 0x01];
  if (preamble.some((b, i) => header[i] !== b)) return damaged(`is not a ${kind === 'manifests' ? 'manifest' : 'chunk'} object`);
  if (header[6] !== 1 || (header[7]! & ~1) !== 0) return damaged(`has an unknown suite or flags`);
  const named = [...header.subarray(12, 44)].map((b) => b.toString(16).padStart(2, '0')).join('');
  if (named !== id) return damaged(`holds object ${named.slice(0, 12)}…: it was moved or swapped`);
  const epoch = peekBlobEpoch(header)!;
  if (s.epochs.entry(epoch) === undefined) {
    return damaged(`is under epoch ${epoch}, which the space’s verified epochs (${s.epochs.count}) do not hold`);
  }
  return epoch;
}

/** The space's epoch keys sealed to this device, opened once each (null: none sealed to it, or not a member's device). */
function spaceKeys(run: CheckRun, s: VerifiedSpace): (epoch: number) => Promise<Uint8Array | null> {
  const reader: Pick<Remote, 'get'> = { get: (key, o) => run.remote.get(s.root + key, o) };
  const cache = new Map<number, Promise<Uint8Array | null>>();
  return (epoch) => {
    let p = cache.get(epoch);
    if (!p) {
      p = openSpaceEpochKey(reader as Remote, { ...s, epoch, deviceId: run.ctx.deviceId, boxSecret: run.ctx.boxSecret }).catch((e: unknown) => {
        // A sealed key that does not open is the sealed-key check's to report; here it only means no manifest is read.
        if (e instanceof KithError) return null;
        throw e;
      });
      cache.set(epoch, p);
    }
    return p;
  };
}
