/**
 * @module json
 * JSON value types and the checks every record passes before it is stored.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { dict } from '../base/data-keys.js';

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Largest encoded size of one field value (UTF-8 JSON). Keeps segments bounded. */
export const MAX_VALUE_BYTES = 16 * 1024 * 1024;
/** Largest encoded size of one record (all fields). */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;
/**
 * Deepest nesting of arrays and objects in one field value: a field holding
 * `{}` or `[]` is at level 1. Deeper values would overflow the stack of
 * recursive JSON code on some device (or in some app) sooner or later.
 */
export const MAX_DEPTH = 64;

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

/** A lone surrogate: UTF-16 that has no UTF-8 form (a pair is one code point in a `u` regex). */
const LONE_SURROGATE = /\p{Cs}/u;

/** `String.prototype.isWellFormed` where the runtime has it (Node 20, current browsers): several times faster than the regex. */
const nativeWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;

/** True when `s` can round-trip through UTF-8 (no lone surrogates). */
export const isWellFormed: (s: string) => boolean = nativeWellFormed !== undefined ? (s) => nativeWellFormed.call(s) : (s) => !LONE_SURROGATE.test(s);

/**
 * An upper bound of a checked primitive's JSON size, without encoding it:
 * a UTF-16 unit takes at most 6 characters escaped (`\u001f`), a number or
 * literal at most 24. Undefined for containers, which are measured exactly.
 */
function primitiveSizeBound(value: JsonValue): number | undefined {
  if (typeof value === 'string') return value.length * 6 + 2;
  if (typeof value !== 'object' || value === null) return 24;
  return undefined;
}

/** A step of a path into a record, linked to its parent: built into text only for an error. */
interface PathStep {
  readonly up: PathStep | undefined;
  readonly key: string | number;
}

/** The path as a JSON Pointer (RFC 6901), quoted and cut to a readable length. */
function pointer(at: PathStep): string {
  const keys: (string | number)[] = [];
  for (let s: PathStep | undefined = at; s; s = s.up) keys.push(s.key);
  const text = keys
    .reverse()
    .map((k) => '/' + String(k).replaceAll('~', '~0').replaceAll('/', '~1'))
    .join('');
  return JSON.stringify(text.length > 120 ? text.slice(0, 117) + '...' : text);
}

function badValue(at: PathStep, why: string, hint?: string): KithError {
  return new KithError(ErrorCode.BadInput, `value at ${pointer(at)} ${why}`, hint ? { hint } : undefined);
}

/** What `v` is, for an error message. */
function kindOf(v: unknown): string {
  if (typeof v !== 'object' || v === null) return typeof v;
  return Object.getPrototypeOf(v)?.constructor?.name ?? 'object';
}

/** Checks `v` if it is a JSON primitive and returns true; false for anything else (checked by the caller). */
function checkPrimitive(v: unknown, up: PathStep | undefined, key: string | number): v is JsonPrimitive {
  if (v === null || typeof v === 'boolean') return true;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw badValue({ up, key }, `is ${v}: numbers must be finite`);
    return true;
  }
  if (typeof v === 'string') {
    if (!isWellFormed(v)) throw badValue({ up, key }, 'holds a lone surrogate (not valid Unicode text)');
    return true;
  }
  return false;
}

/**
 * Checks one field value without recursion (so a hostile depth cannot blow
 * the stack): JSON types only, finite numbers, strings and keys that are
 * valid Unicode, at most {@link MAX_DEPTH} levels. Object members whose
 * value is `undefined` are left out, as JSON does; `undefined` in an array
 * (which JSON would turn into null) is refused.
 */
function checkValue(field: string, value: unknown): void {
  if (checkPrimitive(value, undefined, field)) return; // most fields: no stacks to allocate
  // Parallel stacks rather than an object per node: a 16 MiB value has millions of them.
  // A path step is made only for containers (the parent of what is below) and for an error.
  const vals: unknown[] = [value];
  const ups: (PathStep | undefined)[] = [undefined];
  const keys: (string | number)[] = [field];
  const depths: number[] = [0];
  while (vals.length > 0) {
    const v = vals.pop();
    const up = ups.pop();
    const key = keys.pop()!;
    const depth = depths.pop()!;
    if (checkPrimitive(v, up, key)) continue;
    const at: PathStep = { up, key };
    if (typeof v !== 'object') throw badValue(at, `is ${v === undefined ? 'undefined' : `a ${typeof v}`}, not JSON`);
    if (depth >= MAX_DEPTH)
      throw badValue(at, `nests deeper than ${MAX_DEPTH} levels of arrays and objects`, 'flatten the value, or store it as an attachment (blob)');
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        vals.push(v[i]);
        ups.push(at);
        keys.push(i);
        depths.push(depth + 1);
      }
      continue;
    }
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) throw badValue(at, `is a ${kindOf(v)}, not a plain JSON object`);
    const members = Object.keys(v);
    for (let i = members.length - 1; i >= 0; i--) {
      const k = members[i]!;
      if (!isWellFormed(k)) throw badValue({ up: at, key: k }, 'has a key with a lone surrogate (not valid Unicode text)');
      const x = (v as Record<string, unknown>)[k];
      if (x === undefined) continue;
      vals.push(x);
      ups.push(at);
      keys.push(k);
      depths.push(depth + 1);
    }
  }
}

/** A field name: non-empty, not `id`, valid Unicode. */
function checkFieldName(name: string): void {
  if (name === '') throw new KithError(ErrorCode.BadInput, 'field names must not be empty');
  if (name === 'id')
    throw new KithError(ErrorCode.BadInput, '"id" is the record id, not a field', { hint: 'remove "id" from the object, or pass it as the ID argument' });
  if (!isWellFormed(name)) throw badValue({ up: undefined, key: name }, 'has a field name with a lone surrogate (not valid Unicode text)');
}

/**
 * Checks a record's fields: names non-empty, valid Unicode and not `id`;
 * values JSON as described in docs/FORMAT.md "Field values" (finite
 * numbers, valid Unicode, at most {@link MAX_DEPTH} levels); sizes bounded.
 * Throws KITH_BAD_INPUT or KITH_TOO_LARGE naming the path of the first
 * problem.
 */
export function checkFields(fields: JsonObject): void {
  if (!isJsonObject(fields)) throw new KithError(ErrorCode.BadInput, 'fields must be a JSON object');
  // Fast path for the common record of small primitives: when upper bounds of the sizes are
  // within every limit, the exact sizes are too, and nothing needs encoding.
  // Object.keys once, not values and entries: this runs for every write of a batch, and the pairs were garbage.
  const names = Object.keys(fields);
  let bound = 0;
  for (const name of names) {
    const value = fields[name];
    if (value === undefined) continue;
    const b = primitiveSizeBound(value);
    if (b === undefined || b > MAX_VALUE_BYTES) {
      bound = Infinity;
      break;
    }
    bound += b;
  }
  let total = 0;
  for (const name of names) {
    const value = fields[name];
    checkFieldName(name);
    if (value === undefined) continue;
    checkValue(name, value);
    if (bound <= MAX_RECORD_BYTES) continue;
    const size = jsonSize(JSON.stringify(value));
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

/**
 * A checked put's fields as a copy with the ordinary prototype, `undefined`
 * values dropped: what {@link copyFields} gives, own keys and their order
 * included, but an object V8 keeps with fast properties (serializing a
 * null-prototype copy took about 1.7 times as long, and copying into one
 * four times as long as this). Only for `putOnEmpty` and `putOp`
 * in one write round, which read it by own keys only and never add a key
 * to it (a view that a later write changes gets a null-prototype copy
 * first): so a field named `__proto__` is defined as an own key here and
 * inherited members are never read as fields.
 */
export function putFields(fields: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const name of Object.keys(fields)) {
    const value = fields[name];
    if (value === undefined) continue;
    if (name === '__proto__') Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
    else out[name] = value;
  }
  return out;
}

/**
 * {@link checkFields} and {@link putFields} in one pass over the fields, for the common record of
 * primitives whose size bounds are within the limits (a batch's puts: one walk of the keys instead of
 * three). Anything else takes the two functions themselves, from the start, so the first problem
 * reported is the one checkFields reports.
 */
export function checkPutFields(fields: JsonObject): JsonObject {
  if (!isJsonObject(fields)) throw new KithError(ErrorCode.BadInput, 'fields must be a JSON object');
  const out: JsonObject = {};
  let bound = 0;
  for (const name of Object.keys(fields)) {
    const value = fields[name];
    const b = value === undefined ? 0 : primitiveSizeBound(value);
    if (b === undefined || b > MAX_VALUE_BYTES || (bound += b) > MAX_RECORD_BYTES) return checkedSlowly(fields);
    checkFieldName(name);
    if (value === undefined) continue;
    // Not a primitive after all (a function, a symbol): checkFields says what it is.
    if (!checkPrimitive(value, undefined, name)) return checkedSlowly(fields);
    if (name === '__proto__') Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
    else out[name] = value;
  }
  return out;
}

function checkedSlowly(fields: JsonObject): JsonObject {
  checkFields(fields);
  return putFields(fields);
}

/**
 * A checked write's fields as a null-prototype copy, so a field named
 * `__proto__` stays a field: `undefined` values are dropped (a put) or kept
 * to mean "unset" (a patch).
 */
export function copyFields(fields: JsonObject, keepUndefined: boolean): JsonObject {
  const out = dict<JsonValue>();
  for (const name of Object.keys(fields)) {
    const value = fields[name];
    if (value !== undefined || keepUndefined) out[name] = value as JsonValue;
  }
  return out;
}

/** Code-unit order of strings (what `<` compares). */
const byKey = ([a]: [string, unknown], [b]: [string, unknown]): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The fields in their one documented order, the same on every device
 * whatever order the writes arrived in: keys inserted in code-unit order,
 * which JavaScript then enumerates with integer-like keys ("0", "7", "10")
 * first in numeric order and every other key after them in code-unit order.
 */
export function orderedFields(fields: JsonObject): JsonObject {
  return Object.fromEntries<JsonValue>(Object.entries(fields).sort(byKey));
}
