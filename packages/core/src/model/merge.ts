/**
 * @module merge
 * Per-field multi-value registers with causal supersession.
 *
 * Every write names the values it replaces (its predecessors). A field's
 * *heads* are the writes that no other write replaced; the winner is the
 * head with the greatest stamp (HLC, then device id), and the other heads
 * are the losing sides of a conflict. Because heads are defined by the set
 * of writes alone, every device reaches the same values and the same
 * conflicts whatever order the writes arrive in (segments of one device
 * arrive in order; different devices interleave freely).
 *
 * A write may arrive before a write it replaced (from another device):
 * such not-yet-seen predecessors are remembered as *pending* so the late
 * write is recognised as already replaced when it comes.
 *
 * The record itself has a liveness register under the field name `""`:
 * put/patch write true, delete writes false (and unsets every field).
 */
import { invariant } from '../base/errors.js';
import { dict, own } from '../base/data-keys.js';
import type { JsonObject, JsonValue } from './json.js';
import { ALIVE, type Op } from './ops.js';
import { stampDevice } from './hlc.js';

/** A losing head: [stamp] for an unset/delete, [stamp, value] for a value. */
export type LoserEntry = [string] | [string, JsonValue];

/** A field's register as stored in `RecordRow.state[field]`. */
export interface Register {
  /** Winner's stamp; its value lives in `RecordRow.fields` (liveness: `!deleted`). */
  w: string;
  /** Other heads: concurrent values that lost (a conflict while non-empty). */
  l?: LoserEntry[];
  /** Stamps already replaced by an applied write but not yet received. */
  p?: string[];
  /** Liveness register only: the retention floor the record was expired at (see expiry.ts); older writes are dropped. */
  f?: string;
}

/** The reserved device of expiry stamps (never a real device: ids are random). */
export const EXPIRY_DEVICE = 'ffffffffffffffff';

/** A mutable working copy of one record during a transaction. */
export interface RecordView {
  readonly collection: string;
  readonly id: string;
  fields: JsonObject;
  deleted: boolean;
  state: Record<string, Register>;
  updated: string;
}

/** Says whether a stamp's write has been applied on this device already. */
export type IsApplied = (stamp: string) => boolean;

export interface Head {
  stamp: string;
  present: boolean;
  value: JsonValue | undefined;
}

/** A working copy of a stored row; its maps are keyed by field names from data, hence null-prototype. */
export function viewOf(row: RecordRow | undefined, collection: string, id: string): RecordView {
  if (!row) return { collection, id, fields: dict(), deleted: true, state: dict(), updated: '' };
  return {
    collection,
    id,
    fields: Object.assign(dict<JsonValue>(), row.fields),
    deleted: row.deleted,
    state: Object.assign(dict<Register>(), structuredClone(row.state) as unknown as Record<string, Register>),
    updated: row.updated,
  };
}

export function rowOf(view: RecordView): RecordRow {
  let conflicted = false;
  // Object.keys, not entries: this runs for every row a transaction writes, and entries allocates a pair per field.
  for (const field of Object.keys(view.state)) {
    const reg = view.state[field]!;
    if (reg.l && reg.l.length > 0 && isConflicted(headsOf(view, field))) {
      conflicted = true;
      break;
    }
  }
  return {
    collection: view.collection,
    id: view.id,
    fields: view.fields,
    deleted: view.deleted,
    state: view.state as unknown as JsonObject,
    conflicted,
    updated: view.updated,
  };
}

export function headsOf(view: RecordView, field: string): Head[] {
  const reg = own(view.state, field);
  if (!reg) return [];
  const heads: Head[] = [];
  if (reg.w !== '') {
    if (field === ALIVE) heads.push({ stamp: reg.w, present: true, value: !view.deleted });
    else if (Object.hasOwn(view.fields, field)) heads.push({ stamp: reg.w, present: true, value: view.fields[field] });
    else heads.push({ stamp: reg.w, present: false, value: undefined });
  }
  for (const l of reg.l ?? []) heads.push(l.length === 2 ? { stamp: l[0], present: true, value: l[1] } : { stamp: l[0], present: false, value: undefined });
  return heads;
}

/** Applies one write to one register. */
function applyWrite(view: RecordView, field: string, write: Head, prevs: readonly string[] | undefined, isApplied: IsApplied): void {
  const heads = headsOf(view, field);
  const pending = [...(own(view.state, field)?.p ?? [])];
  let superseded = false;
  const at = pending.indexOf(write.stamp);
  if (at >= 0) {
    pending.splice(at, 1);
    superseded = true;
  }
  for (const prev of prevs ?? []) {
    const j = heads.findIndex((h) => h.stamp === prev);
    if (j >= 0) heads.splice(j, 1);
    else if (!isApplied(prev) && !pending.includes(prev) && !prev.endsWith(EXPIRY_DEVICE) && !belowFloor(view, prev)) pending.push(prev);
  }
  if (!superseded && !heads.some((h) => h.stamp === write.stamp)) heads.push(write);
  setHeads(view, field, heads, pending);
}

function setHeads(view: RecordView, field: string, heads: Head[], pending: string[]): void {
  invariant(heads.length > 0 || pending.length > 0 || !own(view.state, field), 'a register lost all its heads');
  heads.sort((a, b) => (a.stamp < b.stamp ? 1 : a.stamp > b.stamp ? -1 : 0));
  const [winner, ...losers] = heads;
  const reg: Register = { w: winner?.stamp ?? '' };
  if (losers.length > 0) reg.l = losers.map((h): LoserEntry => (h.present ? [h.stamp, h.value as JsonValue] : [h.stamp]));
  if (pending.length > 0) reg.p = pending.sort();
  const floor = own(view.state, field)?.f;
  if (floor !== undefined) reg.f = floor;
  view.state[field] = reg;
  if (field === ALIVE) {
    view.deleted = !(winner?.present === true && winner.value === true);
  } else if (winner?.present) {
    view.fields[field] = winner.value as JsonValue;
  } else {
    delete view.fields[field];
  }
}

/**
 * Applies `op`, written by `device`, to `view`. Returns false (and changes
 * nothing) when the op was applied before: applying is idempotent.
 */
export function applyOp(view: RecordView, op: Op, device: string, isApplied: IsApplied): boolean {
  const stamp = op.t + device;
  if (isApplied(stamp) || belowFloor(view, stamp)) return false;
  // op.r comes from data: a field named "constructor" must not find Object's.
  if (op.s) {
    for (const [field, value] of Object.entries(op.s)) {
      applyWrite(view, field, { stamp, present: true, value }, own(op.r, field), isApplied);
    }
  }
  if (op.u) for (const field of op.u) applyWrite(view, field, { stamp, present: false, value: undefined }, own(op.r, field), isApplied);
  if (op.a !== undefined) applyWrite(view, ALIVE, { stamp, present: true, value: op.a }, own(op.r, ALIVE), isApplied);
  if (stamp > view.updated) view.updated = stamp;
  return true;
}

/** Writes older than an expired record's floor lost to the expiry (expiry stamps themselves are never received: never pending). */
function belowFloor(view: RecordView, stamp: string): boolean {
  const floor = own(view.state, ALIVE)?.f;
  return floor !== undefined && stamp < floor;
}

function sameValue(a: Head, b: Head): boolean {
  if (a.present !== b.present) return false;
  if (a.value === b.value) return true;
  return JSON.stringify(a.value) === JSON.stringify(b.value);
}

/**
 * Predecessors for a normal local write of `field`: the value it sees now,
 * that is the winner and every head holding the same value (concurrent
 * writes that agree are not a conflict). Losing heads with other values
 * stay: an edit does not silently resolve a conflict.
 */
export function currentStamp(view: RecordView, field: string): string[] | undefined {
  const heads = headsOf(view, field);
  const winner = heads[0];
  if (!winner) return undefined;
  return heads.filter((h) => sameValue(h, winner)).map((h) => h.stamp);
}

/** Heads of a register whose values differ from the winner's make a conflict. */
function isConflicted(heads: readonly Head[]): boolean {
  const winner = heads[0];
  return winner !== undefined && heads.some((h) => !sameValue(h, winner));
}

/** Every head of `field` (winner first): what a resolve replaces. */
export function headStamps(view: RecordView, field: string): string[] {
  return headsOf(view, field).map((h) => h.stamp);
}

/** A conflict in a view: the field (`null` = the record's liveness) and its heads. */
export interface ViewConflict {
  readonly field: string | null;
  readonly heads: readonly { stamp: string; device: string; present: boolean; value: JsonValue | undefined }[];
}

/** The conflicts in a record, winner first in each. */
export function conflictsOf(view: RecordView): ViewConflict[] {
  const out: ViewConflict[] = [];
  for (const [field, reg] of Object.entries(view.state)) {
    if (!reg.l || reg.l.length === 0) continue;
    const heads = headsOf(view, field);
    if (!isConflicted(heads)) continue;
    out.push({
      field: field === ALIVE ? null : field,
      heads: heads.map((h) => ({ ...h, device: stampDevice(h.stamp) })),
    });
  }
  out.sort((a, b) => ((a.field ?? '') < (b.field ?? '') ? -1 : 1));
  return out;
}

/** Number of conflicting fields in a stored row. */
export function conflictCount(row: RecordRow): number {
  return row.conflicted ? conflictsOf(viewOf(row, row.collection, row.id)).length : 0;
}

/** One record as the store keeps it. */
export interface RecordRow {
  readonly collection: string;
  readonly id: string;
  /** The winning value of every field that is set (a deleted record keeps what survived). */
  readonly fields: JsonObject;
  /** True when the record is deleted (a tombstone); queries skip it. */
  readonly deleted: boolean;
  /** Merge registers, opaque to the store: kept and returned exactly as given. */
  readonly state: JsonObject;
  /** True when some field holds concurrent values (an unresolved conflict). */
  readonly conflicted: boolean;
  /** HLC stamp of the latest write applied to this record. */
  readonly updated: string;
}
