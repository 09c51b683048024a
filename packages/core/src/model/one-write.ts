/**
 * @module model/one-write
 * The merge state of a record last written whole by one write (every
 * import, every `put`): one register `{ w: updated }` per field, in the
 * fields' order, then the liveness register `""`. Most rows carry it and it
 * is fully given by the fields and `updated`, so stores and snapshots keep
 * a marker for it instead of its JSON (a third of a row's bytes).
 */
import type { JsonObject } from './json.js';
import { ALIVE } from './ops.js';

/** True when `state` is exactly the one-write shape of `fields` and `updated`, key order included. */
export function isOneWriteState(fields: JsonObject, state: JsonObject, updated: string): boolean {
  // Object.keys, not for-in: the core's maps have no prototype, and for-in over them is several times slower.
  const keys = Object.keys(state);
  const names = Object.keys(fields);
  if (keys.length !== names.length + 1 || keys[names.length] !== ALIVE) return false;
  for (let i = 0; i < keys.length; i++) {
    if (i < names.length && keys[i] !== names[i]) return false;
    const reg = state[keys[i]!];
    if (typeof reg !== 'object' || reg === null || Array.isArray(reg) || reg['w'] !== updated || Object.keys(reg).length !== 1) return false;
  }
  return true;
}

/**
 * The one-write state of `fields` and `updated`, as a new object. `oneRegister`: the same register object
 * under every name, for rows made in bulk (a snapshot's: two objects per row instead of one per field and
 * one more); registers are values, which the merge replaces and never changes in place.
 */
export function oneWriteState(fields: JsonObject, updated: string, oneRegister = false): JsonObject {
  const state: JsonObject = {};
  const shared = oneRegister ? { w: updated } : undefined;
  for (const name of Object.keys(fields)) {
    const reg = shared ?? { w: updated };
    // As JSON.parse does: a field named "__proto__" must become a key, not the prototype.
    if (name === '__proto__') Object.defineProperty(state, name, { value: reg, enumerable: true, writable: true, configurable: true });
    else state[name] = reg;
  }
  state[ALIVE] = shared ?? { w: updated };
  return state;
}
