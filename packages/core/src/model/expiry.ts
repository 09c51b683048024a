/**
 * @module expiry
 * Retention expiry as a merge operation (docs/FORMAT.md "Retention").
 *
 * A record expires at a *floor* stamp F (the expiry instant, at the reserved
 * device {@link EXPIRY_DEVICE}). Expiring kills every head older than F in
 * every register, and from then on a write older than F is dropped on
 * arrival (merge.ts checks the floor kept on the liveness register). A write
 * newer than F survives: it is the "later real write" that wins over
 * expiry. Killing below a stamp does not depend on what a device had
 * received, so devices that agree on F (the highest floor any device
 * published for the record) agree on the record, in any arrival order.
 */
import { dict, own } from '../base/data-keys.js';
import { formatLocal, MAX_WALL, stampTime } from './hlc.js';
import { EXPIRY_DEVICE, headsOf, type RecordView, type Register } from './merge.js';
import { ALIVE } from './ops.js';

export { EXPIRY_DEVICE };

export const DAY_MS = 86_400_000;

/** The floor stamp (full, at {@link EXPIRY_DEVICE}) of a record whose newest write is `updated`, under a rule of `days`. */
export function expiryFloor(updated: string, days: number): string {
  return formatLocal({ wall: Math.min(stampTime(updated) + days * DAY_MS, MAX_WALL), counter: 0 }) + EXPIRY_DEVICE;
}

/** True when the floor's instant has passed: the record is due to expire. */
export function isDue(floor: string, now: number): boolean {
  return stampTime(floor) <= now;
}

/** The floor a record was expired at, if any. */
export function floorOf(view: RecordView): string | undefined {
  return own(view.state, ALIVE)?.f;
}

/**
 * Kills every head older than `floor`; returns false when the view already
 * had this floor or a higher one (nothing to do). A register left without
 * heads disappears (a field) or becomes a tombstone at the floor (liveness).
 */
export function expireView(view: RecordView, floor: string): boolean {
  const had = floorOf(view);
  if (had !== undefined && had >= floor) return false;
  const state = dict<Register>();
  const fields = dict<unknown>();
  let deleted = true;
  let updated = floor;
  for (const [field, reg] of Object.entries(view.state)) {
    const heads = headsOf(view, field).filter((h) => h.stamp >= floor);
    const pending = (reg.p ?? []).filter((p) => p >= floor);
    heads.sort((a, b) => (a.stamp < b.stamp ? 1 : -1));
    const [winner, ...losers] = heads;
    if (field === ALIVE) {
      const next: Register = { w: winner?.stamp ?? floor, f: floor };
      if (losers.length > 0) next.l = losers.map((h) => (h.present ? [h.stamp, h.value as boolean] : [h.stamp]));
      if (pending.length > 0) next.p = pending;
      state[field] = next;
      deleted = !(winner?.present === true && winner.value === true);
    } else if (winner || pending.length > 0) {
      const next: Register = { w: winner?.stamp ?? '' };
      if (losers.length > 0) next.l = losers.map((h) => (h.present ? [h.stamp, h.value as never] : [h.stamp]));
      if (pending.length > 0) next.p = pending;
      state[field] = next;
      if (winner?.present) fields[field] = winner.value;
    }
    for (const h of heads) if (h.stamp > updated) updated = h.stamp;
  }
  if (!Object.hasOwn(state, ALIVE)) state[ALIVE] = { w: floor, f: floor };
  view.state = state;
  view.fields = fields as RecordView['fields'];
  view.deleted = deleted;
  view.updated = updated;
  return true;
}
