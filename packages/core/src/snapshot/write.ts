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
import { encodeSnapshot, snapshotKeys, type SnapshotDevice } from '../format/index.js';
import { fullStamp } from '../model/hlc.js';
import type { RecordRow } from '../model/merge.js';
import { putIfAbsentHolds } from '../ports/put-if-absent.js';
import { emptyPush, META, readMeta, type Cursor, type PushMeta } from '../ports/store-meta.js';
import type { StoreTx } from '../ports/store.js';
import { loadEpochKey } from '../identity/epochs.js';
import type { EngineContext } from '../sync/context.js';
import { catchUpRegistry } from '../sync/catch-up.js';
import { TaskWindow } from '../blobs/task-window.js';
import { cutKey, readAllRows, RowCutter, streamAllRows } from './state.js';
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

/** What one transaction captured and uploaded: V, and the state's chunks (stored, in order). */
interface Captured {
  devices: SnapshotDevice[];
  chunks: { id: string; size: number }[];
  rows: number;
  live: number;
  uploaded: number;
}

/** V as the store holds it, or undefined when local writes are still unpushed (push first). */
async function vectorOf(ctx: EngineContext, tx: StoreTx): Promise<SnapshotDevice[] | undefined> {
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
  return devices;
}

/** Cuts `rows` and stores each chunk as it is cut, a few at once. */
async function storeRows(rows: AsyncIterable<RecordRow> | Iterable<RecordRow>, key: Uint8Array, chunks: ChunkStore, signal?: AbortSignal) {
  const cutter = new RowCutter(key, undefined, undefined, 2);
  const ids: { id: string; size: number }[] = [];
  let count = 0;
  let live = 0;
  let uploaded = 0;
  const window = new TaskWindow(UPLOAD_WINDOW);
  const put = (plain: Uint8Array): Promise<void> => {
    const i = ids.length;
    ids.push({ id: '', size: plain.length });
    return window.add(async () => {
      const { id, sent } = await chunks.putChunk(plain, signal);
      ids[i] = { id, size: plain.length };
      uploaded += sent;
    });
  };
  try {
    for await (const r of rows) {
      count++;
      if (!r.deleted) live++;
      for (const plain of cutter.push(r)) await put(plain);
    }
    for (const plain of cutter.end()) await put(plain);
  } catch (e) {
    await window.drain().catch(() => undefined); // no write outlives the call
    throw e;
  }
  await window.drain();
  return { chunks: ids, rows: count, live, uploaded };
}

/**
 * V and the state in one store transaction (so they agree), the chunks
 * stored as they are cut: where the store allows other I/O inside a read
 * (`bulkRead`), straight from the store, so memory holds a few chunks and
 * not the state; else after one read of every row.
 */
async function capture(ctx: EngineContext, key: Uint8Array, chunks: ChunkStore, signal?: AbortSignal): Promise<Captured | undefined> {
  const { store } = ctx;
  if (store.bulkRead) {
    return store.bulkRead(async (tx) => {
      const devices = await vectorOf(ctx, tx);
      return devices && { devices, ...(await storeRows(streamAllRows(tx), key, chunks, signal)) };
    });
  }
  const state = await store.read(async (tx) => {
    const devices = await vectorOf(ctx, tx);
    return devices && { devices, rows: await readAllRows(tx) };
  });
  return state && { devices: state.devices, ...(await storeRows(state.rows, key, chunks, signal)) };
}

/**
 * Writes a snapshot of this device's state; `before` runs first (a sync)
 * and again if local writes arrived in the meantime.
 */
export async function writeSnapshot(ctx: EngineContext, chunks: ChunkStore, before: () => Promise<unknown>, signal?: AbortSignal): Promise<SnapshotResult> {
  let state: Captured | undefined;
  let epoch = 0;
  let epochKey: Uint8Array | undefined;
  for (let attempt = 0; attempt < 3 && !state; attempt++) {
    await before();
    await catchUpRegistry(ctx, signal);
    epoch = ctx.registry.epoch;
    epochKey = await loadEpochKey(ctx, epoch);
    state = await capture(ctx, cutKey(epochKey, ctx.vaultId), chunks, signal);
  }
  if (!state || !epochKey) {
    throw new KithError(ErrorCode.RemoteUnavailable, 'local writes kept arriving while the snapshot waited for them to be pushed', {
      hint: 'try again when this device is idle',
    });
  }
  const opts = signal ? { signal } : {};
  let at = ctx.deps.now();
  let key: string;
  let bytes: Uint8Array;
  // Only after every chunk is stored: a manifest never names a missing chunk. Put-if-absent, read
  // back: a snapshot this device wrote in the same millisecond keeps its place, this one takes the next.
  for (let attempt = 0; ; attempt++, at++) {
    key = snapshotKeys.of(at, ctx.deviceId);
    bytes = await encodeSnapshot({
      version: 2,
      vaultId: ctx.vaultId,
      deviceId: ctx.deviceId,
      at,
      epoch,
      epochKey,
      registrySeq: ctx.registry.seq,
      registryHash: ctx.registry.hash,
      devices: state.devices,
      rows: state.rows,
      live: state.live,
      chunks: state.chunks,
      signSeed: ctx.signSeed,
      random: ctx.deps.random,
    });
    if (await putIfAbsentHolds(ctx.remote, key, bytes, opts)) break;
    if (attempt === 2) throw new KithError(ErrorCode.RemoteUnavailable, `the remote did not keep snapshot ${key}`, { hint: 'try again later' });
  }
  return {
    snapshot: key,
    records: state.live,
    bytes: state.chunks.reduce((n, p) => n + p.size, 0),
    uploaded: state.uploaded + bytes.length,
    segments: state.devices.reduce((n, d) => n + d.seq, 0),
  };
}
