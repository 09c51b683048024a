/**
 * @module names
 * Collection names and record ids travel inside encrypted payloads only, but
 * they are also used by stores and shown in paths and URLs by apps; anything
 * that could be mistaken for a path is refused up front.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { isWellFormed } from './json.js';

export const MAX_NAME_LENGTH = 256;

/** Collection names: a letter or digit first, then letters, digits, `_`, `-`, `.`; at most 64. */
const COLLECTION_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Throws KITH_BAD_NAME unless `name` is a valid collection name. */
export function checkCollection(name: string): void {
  if (typeof name !== 'string' || !COLLECTION_RE.test(name) || name.includes('..')) {
    throw new KithError(ErrorCode.BadName, `invalid collection name ${JSON.stringify(name)}`, {
      hint: 'use letters, digits, "_", "-" or "." (no "..", no "/"), starting with a letter or digit, at most 64 characters',
    });
  }
}

/**
 * Collections the engine keeps for itself (retention rules, expiry floors):
 * `_kith.` + a valid name. App names start with a letter or digit, so an
 * app can never write one by accident; only the engine's own APIs do.
 */
export const RESERVED_PREFIX = '_kith.';
/** The personal space's directory of joined shared spaces (one record per space; see vault/spaces/directory). */
export const SPACES_DIRECTORY = `${RESERVED_PREFIX}spaces`;
/** The personal space's keyring of shared spaces' epoch keys (one record per space and epoch; see vault/spaces/keyring). */
export const SPACE_KEYRING = `${RESERVED_PREFIX}spacekeys`;

export function isReservedCollection(name: string): boolean {
  return typeof name === 'string' && name.startsWith(RESERVED_PREFIX) && COLLECTION_RE.test(name.slice(RESERVED_PREFIX.length));
}

/** Characters a record id may not hold: made once (a literal in the function is a new RegExp object per call, about 3 ms per 10,000 ids cold). */
const BAD_ID_CHAR = /[\u0000-\u001f\u007f/\\]/;

/** True when `id` is a valid record id ({@link checkRecordId} without the error, for readers that check many). */
export function isRecordId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_NAME_LENGTH && id !== '.' && id !== '..' && !BAD_ID_CHAR.test(id);
}

/**
 * Throws KITH_BAD_NAME unless `id` is a valid record id: 1–256 characters,
 * no control characters, no `/` or `\`, and not `.` or `..`.
 */
export function checkRecordId(id: string): void {
  if (!isRecordId(id)) {
    throw new KithError(ErrorCode.BadName, `invalid record id ${JSON.stringify(id)}`, {
      hint: 'ids are 1–256 characters without "/", "\\" or control characters, and not "." or ".."',
    });
  }
}

/**
 * {@link checkRecordId} for a new write, which also refuses lone
 * surrogates: they have no UTF-8 form, so a store would keep another id
 * (SQLite turns them into U+FFFD). Not checked on ops from other devices,
 * where refusing would stop that device's chain.
 */
export function checkNewRecordId(id: string): void {
  checkRecordId(id);
  if (!isWellFormed(id))
    throw new KithError(ErrorCode.BadName, `invalid record id ${JSON.stringify(id)}`, { hint: 'ids must be valid Unicode text (no lone surrogates)' });
}
