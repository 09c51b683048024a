/**
 * @module query-sql
 * Turns a {@link RecordQuery} into SQL over the `records` table, and its
 * keyset cursors into bound parameters.
 *
 * Field values live in the `fields` JSONB. `json_extract` gives 1/0 for
 * true/false, so the JSON type (`json_type`) decides equality and the type
 * rank of the documented order: missing/null 0 < false 1 < true 2 <
 * numbers 3 < strings 4 < arrays/objects 5. Within a rank the sort value is
 * the number (SQLite compares integers and reals exactly, and every stored
 * number is a JS double's shortest text), the string (SQLite's BINARY
 * collation on UTF-8 is code point order), or the JSON text; ties go to the
 * id. Pages continue strictly after
 * the (rank, value, id) of the last row, never by OFFSET, so a page costs
 * the same wherever it is and rows changed between pages are neither
 * repeated nor skipped.
 */
import { ErrorCode, KithError, type RecordQuery } from '@kith/core/adapter';

/** What a cursor holds: the sort key of the last row of a page, and which query it belongs to. */
export interface CursorKey {
  readonly rank: number;
  /** A number (ranks 0–3: 0 for missing/null, 0/1 for false/true) or a string (ranks 4 and 5). */
  readonly value: number | string;
  readonly id: string;
}

const CURSOR_VERSION = 'k2';

/** The columns of the records table, in the order inserts bind them. */
export const RECORD_COLUMNS = 'collection, id, fields, deleted, state, conflicted, updated';

/**
 * What every record read selects. `fields` is stored as JSONB (schema 2):
 * queries read fields of every row of a collection, and SQLite reads JSONB
 * without parsing text; it goes back to JSON text only for the rows returned.
 */
export const RECORD_SELECT = 'collection, id, json(fields) AS fields, deleted, state, conflicted, updated';

/** The SQL and parameters of one query page (`limit + 1` rows, to learn whether more follow). */
export interface CompiledQuery {
  readonly sql: string;
  readonly params: Record<string, string | number>;
  /** True when rows carry two trailing columns (rank, value) for the next cursor. */
  readonly ordered: boolean;
  readonly limit: number | undefined;
}

function badQuery(message: string): KithError {
  return new KithError(ErrorCode.BadInput, `invalid query: ${message}`);
}

/**
 * SQL for the JSON type and value of top-level field `name` of `fields`,
 * with its parameter. A quoted JSON path cannot express names holding `"`
 * or `\`: those go through json_each, which compares decoded keys.
 */
function fieldAccess(name: string, param: string): { type: string; value: string; bind: string } {
  if (!name.includes('"') && !name.includes('\\')) {
    return { type: `json_type(fields, @${param})`, value: `json_extract(fields, @${param})`, bind: `$."${name}"` };
  }
  return {
    type: `(SELECT type FROM json_each(fields) WHERE key = @${param})`,
    value: `(SELECT value FROM json_each(fields) WHERE key = @${param})`,
    bind: name,
  };
}

/** Checks the parts of a query that would otherwise fail deep inside SQLite. */
function checkQuery(q: RecordQuery): void {
  if (typeof q.collection !== 'string') throw badQuery('collection must be a string');
  for (const f of q.where ?? []) {
    if (typeof f.field !== 'string') throw badQuery('a where field must be a string');
    const v: unknown = f.value;
    const ok = v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    if (!ok) throw badQuery(`where ${JSON.stringify(f.field)}: the value must be a string, a finite number, a boolean or null`);
  }
  if (q.order !== undefined) {
    if (typeof q.order.field !== 'string') throw badQuery('order field must be a string');
    if (q.order.direction !== 'asc' && q.order.direction !== 'desc') throw badQuery('order direction must be "asc" or "desc"');
  }
  if (q.limit !== undefined && !(Number.isSafeInteger(q.limit) && q.limit > 0)) throw badQuery('limit must be a positive integer');
}

/** Builds the SQL for one page of `q`; the SQL text depends only on the query's shape, so it can be cached. */
export function compileQuery(q: RecordQuery): CompiledQuery {
  checkQuery(q);
  const params: Record<string, string | number> = { c: q.collection };
  const conds = ['collection = @c', 'deleted = 0'];
  for (const [i, f] of (q.where ?? []).entries()) {
    const a = fieldAccess(f.field, `w${i}`);
    params[`w${i}`] = a.bind;
    const v = f.value;
    if (v === null) conds.push(`coalesce(${a.type}, 'null') = 'null'`);
    else if (v === true) conds.push(`${a.type} = 'true'`);
    else if (v === false) conds.push(`${a.type} = 'false'`);
    else if (typeof v === 'number') {
      params[`v${i}`] = v;
      conds.push(`${a.type} IN ('integer', 'real') AND CAST(${a.value} AS REAL) = @v${i}`);
    } else {
      params[`v${i}`] = v;
      conds.push(`${a.type} = 'text' AND ${a.value} = @v${i}`);
    }
  }
  const after = q.after === undefined ? undefined : decodeCursor(q.after, q);
  const desc = q.order?.direction === 'desc';
  const cmp = desc ? '<' : '>';
  const dir = desc ? 'DESC' : 'ASC';
  const limitSql = q.limit === undefined ? '' : ' LIMIT @lim';
  if (q.limit !== undefined) params.lim = q.limit + 1;

  if (q.order === undefined) {
    if (after !== undefined) {
      conds.push('id > @ai');
      params.ai = after.id;
    }
    const sql = `SELECT ${RECORD_SELECT} FROM records WHERE ${conds.join(' AND ')} ORDER BY id${limitSql}`;
    return { sql, params, ordered: false, limit: q.limit };
  }

  const a = fieldAccess(q.order.field, 'o');
  params.o = a.bind;
  // The JSON type is read once per row (CASE x WHEN evaluates x once). The value needs no CASE:
  // json_extract already gives numbers, decoded strings and the JSON text of arrays and objects,
  // booleans come out as the constants 0 and 1 within their own ranks, and null or missing as 0,
  // so the row value below never compares NULL.
  const rank = `CASE ${a.type} WHEN 'false' THEN 1 WHEN 'true' THEN 2 WHEN 'integer' THEN 3 WHEN 'real' THEN 3 WHEN 'text' THEN 4 WHEN 'array' THEN 5 WHEN 'object' THEN 5 ELSE 0 END`;
  const value = `coalesce(${a.value}, 0)`;
  let outer = '';
  if (after !== undefined) {
    outer = ` WHERE (k_rank, k_value, id) ${cmp} (@ar, @av, @ai)`;
    params.ar = after.rank;
    params.av = after.value;
    params.ai = after.id;
  }
  const sql =
    `SELECT ${RECORD_SELECT}, k_rank, k_value FROM (` +
    `SELECT ${RECORD_COLUMNS}, ${rank} AS k_rank, ${value} AS k_value FROM records WHERE ${conds.join(' AND ')})` +
    `${outer} ORDER BY k_rank ${dir}, k_value ${dir}, id ${dir}${limitSql}`;
  return { sql, params, ordered: true, limit: q.limit };
}

/** Which query a cursor belongs to: the order field and direction (or none). */
function cursorScope(q: RecordQuery): [string | null, string] {
  return q.order === undefined ? [null, 'asc'] : [q.order.field, q.order.direction];
}

/** An opaque cursor (base64url of JSON) for the row after which the next page starts. */
export function encodeCursor(q: RecordQuery, key: CursorKey): string {
  const [field, dir] = cursorScope(q);
  return Buffer.from(JSON.stringify([CURSOR_VERSION, field, dir, key.rank, key.value, key.id]), 'utf8').toString('base64url');
}

/** Reads a cursor of `q`; throws KITH_BAD_INPUT for a malformed one or one from a differently ordered query. */
export function decodeCursor(cursor: string, q: RecordQuery): CursorKey {
  let parsed: unknown;
  try {
    parsed = typeof cursor === 'string' && /^[A-Za-z0-9_-]+$/.test(cursor) ? JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) : undefined;
  } catch {
    parsed = undefined;
  }
  const bad = (why: string): KithError =>
    new KithError(ErrorCode.BadInput, `invalid query cursor: ${why}`, { hint: 'pass the `next` value of a previous page of the same query' });
  if (!Array.isArray(parsed) || parsed.length !== 6 || parsed[0] !== CURSOR_VERSION) throw bad('not a cursor of this store');
  const [, field, dir, rank, value, id] = parsed as unknown[];
  const [wantField, wantDir] = cursorScope(q);
  if (field !== wantField || dir !== wantDir) throw bad('it belongs to a query with another order');
  const rankOk = typeof rank === 'number' && Number.isInteger(rank) && rank >= 0 && rank <= 5;
  const valueOk = typeof value === (rank === 4 || rank === 5 ? 'string' : 'number');
  if (!rankOk || !valueOk || typeof id !== 'string') throw bad('malformed');
  return { rank, value: value as number | string, id };
}
