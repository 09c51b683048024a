/**
 * @module vault/history-log
 * `vault.log()` and `vault.space(...).log()`: the history an app sees.
 * The engine's reserved `_kith.` collections (retention rules, the spaces
 * directory and keyring, names) are internal: their entries (ids and
 * field names, never values) are left out unless the caller asks for them
 * with `reserved: true`.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { isReservedCollection, RESERVED_PREFIX } from '../model/names.js';
import type { LogEntry, StoreTx } from '../ports/store.js';

/** What a history read may filter on. */
export interface HistoryFilter {
  readonly collection?: string;
  readonly id?: string;
  /** The most recent entries only, at most this many. */
  readonly limit?: number;
  /** Include the engine's reserved `_kith.` collections (default false). */
  readonly reserved?: boolean;
}

/** The history `filter` selects, oldest first, the reserved collections' entries left out unless asked for. */
export async function readHistory(tx: StoreTx, filter: HistoryFilter): Promise<LogEntry[]> {
  const { reserved = false, ...f } = filter;
  if (f.collection !== undefined) {
    if (!reserved && isReservedCollection(f.collection)) {
      throw new KithError(ErrorCode.BadName, `${f.collection} is one of the engine's reserved collections`, {
        hint: 'its history is internal; ask for it with { reserved: true }',
        reason: 'reserved-history',
      });
    }
    return tx.readLog(f);
  }
  if (reserved) return tx.readLog(f);
  if (f.limit === undefined) return (await tx.readLog(f)).filter(isAppEntry);
  // The store counts every entry against the limit: read further back until `limit` of the app's are in, or the history ends.
  for (let n = f.limit; ; n *= 4) {
    const raw = await tx.readLog({ ...f, limit: n });
    const kept = raw.filter(isAppEntry);
    if (kept.length >= f.limit || raw.length < n) return kept.slice(Math.max(0, kept.length - f.limit));
  }
}

const isAppEntry = (e: LogEntry): boolean => !e.collection.startsWith(RESERVED_PREFIX);
