/**
 * @module wire
 * What crosses between Node and the page in the conformance bridge, as one
 * JSON string each way. Values are wrapped by kind (undefined, bytes, Map,
 * JSON, error) at the top level only, so data can never be mistaken for a
 * wrapper; a string also keeps `__proto__` field names and lone surrogates
 * intact, which an object handed to `page.evaluate` would not.
 */

export type Wired =
  | { readonly u: 1 }
  | { readonly j: unknown }
  | { readonly b: string }
  | { readonly m: Array<[unknown, Wired]> }
  | { readonly e: { readonly name: string; readonly message: string; readonly code?: string } };

function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

function wrap(v: unknown): Wired {
  if (v === undefined) return { u: 1 };
  if (v instanceof Uint8Array) return { b: toBase64(v) };
  if (v instanceof Map) return { m: [...(v as Map<unknown, unknown>).entries()].map(([k, x]) => [k, wrap(x)]) };
  return { j: v };
}

function unwrap(w: Wired): unknown {
  if ('u' in w) return undefined;
  if ('b' in w) return Uint8Array.from(atob(w.b), (c) => c.charCodeAt(0));
  if ('m' in w) return new Map(w.m.map(([k, x]) => [k, unwrap(x)]));
  if ('e' in w) throw new Error('an error is not a value');
  return w.j;
}

/** A list of values (call arguments) as wire text. */
export function encodeValues(values: readonly unknown[]): string {
  return JSON.stringify(values.map(wrap));
}

export function decodeValues(text: string): unknown[] {
  return (JSON.parse(text) as Wired[]).map(unwrap);
}

/** An outcome (a value, or the error it failed with) as wire text. */
export function encodeOutcome(outcome: { ok: true; value: unknown } | { ok: false; error: unknown }): string {
  if (outcome.ok) return JSON.stringify(wrap(outcome.value));
  const e = outcome.error as { name?: unknown; message?: unknown; code?: unknown } | null;
  const name = typeof e?.name === 'string' ? e.name : 'Error';
  const message = typeof e?.message === 'string' ? e.message : String(outcome.error);
  return JSON.stringify({ e: { name, message, ...(typeof e?.code === 'string' ? { code: e.code } : {}) } });
}

/** The outcome in wire text: the value, or the error fields to rebuild an error from. */
export function decodeOutcome(text: string): { ok: true; value: unknown } | { ok: false; error: { name: string; message: string; code?: string } } {
  const w = JSON.parse(text) as Wired;
  return 'e' in w ? { ok: false, error: w.e } : { ok: true, value: unwrap(w) };
}
