/**
 * @module state-codec
 * How the `records.state` column holds a row's merge registers (schema 4, 6).
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
import { isOneWriteState, oneWriteState, type JsonObject } from '@kith/core/adapter';

/**
 * The column text of a one-write row that an outbox reference (schema 6, put-refs.ts) points at: the
 * same state as `''`, and a marker for the trigger that keeps the row's fields when it changes before push.
 */
export const REFERENCED_STATE = '@';

/** The column text of a row's state. */
export function encodeState(fields: JsonObject, state: JsonObject, updated: string): string {
  return isOneWriteState(fields, state, updated) ? '' : JSON.stringify(state);
}

/** The state a column text stands for, given the row's (decoded) fields and `updated`. */
export function decodeState(text: string, fields: JsonObject, updated: string): JsonObject {
  return text !== '' && text !== REFERENCED_STATE ? (JSON.parse(text) as JsonObject) : oneWriteState(fields, updated);
}
