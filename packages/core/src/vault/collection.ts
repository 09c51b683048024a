/**
 * @module vault/collection
 * Typed collections: `vault.collection('notes', NoteSchema)` binds a
 * collection name to a schema of any library that implements Standard
 * Schema (zod, valibot, arktype, …) and validates every write through it
 * before anything is stored.
 *
 * The spec's types come from `@standard-schema/spec` (types only, nothing
 * at run time), so core depends on no schema library.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ErrorCode, KithError } from '../base/errors.js';
import type { JsonObject } from '../model/json.js';
import type { Doc, ListPage, ListQuery } from './vault-types.js';

export type { StandardSchemaV1 };

/** A schema whose output is a record's fields (an object of JSON values, without `id`). */
export type RecordSchema = StandardSchemaV1<unknown, object>;

/** A record of a typed collection: the schema's output and the record id. */
export type TypedDoc<S extends RecordSchema> = StandardSchemaV1.InferOutput<S> & { readonly id: string };

/** A page of a typed collection. */
export interface TypedPage<S extends RecordSchema> {
  readonly records: TypedDoc<S>[];
  readonly next: string | null;
}

/**
 * The record calls of the Vault a collection uses. A structural type
 * rather than `Vault` itself, so this module does not import vault.ts
 * (which imports it).
 */
export interface CollectionHost {
  put(collection: string, id: string, fields: JsonObject): Promise<void>;
  patch(collection: string, id: string, fields: JsonObject): Promise<void>;
  delete(collection: string, id: string): Promise<void>;
  get(collection: string, id: string): Promise<Doc | undefined>;
  list(collection: string, q?: ListQuery): Promise<ListPage>;
  subscribe(collection: string, q: ListQuery, fn: (records: Doc[]) => void): () => void;
}

/**
 * One collection bound to a schema. Writes are validated and store the
 * schema's output (its defaults and transforms applied); a value the
 * schema refuses throws `KITH_SCHEMA` and writes nothing. Reads are not
 * validated: a record merged from concurrent writes, or written by a
 * device with an older schema, is returned as it is stored.
 */
export class Collection<S extends RecordSchema> {
  readonly name: string;
  readonly schema: S;
  readonly #host: CollectionHost;

  constructor(host: CollectionHost, name: string, schema: S) {
    if (typeof schema?.['~standard']?.validate !== 'function') {
      throw new KithError(ErrorCode.BadInput, `collection ${name}: the schema does not implement Standard Schema (no ~standard.validate)`);
    }
    this.#host = host;
    this.name = name;
    this.schema = schema;
  }

  /** Replaces a record with the schema's output for `value`. */
  async put(id: string, value: StandardSchemaV1.InferInput<S>): Promise<void> {
    await this.#host.put(this.name, id, await this.#validate(id, value));
  }

  /**
   * Sets some fields, keeping the others. The record as it would be after
   * the patch (current fields, then these) is what the schema validates, so
   * a patch cannot leave a record the schema refuses; only the patched
   * fields are written (from the schema's output), so concurrent edits of
   * other fields on other devices still merge field by field.
   * KITH_NOT_FOUND unless the record exists.
   */
  async patch(id: string, fields: Partial<StandardSchemaV1.InferInput<S>>): Promise<void> {
    const current = await this.#host.get(this.name, id);
    if (current === undefined) throw new KithError(ErrorCode.NotFound, `no record ${JSON.stringify(id)} in ${this.name}`);
    const { id: _id, ...stored } = current;
    const merged: Record<string, unknown> = { ...stored };
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) delete merged[k];
      else merged[k] = v;
    }
    const out = await this.#validate(id, merged);
    // The patched fields, and any other field the schema's output changed (a default or a transform).
    const write: Record<string, unknown> = {};
    for (const k of new Set([...Object.keys(stored), ...Object.keys(out)])) {
      if (Object.hasOwn(fields, k) || JSON.stringify(out[k]) !== JSON.stringify(stored[k])) write[k] = out[k];
    }
    await this.#host.patch(this.name, id, write as JsonObject);
  }

  delete(id: string): Promise<void> {
    return this.#host.delete(this.name, id);
  }

  // Reads are typed, not validated (see the class comment); a Doc is structurally a TypedDoc.
  get(id: string): Promise<TypedDoc<S> | undefined> {
    return this.#host.get(this.name, id);
  }

  list(q: ListQuery = {}): Promise<TypedPage<S>> {
    return this.#host.list(this.name, q);
  }

  /** Calls `fn` with the query's records now and after every change to the collection; returns a function that unsubscribes. */
  subscribe(q: ListQuery, fn: (records: TypedDoc<S>[]) => void): () => void {
    return this.#host.subscribe(this.name, q, fn);
  }

  async #validate(id: string, value: unknown): Promise<JsonObject> {
    const result = await this.schema['~standard'].validate(value);
    if (result.issues !== undefined) throw schemaError(this.name, id, result.issues);
    const out = result.value;
    if (out === null || typeof out !== 'object' || Array.isArray(out)) {
      throw new KithError(ErrorCode.Schema, `${this.name}/${id}: the schema's output is not an object of fields`);
    }
    return out as JsonObject;
  }
}

/** One line: where the record is, the first issue's path and message, and how many more. */
function schemaError(collection: string, id: string, issues: readonly StandardSchemaV1.Issue[]): KithError {
  const first = issues[0];
  const where = first?.path?.length ? pathText(first.path) : '(record)';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  const message = (first?.message ?? 'invalid').replace(/\s+/g, ' ');
  return new KithError(ErrorCode.Schema, `${collection}/${id}: ${where}: ${message}${more}`, {
    hint: 'fix the value so the collection schema accepts it; nothing was written',
    cause: issues,
  });
}

/** `tags[0].label` from a Standard Schema issue path. */
function pathText(path: ReadonlyArray<PropertyKey | StandardSchemaV1.PathSegment>): string {
  let out = '';
  for (const seg of path) {
    const key = typeof seg === 'object' ? seg.key : seg;
    if (typeof key === 'number') out += `[${key}]`;
    else out += (out === '' ? '' : '.') + String(key);
  }
  return out;
}
