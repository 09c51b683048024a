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
import { seenAcks, writtenUntil } from '../sync/acks.js';
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
   * acknowledged none, or its head predates acknowledgements.
   */
  readonly hasYourChangesUntil: string | null;
  /** It has acknowledged every change this device has pushed, and nothing is waiting to be pushed. */
  readonly hasEverything: boolean;
}

/** Every registered, unrevoked device but this one, in registry order. */
export async function deliveryOf(tx: StoreTx, registry: DeviceRegistry, self: string): Promise<DeviceDelivery[]> {
  const pushed = (await readMeta<PushMeta>(tx, META.push)) ?? emptyPush;
  const pending = await tx.countOutbox();
  const acks = await seenAcks(tx);
  const seen = new Map((await deviceStatuses(tx, registry, self)).map((d) => [d.deviceId, d.lastHeadAt]));
  const out: DeviceDelivery[] = [];
  for (const [id, d] of registry.devices()) {
    if (id === self || d.revoked) continue;
    const acked = acks.get(id)?.applied[self];
    // Never more than was pushed from this store (a head can outrun a store restored from an old backup).
    const until = acked === undefined ? 0 : Math.min(acked, pushed.seq);
    const at = until > 0 ? await writtenUntil(tx, until) : undefined;
    out.push({
      deviceId: id,
      name: d.name,
      lastSeen: seen.get(id) ?? null,
      hasYourChangesUntil: at === undefined ? null : new Date(at).toISOString(),
      hasEverything: pending === 0 && (pushed.seq === 0 || (acked ?? 0) >= pushed.seq),
    });
  }
  return out;
}
