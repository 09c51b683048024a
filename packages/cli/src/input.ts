/**
 * @module input
 * Reading what the user gives: a JSON object argument or `-` for stdin,
 * and JSON Lines files streamed line by line.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { ErrorCode, KithError, type JsonObject, type JsonValue } from '@kith/core';

/** All of stdin as UTF-8 text. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses a JSON object given as an argument or, for `-`, on stdin. */
export async function jsonObjectArg(arg: string, what = 'the record'): Promise<JsonObject> {
  const text = arg === '-' ? await readStdin() : arg;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new KithError(ErrorCode.BadInput, `${what} is not valid JSON: ${(e as Error).message}`, { hint: `give a JSON object like '{"title":"Hello"}'` });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new KithError(ErrorCode.BadInput, `${what} must be a JSON object, not ${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v}`);
  }
  return v as JsonObject;
}

/** Parses any JSON value (for --value). */
export function jsonValueArg(text: string, what: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (e) {
    throw new KithError(ErrorCode.BadInput, `${what} is not valid JSON: ${(e as Error).message}`);
  }
}

/** A `--where FIELD=VALUE` value: JSON if it parses as a scalar, else the text itself. */
export function whereValue(text: string): string | number | boolean | null {
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  } catch {
    // not JSON: a plain string
  }
  return text;
}

/** One record of an import: its id and the rest of its fields. */
export interface ImportLine {
  readonly id: string;
  readonly fields: JsonObject;
}

/**
 * Reads a JSON Lines file (or stdin for `-`): one object per line with a
 * string `"id"`; blank lines are skipped; the first bad line stops
 * everything with its line number.
 */
export async function readJsonLines(path: string, onLine?: (n: number) => void): Promise<ImportLine[]> {
  const input = path === '-' ? process.stdin : createReadStream(path);
  const opened = new Promise<void>((resolve, reject) => {
    if (path === '-') resolve();
    else {
      input.once('open', () => resolve());
      input.once('error', (e: NodeJS.ErrnoException) =>
        reject(new KithError(ErrorCode.BadInput, e.code === 'ENOENT' ? `no such file: ${path}` : `cannot read ${path}: ${e.message}`)),
      );
    }
  });
  await opened;
  const out: ImportLine[] = [];
  let n = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    n++;
    if (line.trim() === '') continue;
    const bad = (why: string) => new KithError(ErrorCode.BadInput, `line ${n}: ${why}; nothing was imported`);
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw bad(`not valid JSON (${(e as Error).message})`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('not a JSON object');
    const { id, ...fields } = v as Record<string, unknown>;
    if (typeof id !== 'string') throw bad('missing a string "id" field');
    out.push({ id, fields: fields as JsonObject });
    onLine?.(out.length);
  }
  return out;
}
