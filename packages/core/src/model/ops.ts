/**
 * @module ops
 * Ops: the unit of change inside a segment. One op is one write to one
 * record (a put, patch, delete or resolve) by the segment's device, at one
 * HLC stamp. See docs/FORMAT.md "Segment payload".
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { isStamp, parseLocal } from './hlc.js';
import { isJsonObject, type JsonObject } from './json.js';
import { checkCollection, checkRecordId, isReservedCollection } from './names.js';

export type OpKind = 'p' | 'm' | 'd' | 'r';

/** The field name of the record's liveness register in `prev` maps. */
export const ALIVE = '';

/**
 * One write. Short keys because ops are the bulk of every segment (they are
 * compressed too, but parse time still scales with size).
 */
export interface Op {
  /** Collection. */
  readonly c: string;
  /** Record id. */
  readonly i: string;
  /** Local HLC stamp (13 chars); the device is the segment's author. */
  readonly t: string;
  /** put (replace) | patch | delete | resolve. */
  readonly k: OpKind;
  /** Fields set, with their new values. */
  readonly s?: JsonObject;
  /** Fields unset. */
  readonly u?: readonly string[];
  /** Liveness set by this op: true (put, patch, a resolve that keeps the record), false (delete). */
  readonly a?: boolean;
  /**
   * Predecessors: for each field this op writes (`""` = liveness), the full
   * stamps of the values it replaces; a field absent here replaced nothing.
   */
  readonly r?: Readonly<Record<string, readonly string[]>>;
}

export const OP_KIND_NAMES: Record<OpKind, 'put' | 'patch' | 'delete' | 'resolve'> = {
  p: 'put',
  m: 'patch',
  d: 'delete',
  r: 'resolve',
};

/** The payload format version inside a segment's plaintext. */
export const PAYLOAD_VERSION = 1;
/** Payloads with ops on reserved `_kith.` collections (retention): older builds say they need a newer version instead of refusing them as corrupt. */
export const RESERVED_PAYLOAD_VERSION = 2;

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** Encodes ops as a segment payload (UTF-8 JSON `{"v":1,"ops":[...]}`). */
export function encodePayload(ops: readonly Op[]): Uint8Array {
  const v = ops.some((op) => isReservedCollection(op.c)) ? RESERVED_PAYLOAD_VERSION : PAYLOAD_VERSION;
  return enc.encode(JSON.stringify({ v, ops }));
}

function corrupt(msg: string): KithError {
  return new KithError(ErrorCode.IntegrityCorrupt, `segment payload: ${msg}`);
}

/**
 * Decodes and strictly validates a payload. It arrives authenticated, but a
 * buggy or older writer must not be able to put the store in a bad state.
 * `lastLocal` is the previous op's stamp from the same device: stamps must
 * increase strictly within and across segments.
 */
export function decodePayload(bytes: Uint8Array, lastLocal: string | undefined): Op[] {
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(bytes));
  } catch {
    throw corrupt('not UTF-8 JSON');
  }
  if (!isJsonObject(v)) throw corrupt('not an object');
  const version = v['v'];
  if (version !== PAYLOAD_VERSION && version !== RESERVED_PAYLOAD_VERSION) {
    throw new KithError(ErrorCode.UnsupportedFormat, `segment payload version ${JSON.stringify(v['v'])} is not supported by this build`, {
      hint: 'this device needs a newer version of the software',
      reason: 'newer-format',
    });
  }
  const ops = v['ops'];
  if (!Array.isArray(ops)) throw corrupt('ops missing');
  let prev = lastLocal;
  for (const op of ops) {
    checkOp(op, version === RESERVED_PAYLOAD_VERSION);
    if (prev !== undefined && op.t <= prev) throw corrupt('stamps do not increase');
    prev = op.t;
    dropNullPredecessors(op);
  }
  return ops as unknown as Op[];
}

const KINDS = new Set(['p', 'm', 'd', 'r']);
const OP_KEYS = new Set(['c', 'i', 't', 'k', 's', 'u', 'a', 'r']);

/** Throws KITH_INTEGRITY_CORRUPT unless `op` is a well-formed Op. */
export function checkOp(op: unknown, reservedAllowed = false): asserts op is Op {
  if (!isJsonObject(op)) throw corrupt('op is not an object');
  for (const key of Object.keys(op)) if (!OP_KEYS.has(key)) throw corrupt(`unknown op key ${key}`);
  const { c, i, t, k, s, u, a, r } = op;
  try {
    if (!reservedAllowed || !isReservedCollection(c as string)) checkCollection(c as string);
    checkRecordId(i as string);
  } catch {
    throw corrupt('bad collection or id');
  }
  if (typeof t !== 'string') throw corrupt('bad stamp');
  parseLocal(t);
  if (typeof k !== 'string' || !KINDS.has(k)) throw corrupt('bad op kind');
  if (s !== undefined && (!isJsonObject(s) || Object.hasOwn(s, ALIVE))) throw corrupt('bad field set');
  if (u !== undefined && (!Array.isArray(u) || !u.every((f) => typeof f === 'string' && f !== ALIVE))) throw corrupt('bad unset list');
  if (a !== undefined && typeof a !== 'boolean') throw corrupt('bad liveness');
  if (r !== undefined) {
    if (!isJsonObject(r)) throw corrupt('bad predecessors');
    for (const list of Object.values(r)) {
      if (!Array.isArray(list) || !list.every((x) => x === null || isStamp(x))) throw corrupt('bad predecessor stamp');
    }
  }
}

/**
 * Builds before the fix of issue #12 wrote `null` as the predecessor of a
 * field named like an `Object.prototype` member (`constructor`, `toString`,
 * ...) that had no value yet: it meant "replaced nothing". Dropping it keeps
 * those segments, and every later segment of their device, readable.
 */
function dropNullPredecessors(op: Op): void {
  if (!op.r) return;
  const r = op.r as Record<string, readonly (string | null)[]>;
  // Every key here is an own property (from JSON.parse), so assignment never reaches a prototype.
  for (const [field, list] of Object.entries(r)) if (list.includes(null)) r[field] = list.filter((x) => x !== null);
}
