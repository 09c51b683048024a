/**
 * @module sync/acks
 * Acknowledgements (docs/FORMAT.md, Head): every head a device writes says
 * how far it has applied each other registered, unrevoked device's chain
 * (its pull cursors, which only ever advance over contiguous verified
 * segments) and when it last pulled. This module builds that vector for
 * push, records the vectors of the heads pull verifies, and keeps the time
 * of this device's own writes per pushed segment, so that an acknowledged
 * seq reads as "has your changes until 10:42".
 *
 * Everything here is kept in the store as meta entries and only ever moves
 * forward: a remote that serves an older (validly signed) head again cannot
 * take an acknowledgement back.
 */
import { decodeSegment, MAX_SEGMENT_PAYLOAD, type HeadAcks, type Head } from '../format/index.js';
import { stampTime } from '../model/hlc.js';
import { decodePayload } from '../model/ops.js';
import type { DeviceRegistry } from '../identity/registry.js';
import type { StoreTx } from '../ports/store.js';
import { META, readMeta, writeMeta, type Cursor, type StatusMeta } from '../ports/store-meta.js';
import type { EngineContext } from './context.js';

/** device → what its newest verified heads acknowledged (each entry the highest seen). */
const ACKS_SEEN = 'acks.seen';
/** The vector of the last head this device wrote: a head is rewritten when it moves. */
const ACKS_SENT = 'acks.sent';
/** [seq, ms][] ascending: the time of the newest write in this device's pushed segment `seq`. */
const WRITTEN = 'acks.written';
/** Written times kept at most; beyond, older ones are thinned (lookups then answer an earlier time: still true). */
export const MAX_WRITTEN = 1024;

/** What another device's heads acknowledged, as stored. */
export interface SeenAcks {
  /** When it last pulled, by its clock (ms; 0 never). */
  readonly pulledAt: number;
  /** deviceId → highest seq acknowledged. */
  readonly applied: Readonly<Record<string, number>>;
}

type Written = [seq: number, ms: number][];

/** This device's acknowledgements for its next head: its cursor of every other active device, and its last pull. */
export async function ownAcks(tx: StoreTx, registry: DeviceRegistry, self: string): Promise<HeadAcks> {
  const applied = new Map<string, number>();
  for (const [id, d] of registry.devices()) {
    if (id === self || d.revoked) continue; // bounded by the active devices, however many were revoked
    const seq = (await readMeta<Cursor>(tx, META.cursor(id)))?.seq ?? 0;
    if (seq > 0) applied.set(id, seq);
  }
  const lastPull = (await readMeta<StatusMeta>(tx, META.status))?.lastPull;
  const pulledAt = lastPull ? Date.parse(lastPull) : 0;
  return { pulledAt: Number.isSafeInteger(pulledAt) && pulledAt > 0 ? pulledAt : 0, applied };
}

/** Whether `acks` acknowledges more than the last head this device wrote (the pull time alone does not count: see push). */
export async function acksMoved(tx: StoreTx, acks: HeadAcks): Promise<boolean> {
  const sent = await readMeta<Record<string, number>>(tx, ACKS_SENT);
  if (!sent) return true;
  const ids = new Set([...acks.applied.keys(), ...Object.keys(sent)]);
  for (const id of ids) if ((acks.applied.get(id) ?? 0) !== (Object.hasOwn(sent, id) ? sent[id] : 0)) return true;
  return false;
}

/** Records the vector of the head just written. */
export async function noteAcksSent(tx: StoreTx, acks: HeadAcks): Promise<void> {
  await writeMeta(tx, ACKS_SENT, Object.fromEntries(acks.applied));
}

/** The acknowledgements of every device's heads verified so far (device → highest seen). */
export async function seenAcks(tx: StoreTx): Promise<ReadonlyMap<string, SeenAcks>> {
  return new Map(Object.entries((await readMeta<Record<string, SeenAcks>>(tx, ACKS_SEEN)) ?? {}));
}

/** Merges one head's acknowledgements into what was seen of its device: per entry the highest, so nothing goes back. */
export function mergeAcks(before: SeenAcks | undefined, acks: HeadAcks): SeenAcks {
  const applied: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const [id, seq] of Object.entries(before?.applied ?? {})) applied[id] = seq;
  for (const [id, seq] of acks.applied) applied[id] = Math.max(seq, applied[id] ?? 0);
  return { pulledAt: Math.max(acks.pulledAt, before?.pulledAt ?? 0), applied: { ...applied } };
}

/** What a pull learns from the heads it verifies: fed each one, saved once (also when the pull fails half-way). */
export class AckBook {
  readonly #seen: Map<string, SeenAcks>;
  #changed = false;
  private constructor(
    private readonly ctx: EngineContext,
    seen: ReadonlyMap<string, SeenAcks>,
  ) {
    this.#seen = new Map(seen);
  }

  static async load(ctx: EngineContext): Promise<AckBook> {
    return new AckBook(ctx, await ctx.store.read(seenAcks));
  }

  /** A verified head of `device`; heads older than version 3 acknowledge nothing. */
  saw(device: string, head: Head): void {
    if (!head.acks) return;
    this.#seen.set(device, mergeAcks(this.#seen.get(device), head.acks));
    this.#changed = true;
  }

  async save(): Promise<void> {
    if (!this.#changed) return;
    this.#changed = false;
    // Merged again inside the write: another process on this store may have recorded newer heads meanwhile.
    await this.ctx.store.write(async (tx) => {
      const now = new Map(await seenAcks(tx));
      for (const [device, acks] of this.#seen) {
        now.set(device, mergeAcks(now.get(device), { pulledAt: acks.pulledAt, applied: new Map(Object.entries(acks.applied)) }));
      }
      await writeMeta(tx, ACKS_SEEN, Object.fromEntries(now));
    });
  }
}

/**
 * Records when this device wrote the newest op of its pushed segment
 * `seq`, dropping what no active device still needs: times below the
 * lowest acknowledgement of this device's chain (but the one at it), and,
 * past {@link MAX_WRITTEN}, every other time in the older half.
 */
export async function noteWritten(tx: StoreTx, registry: DeviceRegistry, self: string, seq: number, ms: number): Promise<void> {
  let written = ((await readMeta<Written>(tx, WRITTEN)) ?? []).filter(([s]) => s < seq);
  written.push([seq, ms]);
  const seen = await seenAcks(tx);
  const others = registry.devices().filter(([id, d]) => id !== self && !d.revoked);
  // With no other device yet, keep everything (within the bound): a device paired later acknowledges from the start.
  const lowest = others.length === 0 ? 0 : Math.min(...others.map(([id]) => seen.get(id)?.applied[self] ?? 0));
  const keepFrom = written.findLastIndex(([s]) => s <= lowest);
  if (keepFrom > 0) written = written.slice(keepFrom);
  if (written.length > MAX_WRITTEN) {
    const half = written.length >> 1;
    written = [...written.slice(0, half).filter((_, i) => i % 2 === 0), ...written.slice(half)];
  }
  await writeMeta(tx, WRITTEN, written);
}

/** The time of this device's newest write in segments 1..`seq` that it still knows, or undefined. */
export async function writtenUntil(tx: StoreTx, seq: number): Promise<number | undefined> {
  const written = (await readMeta<Written>(tx, WRITTEN)) ?? [];
  return written.findLast(([s]) => s <= seq)?.[1];
}

/**
 * Finds the write time of own segment `seq` from the bytes this store kept
 * of it (segments pushed before write times were recorded), and records it.
 * Local only: undefined when the segment is not kept or its epoch key is
 * not in memory.
 */
export async function recoverWritten(ctx: EngineContext, seq: number): Promise<number | undefined> {
  const bytes = (await ctx.store.read((tx) => tx.getOwnSegments([seq]))).get(seq);
  const signPub = ctx.registry.deviceSignPub(ctx.deviceId);
  if (!bytes || !signPub) return undefined;
  let ms: number;
  try {
    const seg = await decodeSegment(bytes, {
      vaultId: ctx.vaultId,
      deviceId: ctx.deviceId,
      seq,
      signPub,
      epochKey: (e) => ctx.epochKeys.get(e),
      maxPayloadBytes: MAX_SEGMENT_PAYLOAD,
    });
    ms = decodePayload(seg.payload, undefined).reduce((max, op) => Math.max(max, stampTime(op.t)), 0);
  } catch {
    return undefined; // a key not loaded, or damaged kept bytes (repair's business): the time stays unknown
  }
  await ctx.store.write(async (tx) => {
    const written = (await readMeta<Written>(tx, WRITTEN)) ?? [];
    if (written.some(([s]) => s === seq)) return;
    const next: Written = [...written, [seq, ms]];
    await writeMeta(
      tx,
      WRITTEN,
      next.sort(([x], [y]) => x - y),
    );
  });
  return ms;
}
