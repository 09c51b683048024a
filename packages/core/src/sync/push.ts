/**
 * @module sync/push
 * Drains the outbox into segments. Each segment is built and recorded
 * locally *before* upload (push.pending), so a crash at any step leaves a
 * state the next push completes by re-sending the very same bytes: the
 * remote never sees two different segments under one sequence number.
 * The head is written once after the last segment.
 */
import { hex } from '@scure/base';
import { encodeHead, encodeSegment, remoteKeys, ZERO_HASH_HEX } from '../format/index.js';
import { encodePayload, type Op } from '../model/ops.js';
import type { OutboxEntry } from '../ports/store.js';
import { MAX_OPS_PER_SEGMENT, TARGET_SEGMENT_BYTES, type EngineContext } from './context.js';
import { b64, emptyPush, META, readMeta, unb64, writeMeta, type PendingSegment, type PushMeta, type StatusMeta } from '../ports/store-meta.js';
import { catchUpRegistry } from './catch-up.js';
import { loadEpochKey } from '../identity/epochs.js';
import { noteOwnHead } from './repair.js';
import { HEAD_REFRESH_MS } from './staleness.js';
import { acksMoved, noteAcksSent, noteWritten, ownAcks } from './acks.js';
import { stampTime } from '../model/hlc.js';

/** Pushes every pending local write; returns the number of ops sent. */
export async function push(ctx: EngineContext, signal?: AbortSignal): Promise<number> {
  let pushed = 0;
  let done = 0;
  const total = Math.ceil((await ctx.store.read((tx) => tx.countOutbox())) / MAX_OPS_PER_SEGMENT);
  for (;;) {
    signal?.throwIfAborted();
    const pending = await preparedSegment(ctx, signal);
    if (!pending) break;
    await ctx.remote.put(remoteKeys.segment(ctx.deviceId, pending.seq), unb64(pending.bytes), { ifAbsent: true, ...(signal ? { signal } : {}) });
    await ctx.store.write(async (tx) => {
      const current = await readMeta<PendingSegment>(tx, META.pendingSegment);
      if (!current || current.seq !== pending.seq) return; // another process finished it
      await tx.deleteOutbox(current.through);
      // Kept byte for byte: if the remote loses it, only these bytes can take its place (sync/repair).
      await tx.putOwnSegment(current.seq, unb64(current.bytes));
      if (current.writtenAt !== undefined) await noteWritten(tx, ctx.registry, ctx.deviceId, current.seq, current.writtenAt);
      await writeMeta<PushMeta>(tx, META.push, { seq: current.seq, hash: current.hash, headDirty: true });
      await writeMeta(tx, META.pendingSegment, undefined);
    });
    pushed += pending.ops;
    ctx.progress({ phase: 'push', done: ++done, total: Math.max(total, done) });
  }
  const { state, acks, moved } = await ctx.store.read(async (tx) => {
    const acks = await ownAcks(tx, ctx.registry, ctx.deviceId);
    return { state: (await readMeta<PushMeta>(tx, META.push)) ?? emptyPush, acks, moved: await acksMoved(tx, acks) };
  });
  const at = ctx.deps.now();
  // The head also carries the registry position, so readers insist on at least that much registry,
  // a signed time, refreshed daily, so a remote serving an old state shows its age (sync/staleness),
  // and what this device has applied of the others (sync/acks), rewritten when that moves: a new pull
  // time alone does not rewrite it, or two idle devices would keep answering each other's heads.
  if (moved || state.headDirty || (state.registrySeq ?? 0) < ctx.registry.seq || state.headAt === undefined || at - state.headAt >= HEAD_REFRESH_MS) {
    const registrySeq = ctx.registry.seq;
    const head = await encodeHead({
      vaultId: ctx.vaultId,
      deviceId: ctx.deviceId,
      seq: state.seq,
      hash: hex.decode(state.seq === 0 ? ZERO_HASH_HEX : state.hash),
      registrySeq,
      registryHash: ctx.registry.hash,
      at,
      acks,
      signSeed: ctx.signSeed,
    });
    await ctx.remote.put(remoteKeys.head(ctx.deviceId), head, signal ? { signal } : {});
    await ctx.store.write(async (tx) => {
      await noteAcksSent(tx, acks);
      const now = (await readMeta<PushMeta>(tx, META.push)) ?? emptyPush;
      if (now.seq === state.seq) await writeMeta<PushMeta>(tx, META.push, { ...now, headDirty: false, registrySeq, headAt: at });
      const status = await readMeta<StatusMeta>(tx, META.status);
      await writeMeta<StatusMeta>(tx, META.status, { lastPull: null, caughtUp: false, ...status, lastPush: new Date(ctx.deps.now()).toISOString() });
    });
    await noteOwnHead(ctx, { seq: state.seq, at }, signal);
  }
  return pushed;
}

/** The segment to upload next: the recorded one, or a new one built from the outbox. */
async function preparedSegment(ctx: EngineContext, signal?: AbortSignal): Promise<PendingSegment | undefined> {
  const existing = await ctx.store.read((tx) => readMeta<PendingSegment>(tx, META.pendingSegment));
  if (existing) return existing;
  const { entries, state } = await ctx.store.read(async (tx) => ({
    entries: await tx.readOutbox(MAX_OPS_PER_SEGMENT),
    state: (await readMeta<PushMeta>(tx, META.push)) ?? emptyPush,
  }));
  if (entries.length === 0) return undefined;
  // Learn of revocations and new epochs before encrypting anything new.
  await catchUpRegistry(ctx, signal);
  const epoch = ctx.registry.epoch;
  const epochKey = await loadEpochKey(ctx, epoch);
  const batch = takeBatch(entries);
  // Whatever the ops reference (blobs) must be on the remote before they are.
  await ctx.beforeSegment?.(
    batch.map((e) => e.op as unknown as Op),
    signal,
  );
  const seq = state.seq + 1;
  const { bytes, hash } = await encodeSegment({
    vaultId: ctx.vaultId,
    deviceId: ctx.deviceId,
    epoch,
    seq,
    prevHash: hex.decode(state.seq === 0 ? ZERO_HASH_HEX : state.hash),
    payload: encodePayload(batch.map((e) => e.op as unknown as Op)),
    epochKey,
    signSeed: ctx.signSeed,
    random: ctx.deps.random,
  });
  const writtenAt = batch.reduce((max, e) => Math.max(max, stampTime((e.op as unknown as Op).t)), 0);
  const candidate: PendingSegment = { seq, hash: hex.encode(hash), bytes: b64(bytes), through: batch[batch.length - 1]!.seq, ops: batch.length, writtenAt };
  // Record it unless another process got there first; either way upload what is recorded.
  return ctx.store
    .write(async (tx) => {
      const raced = await readMeta<PendingSegment>(tx, META.pendingSegment);
      if (raced) return raced;
      const now = (await readMeta<PushMeta>(tx, META.push)) ?? emptyPush;
      const first = (await tx.readOutbox(1))[0];
      if (now.seq !== state.seq || first?.seq !== entries[0]!.seq) return undefined as unknown as PendingSegment;
      await writeMeta(tx, META.pendingSegment, candidate);
      return candidate;
    })
    .then((p) => p ?? preparedSegment(ctx, signal));
}

/** The longest prefix of entries within the segment size target (at least one). */
export function takeBatch(entries: OutboxEntry[]): OutboxEntry[] {
  let size = 0;
  for (let i = 0; i < entries.length; i++) {
    size += JSON.stringify(entries[i]!.op).length;
    if (size > TARGET_SEGMENT_BYTES && i > 0) return entries.slice(0, i);
  }
  return entries;
}
