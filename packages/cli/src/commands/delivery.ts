/**
 * @module commands/delivery
 * What `kith status` says of each other active device: when it was last
 * seen and until when it has this device's changes (`vault.delivery()`,
 * as of this device's last pull).
 *
 * In JSON, each entry of `status`'s `devices` (every device, revoked ones
 * included, as the staleness checks list them) carries the contract's
 * `lastSeen` and `hasYourChangesUntil`; `status --delivery` also gives the
 * active other devices alone as `delivery`.
 */
import type { DeviceDelivery, DeviceStatus } from '@kith/core';

/** The `status --json` entry of one device: the contract's four fields, ISO times or null. */
export interface DeliveryJson {
  readonly deviceId: string;
  readonly name: string;
  readonly lastSeen: string | null;
  readonly hasYourChangesUntil: string | null;
}

export const deliveryJson = (list: readonly DeviceDelivery[]): DeliveryJson[] =>
  list.map((d) => ({ deviceId: d.deviceId, name: d.name, lastSeen: d.lastSeen, hasYourChangesUntil: d.hasYourChangesUntil }));

/** "3 days ago", "5 minutes ago", "just now" (a clock behind the device's counts as now). */
export function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  const [n, unit] =
    s < 60 ? [0, ''] : s < 3600 ? [Math.floor(s / 60), 'minute'] : s < 86_400 ? [Math.floor(s / 3600), 'hour'] : [Math.floor(s / 86_400), 'day'];
  return n === 0 ? 'just now' : `${n} ${unit}${n === 1 ? '' : 's'} ago`;
}

/** One human line per device: "laptop has everything you wrote until …", "phone last seen 3 days ago, has your changes until …". */
export function deliveryLines(list: readonly DeviceDelivery[], now = Date.now()): string[] {
  if (list.length === 0) return [];
  return [
    'delivery  (how far each of your other devices has your changes, as of the last pull)',
    ...list.map((d) => {
      const seen = d.lastSeen === null ? 'never seen' : `last seen ${ago(d.lastSeen, now)}`;
      if (d.hasEverything) return `  ${d.name} has everything you wrote${d.hasYourChangesUntil === null ? '' : ` until ${d.hasYourChangesUntil}`} (${seen})`;
      const has = d.hasYourChangesUntil === null ? 'has none of your changes yet' : `has your changes until ${d.hasYourChangesUntil}`;
      return `  ${d.name} ${seen}, ${has}`;
    }),
  ];
}

/**
 * The staleness list with the delivery fields: `lastSeen` is the newest head's time; `hasYourChangesUntil`
 * is known for active other devices only (null for this device and for revoked ones).
 */
export function withDelivery(
  devices: readonly DeviceStatus[],
  delivery: readonly DeviceDelivery[],
): (DeviceStatus & { lastSeen: string | null; hasYourChangesUntil: string | null })[] {
  const until = new Map(delivery.map((d) => [d.deviceId, d.hasYourChangesUntil]));
  return devices.map((d) => ({ ...d, lastSeen: d.lastHeadAt, hasYourChangesUntil: until.get(d.deviceId) ?? null }));
}
