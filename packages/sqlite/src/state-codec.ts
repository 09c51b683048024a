/**
 * @module state-codec
 * How the `records.state` column holds a row's merge registers (schema 4).
 *
 * The state is opaque to the store, but most rows carry one shape: a record
 * last written whole by one write (every import, every `put`) has one
 * register `{ w: updated }` per field, in the fields' order, then the
 * liveness register `""`. That shape is about a third of the row's bytes
 * and its JSON a large share of a bulk write's CPU; it is fully given by
 * the fields and `updated`, so the column holds `''` for it and any other
 * state as JSON text (never empty). Reading rebuilds the same object, key
 * order included.
 */
import type { JsonObject } from '@kith/core/adapter';

/** The liveness register's key (the core's `ALIVE`). */
const ALIVE = '';

/** True when `state` is exactly the one-write shape of `fields` and `updated`. */
function isOneWrite(fields: JsonObject, state: JsonObject, updated: string): boolean {
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

/** The column text of a row's state. */
export function encodeState(fields: JsonObject, state: JsonObject, updated: string): string {
  return isOneWrite(fields, state, updated) ? '' : JSON.stringify(state);
}

/** The state a column text stands for, given the row's (decoded) fields and `updated`. */
export function decodeState(text: string, fields: JsonObject, updated: string): JsonObject {
  if (text !== '') return JSON.parse(text) as JsonObject;
  const state: JsonObject = {};
  // defineProperty, as JSON.parse does: a field named "__proto__" must become a key, not the prototype.
  for (const name of Object.keys(fields)) Object.defineProperty(state, name, { value: { w: updated }, enumerable: true, writable: true, configurable: true });
  state[ALIVE] = { w: updated };
  return state;
}
