/**
 * @module json
 * JSON value types and the checks every record passes before it is stored.
 */
import { ErrorCode, KithError } from './errors.js';

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Largest encoded size of one field value (UTF-8 JSON). Keeps segments bounded. */
export const MAX_VALUE_BYTES = 16 * 1024 * 1024;
/** Largest encoded size of one record (all fields). */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses text as a JSON object or throws a one-line KITH_BAD_INPUT. */
export function parseJsonObject(text: string, what = 'record'): JsonObject {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new KithError(ErrorCode.BadInput, `${what} is not valid JSON: ${(e as Error).message}`);
  }
  if (!isJsonObject(v)) throw new KithError(ErrorCode.BadInput, `${what} must be a JSON object`);
  return v;
}

const textEncoder = new TextEncoder();

/** UTF-8 size of JSON text; exact only when it could matter for the limits. */
function jsonSize(text: string): number {
  return text.length * 3 < MAX_VALUE_BYTES ? text.length : textEncoder.encode(text).length;
}

/**
 * Checks a record's fields: names non-empty, values finite JSON, sizes
 * bounded. Throws KITH_BAD_INPUT or KITH_TOO_LARGE.
 */
export function checkFields(fields: JsonObject): void {
  let total = 0;
  for (const [name, value] of Object.entries(fields)) {
    if (name === '') throw new KithError(ErrorCode.BadInput, 'field names must not be empty');
    if (name === 'id') throw new KithError(ErrorCode.BadInput, '"id" is the record id, not a field', { hint: 'remove "id" from the object, or pass it as the ID argument' });
    if (value === undefined) continue;
    let text: string;
    try {
      text = JSON.stringify(value);
    } catch (e) {
      throw new KithError(ErrorCode.BadInput, `field "${name}" is not JSON: ${(e as Error).message}`);
    }
    const size = jsonSize(text);
    if (size > MAX_VALUE_BYTES) {
      throw new KithError(ErrorCode.TooLarge, `field "${name}" is ${size} bytes; the limit is ${MAX_VALUE_BYTES}`, {
        hint: 'store large content as an attachment (blob) and keep its ref in the record',
      });
    }
    total += size;
  }
  if (total > MAX_RECORD_BYTES) {
    throw new KithError(ErrorCode.TooLarge, `record is ${total} bytes; the limit is ${MAX_RECORD_BYTES}`, {
      hint: 'split it into several records or store large content as an attachment',
    });
  }
}
