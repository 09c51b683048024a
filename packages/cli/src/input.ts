/**
 * @module input
 * Reading what the user gives: a JSON object argument or `-` for stdin,
 * and JSON Lines files streamed line by line.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { checkFields, ErrorCode, KithError, type JsonObject, type JsonValue } from '@kith/core';

// Fatal: invalid UTF-8 is refused, never silently turned into U+FFFD.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8 or throws KITH_BAD_INPUT naming `what`. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new KithError(ErrorCode.BadInput, `${what} is not valid UTF-8`, { hint: 'convert it to UTF-8 first (e.g. with iconv)' });
  }
}

/** All of stdin as UTF-8 text (KITH_BAD_INPUT if it is not UTF-8). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return decodeUtf8(Buffer.concat(chunks), 'stdin');
}

/**
 * Refuses command-line arguments that were not valid UTF-8. Node has
 * already decoded them, turning bad bytes into U+FFFD; only when one holds
 * U+FFFD are the raw bytes looked up (Linux's /proc/self/cmdline; where that
 * is missing the arguments are taken as given).
 */
export function checkArgvUtf8(argv: readonly string[] = process.argv): void {
  if (!argv.slice(2).some((a) => a.includes('\uFFFD'))) return;
  let raw: Buffer;
  try {
    raw = readFileSync('/proc/self/cmdline');
  } catch {
    return;
  }
  const parts = raw
    .subarray(0, raw[raw.length - 1] === 0 ? raw.length - 1 : raw.length)
    .toString('latin1')
    .split('\0');
  // cmdline also holds Node's own options, before the script: the user's arguments are its tail.
  const args = parts.slice(parts.length - (argv.length - 2)).map((p) => Buffer.from(p, 'latin1'));
  args.forEach((a, i) => decodeUtf8(a, `argument ${i + 1}`));
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
  for await (const bytes of byteLines(input)) {
    n++;
    const bad = (why: string) => new KithError(ErrorCode.BadInput, `line ${n}: ${why}; nothing was imported`);
    let line: string;
    try {
      line = utf8.decode(bytes);
    } catch {
      throw bad('not valid UTF-8');
    }
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw bad(`not valid JSON (${(e as Error).message})`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('not a JSON object');
    // Rest destructuring defines own properties: a "__proto__" key stays a field.
    const { id, ...fields } = v as Record<string, unknown>;
    if (typeof id !== 'string') throw bad('missing a string "id" field');
    try {
      checkFields(fields as JsonObject); // the library checks again; here the error gets its line number
    } catch (e) {
      if (e instanceof KithError) throw new KithError(e.code, `line ${n}: ${e.message}; nothing was imported`, e.hint ? { hint: e.hint } : undefined);
      throw e;
    }
    out.push({ id, fields: fields as JsonObject });
    onLine?.(out.length);
  }
  return out;
}

/**
 * The lines of a byte stream, split on LF (a CR before it dropped), still
 * as bytes: decoding each line strictly is the caller's, so a bad byte is
 * reported with its line number instead of becoming U+FFFD.
 */
async function* byteLines(input: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  const line = (tail: Buffer): Buffer => {
    const b = pending.length > 0 ? Buffer.concat([...pending, tail]) : tail;
    pending = [];
    return b.length > 0 && b[b.length - 1] === 0x0d ? b.subarray(0, b.length - 1) : b;
  };
  for await (const chunk of input) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a)) {
      yield line(buf.subarray(0, nl));
      buf = buf.subarray(nl + 1);
    }
    if (buf.length > 0) pending.push(buf);
  }
  if (pending.length > 0) yield line(Buffer.alloc(0));
}
