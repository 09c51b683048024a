/**
 * @module snapshot/write
 * Writing a snapshot: the state and the vector V read in one store
 * transaction (so they agree), the state's chunks stored through the blob
 * layer (an unchanged chunk is found by its id and not sent again), then
 * the signed manifest. A device writes one only when every local write is
 * pushed: V then names its own last segment, and nothing in the state is
 * missing from the chains V covers.
 */
import { hex } from '@scure/base';
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesEqual } from '../crypto/index.js';
import { encodeSnapshot, snapshotKeys, type SnapshotDevice } from '../format/index.js';
import { fullStamp } from '../model/hlc.js';
import type { RecordRow } from '../model/merge.js';
import { emptyPush, META, readMeta, type Cursor, type PushMeta } from '../ports/store-meta.js';
import { loadEpochKey } from '../identity/epochs.js';
import type { EngineContext } from '../sync/context.js';
import { catchUpRegistry } from '../sync/catch-up.js';
import { TaskWindow } from '../blobs/task-window.js';
import { cutKey, cutRows, readAllRows } from './state.js';
import type { ChunkStore } from './chunks.js';

/** What `vault.snapshot()` and `kith snapshot` report. */
export interface SnapshotResult {
  /** The manifest's remote key. */
  readonly snapshot: string;
  /** Live records in it. */
  readonly records: number;
  /** The state's size: every chunk's plaintext bytes. */
  readonly bytes: number;
  /** Bytes sent: new chunks (encrypted, maybe compressed) and the manifest; unchanged chunks are not sent again. */
  readonly uploaded: number;
  /** Segments the snapshot covers (the sum of V). */
  readonly segments: number;
}

/** Chunks uploaded at once. */
const UPLOAD_WINDOW = 4;

interface Captured {
  rows: RecordRow[];
  devices: SnapshotDevice[];
}

/** The state and V, or undefined when local writes are still unpushed (push first). */
async function capture(ctx: EngineContext): Promise<Captured | undefined> {
  return ctx.store.read(async (tx) => {
    if ((await tx.countOutbox()) > 0 || (await readMeta(tx, META.pendingSegment)) !== undefined) return undefined;
    const devices: SnapshotDevice[] = [];
    const push = (await readMeta<PushMeta>(tx, META.push)) ?? emptyPush;
    if (push.seq > 0) {
      // Every own write is in segments 1..push.seq and later ones get stamps above the clock's
      // last: the clock bounds the own writes the state includes.
      const last = (await readMeta<{ last: string }>(tx, META.hlc))?.last;
      devices.push({ deviceId: ctx.deviceId, seq: push.seq, hash: hex.decode(push.hash), stamp: last === undefined ? '' : fullStamp(last, ctx.deviceId) });
    }
    for (const [deviceId] of ctx.registry.devices()) {
      if (deviceId === ctx.deviceId) continue;
      const c = await readMeta<Cursor>(tx, META.cursor(deviceId));
      if (c && c.seq > 0) devices.push({ deviceId, seq: c.seq, hash: hex.decode(c.hash), stamp: c.stamp });
    }
    devices.sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1));
    return { rows: await readAllRows(tx), devices };
  });
}

/**
 * Writes a snapshot of this device's state; `before` runs first (a sync)
 * and again if local writes arrived in the meantime.
 */
export async function writeSnapshot(ctx: EngineContext, chunks: ChunkStore, before: () => Promise<unknown>, signal?: AbortSignal): Promise<SnapshotResult> {
  let state: Captured | undefined;
  for (let attempt = 0; attempt < 3 && !state; attempt++) {
    await before();
    state = await capture(ctx);
  }
  if (!state) {
    throw new KithError(ErrorCode.RemoteUnavailable, 'local writes kept arriving while the snapshot waited for them to be pushed', {
      hint: 'try again when this device is idle',
    });
  }
  await catchUpRegistry(ctx, signal);
  const epoch = ctx.registry.epoch;
  const epochKey = await loadEpochKey(ctx, epoch);
  const pieces = cutRows(state.rows, cutKey(epochKey, ctx.vaultId));
  const ids: { id: string; size: number }[] = new Array(pieces.length);
  let uploaded = 0;
  const window = new TaskWindow(UPLOAD_WINDOW);
  try {
    for (const [i, plain] of pieces.entries()) {
      await window.add(async () => {
        const { id, sent } = await chunks.putChunk(plain, signal);
        ids[i] = { id, size: plain.length };
        uploaded += sent;
      });
    }
  } catch (e) {
    await window.drain().catch(() => undefined); // no write outlives the call
    throw e;
  }
  await window.drain();
  const live = state.rows.filter((r) => !r.deleted).length;
  const opts = signal ? { signal } : {};
  let at = ctx.deps.now();
  let key: string;
  let bytes: Uint8Array;
  // Only after every chunk is stored: a manifest never names a missing chunk. Put-if-absent, read
  // back: a snapshot this device wrote in the same millisecond keeps its place, this one takes the next.
  for (let attempt = 0; ; attempt++, at++) {
    key = snapshotKeys.of(at, ctx.deviceId);
    bytes = await encodeSnapshot({
      vaultId: ctx.vaultId,
      deviceId: ctx.deviceId,
      at,
      epoch,
      epochKey,
      registrySeq: ctx.registry.seq,
      registryHash: ctx.registry.hash,
      devices: state.devices,
      rows: state.rows.length,
      live,
      chunks: ids,
      signSeed: ctx.signSeed,
      random: ctx.deps.random,
    });
    await ctx.remote.put(key, bytes, { ifAbsent: true, ...opts });
    const stored = await ctx.remote.get(key, opts);
    if (stored && bytesEqual(stored, bytes)) break;
    if (attempt === 2) throw new KithError(ErrorCode.RemoteUnavailable, `the remote did not keep snapshot ${key}`, { hint: 'try again later' });
  }
  return {
    snapshot: key,
    records: live,
    bytes: pieces.reduce((n, p) => n + p.length, 0),
    uploaded: uploaded + bytes.length,
    segments: state.devices.reduce((n, d) => n + d.seq, 0),
  };
}
