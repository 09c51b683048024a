/**
 * @module vault/export
 * The vault's records as plain data, for `kith export` and apps that hand
 * a user their data: every live record of every collection, a page at a
 * time so memory stays bounded. Writing files is the caller's (the core
 * runs in browsers too); blobs are read with `vault.blobs`.
 */
import { isReservedCollection } from '../model/names.js';
import type { Records } from './records.js';
import type { Doc } from './vault-types.js';
import type { VaultSession } from './session.js';

/** One page of a collection's live records, in id order. */
export interface ExportPage {
  readonly collection: string;
  /** Each as `vault.get` returns it: the fields, then `id`; the form `kith import` reads back. */
  readonly records: readonly Doc[];
}

/** Records per page: a page is one store read. */
const PAGE = 1000;

/** Every live record, collection by collection (code point order), never an empty page; the engine's reserved `_kith.` collections are left out. */
export async function* exportRecords(s: VaultSession, records: Records): AsyncGenerator<ExportPage> {
  // Reserved collections (retention rules, the spaces directory) are not the app's records, and `list` refuses their names.
  const collections = (await s.store.read((tx) => tx.listCollections())).filter((c) => !isReservedCollection(c));
  for (const collection of collections) {
    let after: string | null | undefined;
    do {
      const page = await records.list(collection, { limit: PAGE, ...(after ? { after } : {}) });
      if (page.records.length > 0) yield { collection, records: page.records };
      after = page.next;
    } while (after);
  }
}
