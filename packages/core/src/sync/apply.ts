/**
 * @module sync/apply
 * Applies ops to the local store inside one transaction: loads the touched
 * records in batches, merges, writes rows and history. Used both for local
 * writes and for pulled segments, so both paths produce identical state.
 */
import { applyOp, rowOf, viewOf, type IsApplied, type RecordView } from '../model/merge.js';
import type { JsonObject } from '../model/json.js';
import { OP_KIND_NAMES, type Op } from '../model/ops.js';
import type { LogEntry, RecordRow, StoreTx } from '../ports/store.js';

/** Working set of record views for one transaction. */
export class ViewSet {
  readonly #views = new Map<string, RecordView>();
  readonly #dirty = new Set<string>();
  readonly #tx: StoreTx;

  constructor(tx: StoreTx) {
    this.#tx = tx;
  }

  /** Loads every record the ops touch that is not loaded yet (batched per collection). */
  async load(keys: Iterable<readonly [string, string]>): Promise<void> {
    const missing = new Map<string, Set<string>>();
    for (const [c, i] of keys) {
      if (this.#views.has(key(c, i))) continue;
      let ids = missing.get(c);
      if (!ids) missing.set(c, (ids = new Set()));
      ids.add(i);
    }
    for (const [c, ids] of missing) {
      const rows = await this.#tx.getRecords(c, [...ids]);
      for (const i of ids) this.#views.set(key(c, i), viewOf(rows.get(i), c, i));
    }
  }

  /** Adds the view of a record whose row (or its absence) the caller has read already; a loaded view stays. */
  add(collection: string, id: string, row: RecordRow | undefined): void {
    const k = key(collection, id);
    if (!this.#views.has(k)) this.#views.set(k, viewOf(row, collection, id));
  }

  /** The loaded view of a record (load first). */
  view(collection: string, id: string): RecordView {
    const v = this.#views.get(key(collection, id));
    if (!v) throw new Error(`record ${collection}/${id} not loaded`);
    return v;
  }

  touch(collection: string, id: string): void {
    this.#dirty.add(key(collection, id));
  }

  /** Writes every changed record; returns the collections touched. */
  async flush(): Promise<string[]> {
    const rows = [...this.#dirty].map((k) => rowOf(this.#views.get(k)!));
    if (rows.length > 0) await this.#tx.putRecords(rows);
    this.#dirty.clear();
    return [...new Set(rows.map((r) => r.collection))];
  }
}

function key(collection: string, id: string): string {
  return `${collection}\u0000${id}`;
}

/** The history entry for an op. */
export function logEntryOf(op: Op, device: string): LogEntry {
  return {
    collection: op.c,
    id: op.i,
    stamp: op.t + device,
    device,
    kind: OP_KIND_NAMES[op.k],
    fields: [...Object.keys(op.s ?? {}), ...(op.u ?? [])],
  };
}

/**
 * The history entry of one of this device's own ops as a store holds it
 * (parsed outbox JSON): what {@link StoreTx.appendOwnOps} stands for, so
 * the entry's meaning stays in the core.
 */
export function historyOfOwnOp(op: JsonObject, device: string): LogEntry {
  return logEntryOf(op as unknown as Op, device);
}

/** The `stamp` of {@link historyOfOwnOp}'s entry, without making the entry. */
export function ownOpStamp(op: JsonObject, device: string): string {
  return (op as unknown as Op).t + device;
}

/**
 * Ops merged per round when applying remote ops: a round's views, rows and
 * history entries are written and let go before the next round loads its
 * own, so a replay of a 10,000-op segment never holds the working set of
 * all of it (a record a later round touches again is read back from the
 * transaction, which sees its own writes).
 */
export const APPLY_ROUND = 2_000;

/**
 * Applies remote ops from `device` (in their order), in rounds of
 * {@link APPLY_ROUND}. `isApplied` must see the ops applied so far: the
 * caller advances its notion of the device's last stamp through
 * `onApplied`. Adds the collections written to `collections`; returns the
 * number of ops that changed something (re-delivered ops are skipped).
 */
export async function applyRemoteOps(
  tx: StoreTx,
  ops: readonly Op[],
  device: string,
  isApplied: IsApplied,
  onApplied: (stamp: string) => void,
  collections: Set<string>,
): Promise<number> {
  let applied = 0;
  for (let from = 0; from < ops.length; from += APPLY_ROUND) {
    const round = ops.slice(from, from + APPLY_ROUND);
    const views = new ViewSet(tx);
    await views.load(round.map((op) => [op.c, op.i] as const));
    const log: LogEntry[] = [];
    for (const op of round) {
      const v = views.view(op.c, op.i);
      if (applyOp(v, op, device, isApplied)) {
        views.touch(op.c, op.i);
        log.push(logEntryOf(op, device));
        applied++;
      }
      onApplied(op.t + device);
    }
    if (log.length > 0) await tx.appendLog(log);
    for (const c of await views.flush()) collections.add(c);
  }
  return applied;
}
