/**
 * @module blobs/holds
 * Holds: a device's note on the remote that it references a blob in writes
 * it has not pushed yet, so that another device's GC keeps the blob. Without
 * it, a blob attached through a remote on this disk (no cache copy) and
 * referenced only by a record unpushed past the GC grace period would be
 * collected with nothing left to restore it from. See docs/FORMAT.md "Blobs".
 */
import type { EngineContext } from '../sync/context.js';
import { refsIn } from './refs.js';
import type { JsonValue } from '../model/json.js';
import { readMeta, writeMeta } from '../ports/store-meta.js';

const HOLDS = 'blobs/holds/';
const HOLD = /^blobs\/holds\/([0-9a-f]{16})\/([0-9a-f]{64})$/;

export const holdKeys = {
  prefix: HOLDS,
  of: (deviceId: string, manifestId: string): string => `${HOLDS}${deviceId}/${manifestId}`,
  /** The device and manifest a hold key names, or undefined for a key of any other shape. */
  parse: (key: string): { deviceId: string; manifestId: string } | undefined => {
    const m = HOLD.exec(key);
    return m ? { deviceId: m[1]!, manifestId: m[2]! } : undefined;
  },
} as const;

export interface Hold {
  readonly key: string;
  readonly deviceId: string;
  readonly manifestId: string;
}

/**
 * Every well-formed hold on the remote, or only `deviceId`'s (others are left alone: they hold nothing).
 * A listing alone: whether a hold is honoured depends on its device and that device's outbox, never on its bytes.
 */
export async function readHolds(ctx: EngineContext, signal?: AbortSignal, deviceId?: string): Promise<Hold[]> {
  const out: Hold[] = [];
  for (const info of await ctx.remote.list(deviceId ? `${HOLDS}${deviceId}/` : HOLDS, signal ? { signal } : {})) {
    const named = holdKeys.parse(info.key);
    if (named) out.push({ key: info.key, ...named });
  }
  return out;
}

/** The blobs this device's unpushed writes (its outbox) reference. */
export async function outboxRefs(ctx: EngineContext): Promise<Set<string>> {
  const refs = new Set<string>();
  await ctx.store.read(async (tx) => {
    const n = await tx.countOutbox();
    for (const e of n > 0 ? await tx.readOutbox(n) : []) refsIn((e.op as { s?: JsonValue }).s, refs);
  });
  return refs;
}

/**
 * Which holds GC honours and which it removes. A hold is honoured while its
 * device may still push the reference: removed when that device is not an
 * admitted one (revoked, or unknown: forged), or, by that device's own GC,
 * once its outbox no longer references the blob: the blob is then marked
 * like any other, so an upload no record refers to gets the same grace as
 * an unheld blob (one grace, not two). Another device cannot tell whether a hold is still needed,
 * so it keeps it: a forged hold can only keep a blob longer.
 */
export async function sortHolds(ctx: EngineContext, holds: readonly Hold[]): Promise<{ held: Set<string>; drop: Hold[] }> {
  const held = new Set<string>();
  const drop: Hold[] = [];
  const own = holds.some((h) => h.deviceId === ctx.deviceId) ? await outboxRefs(ctx) : new Set<string>();
  for (const h of holds) {
    const d = ctx.registry.device(h.deviceId);
    const stale = h.deviceId === ctx.deviceId && !own.has(h.manifestId);
    if (!d || d.revoked || stale) drop.push(h);
    else held.add(h.manifestId);
  }
  return { held, drop };
}

export function u64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

/** Store meta: this device may have holds on the remote (set before one is written, cleared once none is left). */
const HOLDS_META = 'blobs.holds';

/** Notes, before a hold is written, that {@link releaseHolds} has work after the next push. */
async function noteHold(ctx: EngineContext): Promise<void> {
  await ctx.store.write((tx) => writeMeta(tx, HOLDS_META, true));
}

/** Writes this device's hold on a blob (noted first, so that {@link releaseHolds} looks after the next push). */
export async function writeHold(ctx: EngineContext, manifestId: string, signal?: AbortSignal): Promise<void> {
  await noteHold(ctx);
  await ctx.remote.put(holdKeys.of(ctx.deviceId, manifestId), u64(ctx.deps.now()), signal ? { signal } : {});
}

/**
 * After a push: deletes this device's holds on blobs its unpushed writes no
 * longer reference (pushed references keep the blob; an upload no record
 * refers to then gets one grace period, as an unheld one), so holds live
 * only while they protect something and other devices' GC is not held up.
 * One listing, only while this device may have holds.
 */
export async function releaseHolds(ctx: EngineContext, signal?: AbortSignal): Promise<number> {
  if ((await ctx.store.read((tx) => readMeta<boolean>(tx, HOLDS_META))) !== true) return 0;
  const call = signal ? { signal } : {};
  const own = await readHolds(ctx, signal, ctx.deviceId);
  const needed = own.length > 0 ? await outboxRefs(ctx) : new Set<string>();
  let released = 0;
  for (const h of own) {
    if (needed.has(h.manifestId)) continue;
    await ctx.remote.delete(h.key, call);
    released++;
  }
  if (released === own.length) await ctx.store.write((tx) => writeMeta(tx, HOLDS_META, undefined));
  return released;
}
