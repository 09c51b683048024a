/**
 * @module local-writes
 * Builds the op for a local write from what this device sees now. Ops name
 * as predecessors exactly the values the writer saw, which is what makes a
 * later write beat an earlier one regardless of clocks.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { dict } from '../base/data-keys.js';
import type { JsonObject, JsonValue } from './json.js';
import { currentStamp, headStamps, conflictsOf, type RecordView } from './merge.js';
import { ALIVE, type Op } from './ops.js';

type Prevs = Record<string, string[]>;

function withPrev(prevs: Prevs, view: RecordView, field: string): void {
  const p = currentStamp(view, field);
  if (p) prevs[field] = p;
}

function finish(op: { -readonly [K in keyof Op]: Op[K] }, prevs: Prevs): Op {
  if (Object.keys(prevs).length > 0) op.r = prevs;
  return op;
}

/** Replace: the record becomes exactly `fields` (fields not given are unset). */
export function putOp(view: RecordView, t: string, fields: JsonObject): Op {
  const prevs: Prevs = dict();
  const unset = Object.keys(view.fields).filter((f) => !Object.hasOwn(fields, f));
  for (const f of Object.keys(fields)) withPrev(prevs, view, f);
  for (const f of unset) withPrev(prevs, view, f);
  withPrev(prevs, view, ALIVE);
  const op: { -readonly [K in keyof Op]: Op[K] } = { c: view.collection, i: view.id, t, k: 'p', s: fields, a: true };
  if (unset.length > 0) op.u = unset;
  return finish(op, prevs);
}

/**
 * A put on a record this device holds nothing of (no row, no earlier write
 * in the transaction): the op `putOp` builds and the view `applyOp` leaves,
 * made directly. Such a put replaces nothing, so every register gets the one
 * write; bulk imports are made of these, and the general merge costs several
 * times this per record. Returns undefined when the view is not empty.
 *
 * The view's `fields` become `fields` itself, the op's `s`, rather than a
 * copy of it: the caller owns `fields` (a copy of the user's) and must give
 * the view a copy of its own before changing it again.
 */
export function putOnEmpty(view: RecordView, t: string, device: string, fields: JsonObject): Op | undefined {
  if (view.updated !== '') return undefined;
  for (const _ in view.state) return undefined;
  for (const _ in view.fields) return undefined;
  const stamp = t + device;
  for (const f of Object.keys(fields)) view.state[f] = { w: stamp };
  view.fields = fields;
  view.state[ALIVE] = { w: stamp };
  view.deleted = false;
  view.updated = stamp;
  return emptyPutOp(view.collection, view.id, t, fields);
}

/**
 * The op of {@link putOnEmpty}: after it, the record's row holds exactly
 * `fields` and the one-write state stamped `t` + the device, so a store may
 * keep the op as a reference to that row and rebuild it with this.
 */
export function emptyPutOp(collection: string, id: string, t: string, fields: JsonObject): Op {
  return { c: collection, i: id, t, k: 'p', s: fields, a: true };
}

const EMPTY_PUT_KEYS = ['c', 'i', 't', 'k', 's', 'a'];

/**
 * Whether `op` is exactly what {@link emptyPutOp} builds from its `c`, `i`,
 * `t` and `s` (own keys, their order and the constant values): only then
 * does rebuilding it give the same op, and the same JSON text.
 */
export function isEmptyPutOp(op: JsonObject): boolean {
  // for-in, not Object.keys: no array per op (a batch offers every op); for-in also walks inherited
  // enumerable keys, which only make a mismatch, so an op it accepts has exactly these own keys.
  let k = 0;
  for (const key in op) if (key !== EMPTY_PUT_KEYS[k++] || !Object.hasOwn(op, key)) return false;
  if (k !== EMPTY_PUT_KEYS.length) return false;
  const s = op['s'];
  return (
    op['k'] === 'p' &&
    op['a'] === true &&
    typeof op['c'] === 'string' &&
    typeof op['i'] === 'string' &&
    typeof op['t'] === 'string' &&
    typeof s === 'object' &&
    s !== null &&
    !Array.isArray(s)
  );
}

// putFields moved to json.ts, beside the check it is fused with (checkPutFields); re-exported for this module's callers.
export { putFields } from './json.js';

/** Patch: set the given fields (an `undefined` value unsets it), keep the rest. */
export function patchOp(view: RecordView, t: string, fields: Readonly<Record<string, JsonValue | undefined>>): Op {
  const prevs: Prevs = dict();
  const set: JsonObject = dict();
  const unset: string[] = [];
  for (const [f, v] of Object.entries(fields)) {
    if (v === undefined) unset.push(f);
    else set[f] = v;
    withPrev(prevs, view, f);
  }
  withPrev(prevs, view, ALIVE);
  const op: { -readonly [K in keyof Op]: Op[K] } = { c: view.collection, i: view.id, t, k: 'm', s: set, a: true };
  if (unset.length > 0) op.u = unset;
  return finish(op, prevs);
}

/** Delete: liveness false, every field unset (a later write may resurrect). */
export function deleteOp(view: RecordView, t: string): Op {
  const prevs: Prevs = dict();
  const unset = Object.keys(view.fields);
  for (const f of unset) withPrev(prevs, view, f);
  withPrev(prevs, view, ALIVE);
  const op: { -readonly [K in keyof Op]: Op[K] } = { c: view.collection, i: view.id, t, k: 'd', a: false };
  if (unset.length > 0) op.u = unset;
  return finish(op, prevs);
}

/**
 * Resolve the conflicts of a record (one field, or all when `field` is
 * undefined): writes the chosen value replacing every concurrent head.
 * Throws KITH_NO_CONFLICT when there is nothing to resolve.
 */
export function resolveOp(view: RecordView, t: string, field: string | null | undefined, how: Resolution): Op {
  const conflicts = conflictsOf(view).filter((c) => field === undefined || c.field === field);
  if (conflicts.length === 0) {
    throw new KithError(ErrorCode.NoConflict, `${view.collection}/${view.id}${field ? ` field "${field}"` : ''} has no conflict to resolve`, {
      hint: 'list the conflicts to see what can be resolved',
      reason: 'no-conflict',
    });
  }
  const prevs: Prevs = dict();
  const set: JsonObject = dict();
  const unset: string[] = [];
  let alive: boolean | undefined;
  for (const c of conflicts) {
    const key = c.field ?? ALIVE;
    prevs[key] = headStamps(view, key);
    let chosen: { present: boolean; value: JsonValue | undefined };
    if ('keep' in how) chosen = c.heads[0]!;
    else if ('take' in how) {
      const h = c.heads.find((x) => x.device === how.take);
      if (!h) {
        throw new KithError(ErrorCode.BadInput, `device ${how.take} has no value in the conflict on ${c.field ?? 'the record'}`, {
          hint: `choose one of: ${c.heads.map((x) => x.device).join(', ')}`,
        });
      }
      chosen = h;
    } else {
      chosen = c.field === null ? { present: true, value: how.value !== null && how.value !== false } : { present: true, value: how.value };
    }
    if (c.field === null) alive = chosen.value === true;
    else if (chosen.present) set[c.field] = chosen.value as JsonValue;
    else unset.push(c.field);
  }
  const op: { -readonly [K in keyof Op]: Op[K] } = { c: view.collection, i: view.id, t, k: 'r' };
  if (Object.keys(set).length > 0) op.s = set;
  if (unset.length > 0) op.u = unset;
  if (alive !== undefined) op.a = alive;
  return finish(op, prevs);
}

/** How to resolve: keep what wins now, take one device's value, or write a new value. */
export type Resolution = { readonly keep: true } | { readonly take: string } | { readonly value: JsonValue };
