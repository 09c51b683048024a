/**
 * @module vault/delivery
 * `vault.delivery()`: for each other active device, when it was last seen
 * and how far it has this device's changes, from what the store already
 * knows (the signed heads the last pulls verified, see sync/acks): no
 * request to the remote. As fresh as this device's last pull.
 */
import type { DeviceRegistry } from '../identity/registry.js';
import type { StoreTx } from '../ports/store.js';
import { emptyPush, META, readMeta, type PushMeta } from '../ports/store-meta.js';
import type { EngineContext } from '../sync/context.js';
import { recoverWritten, seenAcks, writtenUntil } from '../sync/acks.js';
import { deviceStatuses } from '../sync/staleness.js';

/** How far one other device has this device's changes, as far as this device knows. */
export interface DeviceDelivery {
  readonly deviceId: string;
  readonly name: string;
  /** ISO time its newest head known here was signed (when it last synced), or null if none was seen. */
  readonly lastSeen: string | null;
  /**
   * ISO time of the newest of this device's writes it has acknowledged
   * (it has that one and every earlier one), or null when it has
   * acknowledged none, its head predates acknowledgements, or the time of
   * what it acknowledged is no longer known here.
   */
  readonly hasYourChangesUntil: string | null;
  /** It has acknowledged every change this device has pushed, and nothing is waiting to be pushed. */
  readonly hasEverything: boolean;
}

/** Every registered, unrevoked device but this one, in registry order. */
export async function deliveryOf(ctx: EngineContext): Promise<DeviceDelivery[]> {
  const read = () => ctx.store.read((tx) => listDelivery(tx, ctx.registry, ctx.deviceId));
  const first = await read();
  if (first.unknown.size === 0) return first.list;
  // Segments pushed before write times were kept: their time is inside the kept bytes, once.
  let found = false;
  for (const seq of first.unknown) found = (await recoverWritten(ctx, seq)) !== undefined || found;
  return found ? (await read()).list : first.list;
}

async function listDelivery(tx: StoreTx, registry: DeviceRegistry, self: string): Promise<{ list: DeviceDelivery[]; unknown: Set<number> }> {
  const pushed = (await readMeta<PushMeta>(tx, META.push)) ?? emptyPush;
  const pending = await tx.countOutbox();
  const acks = await seenAcks(tx);
  const seen = new Map((await deviceStatuses(tx, registry, self)).map((d) => [d.deviceId, d.lastHeadAt]));
  const list: DeviceDelivery[] = [];
  const unknown = new Set<number>();
  for (const [id, d] of registry.devices()) {
    if (id === self || d.revoked) continue;
    const acked = acks.get(id)?.applied[self];
    // Never more than was pushed from this store (a head can outrun a store restored from an old backup).
    const until = acked === undefined ? 0 : Math.min(acked, pushed.seq);
    const at = until > 0 ? await writtenUntil(tx, until) : undefined;
    if (until > 0 && at === undefined) unknown.add(until);
    list.push({
      deviceId: id,
      name: d.name,
      lastSeen: seen.get(id) ?? null,
      hasYourChangesUntil: at === undefined ? null : new Date(at).toISOString(),
      hasEverything: pending === 0 && (pushed.seq === 0 || (acked ?? 0) >= pushed.seq),
    });
  }
  return { list, unknown };
}
