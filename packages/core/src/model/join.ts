/**
 * @module model/join
 * The join of two states of one record, each with the set of writes it has
 * applied (a version vector, here a predicate on stamps): what a device
 * holds after merging a snapshot into its own store without the segments
 * in between (compaction deleted them).
 *
 * A head on one side only is kept unless the other side applied that write
 * and no longer holds it (it was replaced there, or the record's tombstone
 * was dropped from the snapshot): "applied and gone" means superseded. A
 * stamp one side lists as replaced-but-not-received (pending) supersedes
 * the other side's head of that stamp. This is the same state that
 * applying the missing writes one by one would give, whatever the order.
 */
import { dict, own } from '../base/data-keys.js';
import type { JsonValue } from './json.js';
import { ALIVE } from './ops.js';
import { headsOf, rowOf, viewOf, type Head, type IsApplied, type LoserEntry, type RecordRow, type RecordView, type Register } from './merge.js';

/** One side of a join: a row (absent: the side holds nothing of the record) and what that side applied. */
export interface JoinSide {
  readonly row: RecordRow | undefined;
  readonly applied: IsApplied;
}

/** The joined row; undefined when neither side keeps anything of the record. */
export function joinRows(collection: string, id: string, a: JoinSide, b: JoinSide): RecordRow | undefined {
  const va = viewOf(a.row, collection, id);
  const vb = viewOf(b.row, collection, id);
  const fa = own(va.state, ALIVE)?.f;
  const fb = own(vb.state, ALIVE)?.f;
  const floor = fa === undefined ? fb : fb === undefined || fa > fb ? fa : fb;
  const out: RecordView = {
    collection,
    id,
    fields: dict<JsonValue>(),
    deleted: true,
    state: dict<Register>(),
    updated: va.updated > vb.updated ? va.updated : vb.updated,
  };
  const fields = new Set([...Object.keys(va.state), ...Object.keys(vb.state)]);
  for (const field of fields) {
    const ha = headsOf(va, field);
    const hb = headsOf(vb, field);
    const pa = own(va.state, field)?.p ?? [];
    const pb = own(vb.state, field)?.p ?? [];
    const inA = new Set(ha.map((h) => h.stamp));
    const inB = new Set(hb.map((h) => h.stamp));
    const heads: Head[] = [
      ...ha.filter((h) => inB.has(h.stamp) || (!b.applied(h.stamp) && !pb.includes(h.stamp))),
      ...hb.filter((h) => !inA.has(h.stamp) && !a.applied(h.stamp) && !pa.includes(h.stamp)),
    ].filter((h) => floor === undefined || h.stamp >= floor);
    const kept = new Set(heads.map((h) => h.stamp));
    // Still pending after the join: received by neither side, and not a head.
    const pending = [...new Set([...pa, ...pb])].filter((p) => !a.applied(p) && !b.applied(p) && !kept.has(p)).sort();
    const isFloored = field === ALIVE && floor !== undefined;
    if (heads.length === 0 && pending.length === 0 && !isFloored) continue;
    heads.sort((x, y) => (x.stamp < y.stamp ? 1 : x.stamp > y.stamp ? -1 : 0));
    const [winner, ...losers] = heads;
    const reg: Register = { w: winner?.stamp ?? '' };
    if (losers.length > 0) reg.l = losers.map((h): LoserEntry => (h.present ? [h.stamp, h.value as JsonValue] : [h.stamp]));
    if (pending.length > 0) reg.p = pending;
    if (isFloored) reg.f = floor;
    out.state[field] = reg;
    if (field === ALIVE) out.deleted = !(winner?.present === true && winner.value === true);
    else if (winner?.present) out.fields[field] = winner.value as JsonValue;
  }
  if (Object.keys(out.state).length === 0) return undefined;
  return rowOf(out);
}
