/**
 * @module sync/segments
 * Reading another device's (or our own) segments from the remote: batched
 * fetches and the checks every segment passes before anything trusts it.
 */
import { decodeSegment, peekSegmentEpoch, remoteKeys, MAX_SEGMENT_PAYLOAD, type DecodedSegment } from '../format/index.js';
import { canGetMany } from '../ports/capabilities.js';
import type { EngineContext } from './context.js';
import { loadEpochKey } from '../identity/epochs.js';

/** A device's segments `seqs`, in one batched read where the remote has one, else in parallel gets. */
export async function fetchSegments(ctx: EngineContext, device: string, seqs: readonly number[], signal?: AbortSignal): Promise<(Uint8Array | null)[]> {
  const keys = seqs.map((seq) => remoteKeys.segment(device, seq));
  const opts = signal ? { signal } : {};
  if (canGetMany(ctx.remote)) {
    const got = await ctx.remote.getMany(keys, opts);
    return keys.map((k) => got.get(k) ?? null);
  }
  return Promise.all(keys.map((k) => ctx.remote.get(k, opts)));
}

/** Checks a device's segment `seq` (name, signature, decryption), fetching its epoch key first if need be. */
export async function openSegment(ctx: EngineContext, device: string, signPub: Uint8Array, seq: number, bytes: Uint8Array): Promise<DecodedSegment> {
  const epoch = peekSegmentEpoch(bytes);
  if (epoch !== undefined && epoch <= ctx.registry.epoch && !ctx.epochKeys.has(epoch)) await loadEpochKey(ctx, epoch);
  return decodeSegment(bytes, {
    vaultId: ctx.vaultId,
    deviceId: device,
    seq,
    signPub,
    epochKey: (epoch) => ctx.epochKeys.get(epoch),
    maxPayloadBytes: MAX_SEGMENT_PAYLOAD,
  });
}
