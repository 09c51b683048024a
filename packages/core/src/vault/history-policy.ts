/**
 * @module vault/history-policy
 * Local history kept per policy (issue #15 point 5): entries older than
 * `historyDays` (default 90) are pruned on open and after every pull, in
 * bounded batches, except each record's newest one. The store says where
 * it pruned, so `log` can tell "history before … pruned" from "no history".
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { DAY_MS } from '../model/expiry.js';
import { formatLocal, MAX_WALL } from '../model/hlc.js';
import type { Store } from '../ports/store.js';

export const DEFAULT_HISTORY_DAYS = 90;
const BATCH = 5_000;
/** Per open or pull: a device with years of history prunes it over several runs, never in one long transaction. */
const MAX_BATCHES = 20;
const PRUNED_KEY = 'history.prunedBefore';

/** `historyDays` as given (a positive number, or Infinity to keep everything); KITH_BAD_INPUT otherwise. */
export function checkHistoryDays(days: number | undefined): number {
  if (days === undefined) return DEFAULT_HISTORY_DAYS;
  if (typeof days !== 'number' || Number.isNaN(days) || days <= 0) {
    throw new KithError(ErrorCode.BadInput, `historyDays must be a positive number of days (or Infinity), got ${String(days)}`);
  }
  return days;
}

/** Prunes what the policy no longer keeps, if the store can; returns how many entries went. */
export async function pruneHistory(store: Store, now: number, days: number): Promise<number> {
  const cutoff = Math.floor(now - days * DAY_MS);
  if (!store.pruneLog || !Number.isFinite(cutoff) || cutoff <= 0) return 0;
  const before = formatLocal({ wall: Math.min(cutoff, MAX_WALL), counter: 0 });
  let total = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const n = await store.pruneLog(before, BATCH);
    total += n;
    if (n < BATCH) break;
  }
  if (total > 0) {
    await store.write(async (tx) => {
      const had = await tx.getMeta(PRUNED_KEY);
      if (typeof had !== 'number' || had < cutoff) await tx.setMeta(PRUNED_KEY, cutoff);
    });
  }
  return total;
}

/** Where this device last pruned its history (ISO time), or null if it never did. */
export async function historyPrunedBefore(store: Store): Promise<string | null> {
  const at = await store.read((tx) => tx.getMeta(PRUNED_KEY));
  return typeof at === 'number' ? new Date(at).toISOString() : null;
}
