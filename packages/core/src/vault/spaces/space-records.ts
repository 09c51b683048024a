/**
 * @module vault/spaces/space-records
 * `vault.space(nameOrId)`: one space's records and blobs, with the Vault's
 * method names and shapes. The space is looked up (and opened locally) on
 * the first call, so `vault.space('x')` itself never fails.
 */
import type { JsonObject } from '../../model/json.js';
import type { LogEntry } from '../../ports/store.js';
import type { Blobs } from '../../blobs/blobs.js';
import type { Records } from '../records.js';
import type { BatchWriter, Conflict, Doc, ListPage, ListQuery, Resolution } from '../vault-types.js';

/** A space's attachments: the same calls as `vault.blobs`. */
export type SpaceBlobs = Pick<Blobs, 'put' | 'get' | 'list'>;

/** What a SpaceRecords needs of its space once opened. */
export interface SpaceRecordsHost {
  readonly records: Records;
  /** Throws unless this device may write now (KITH_FORBIDDEN, KITH_REMOVED, KITH_REVOKED), before anything is written. */
  assertMayWrite(): Promise<void>;
  readonly blobs: SpaceBlobs;
  /** Writes of this device in the space not pushed yet. */
  pending(): Promise<number>;
}

export class SpaceRecords {
  readonly #open: () => Promise<SpaceRecordsHost>;
  /** The space's attachments (put/get/list), sealed with the space's key. */
  readonly blobs: SpaceBlobs;

  /** @internal `vault.space(...)` makes them. */
  constructor(open: () => Promise<SpaceRecordsHost>) {
    this.#open = open;
    this.blobs = {
      put: async (...a) => (await open()).blobs.put(...a),
      get: (ref, o) => streamLater(async () => (await open()).blobs.get(ref, o)),
      list: async () => (await open()).blobs.list(),
    };
  }

  async #writer(): Promise<Records> {
    const host = await this.#open();
    await host.assertMayWrite();
    return host.records;
  }

  /** Replaces a record (fields not given are removed). */
  async put(collection: string, id: string, fields: JsonObject): Promise<void> {
    await (await this.#writer()).write([{ kind: 'put', collection, id, fields }]);
  }

  /** Sets the given top-level fields, keeping the others; KITH_NOT_FOUND unless the record exists. */
  async patch(collection: string, id: string, fields: JsonObject): Promise<void> {
    await (await this.#writer()).write([{ kind: 'patch', collection, id, fields }]);
  }

  /** Deletes a record (KITH_NOT_FOUND if it does not exist). */
  async delete(collection: string, id: string): Promise<void> {
    await (await this.#writer()).write([{ kind: 'delete', collection, id }]);
  }

  /** Several writes in one transaction: all or nothing. Returns how many. */
  async batch(fn: (b: BatchWriter) => void): Promise<number> {
    return (await this.#writer()).batch(fn);
  }

  /** How many of this device's writes in the space wait to be pushed (no network: what `vault.status().pending` is for the personal space). */
  async pending(): Promise<number> {
    return (await this.#open()).pending();
  }

  async get(collection: string, id: string): Promise<Doc | undefined> {
    return (await this.#open()).records.get(collection, id);
  }

  async list(collection: string, q: ListQuery = {}): Promise<ListPage> {
    return (await this.#open()).records.list(collection, q);
  }

  async conflicts(collection?: string): Promise<Conflict[]> {
    return (await this.#open()).records.conflicts(collection);
  }

  async resolve(collection: string, id: string, field: string | null | undefined, how: Resolution): Promise<void> {
    await (await this.#writer()).resolve(collection, id, field, how);
  }

  /** The space's history; its reserved `_kith.` collections only with `reserved: true` (see vault.log). */
  async log(filter: { collection?: string; id?: string; limit?: number; reserved?: boolean } = {}): Promise<LogEntry[]> {
    return (await this.#open()).records.log(filter);
  }
}

/** A stream whose source is found asynchronously (the space opens on first use; `blobs.get` returns a stream at once). */
function streamLater(source: () => Promise<ReadableStream<Uint8Array>>): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      reader ??= (await source()).getReader();
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await reader?.cancel(reason);
    },
  });
}
