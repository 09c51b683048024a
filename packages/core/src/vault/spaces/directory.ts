/**
 * @module vault/spaces/directory
 * Where a person's devices find their spaces: one record per joined space
 * in the personal space's reserved collection `_kith.spaces` (id the
 * spaceId; fields name, url, role, `removed` once this person was
 * removed, and `lost` once a restore from backup found the space gone
 * with its remote), so every device of the person sees a space any of
 * them joined. Whether this device keeps a space in sync is local (store
 * meta `spaces.synced`, default on), except that no device syncs a lost
 * space until one turns its sync on again. Names of the space and its members live in
 * the space itself (`_kith.names`: id `space`, and each personId).
 */
import { ErrorCode, KithError } from '../../base/errors.js';
import type { JsonObject } from '../../model/json.js';
import { deleteOp, putOp } from '../../model/local-writes.js';
import type { Store, StoreTx } from '../../ports/store.js';
import { readMeta, writeMeta } from '../../ports/store-meta.js';
import type { Role } from '../../spaces/membership-entry.js';
import type { Records } from '../records.js';
import { SPACES_DIRECTORY } from '../../model/names.js';

export const DIRECTORY = SPACES_DIRECTORY;
export const NAMES = '_kith.names';
export const SPACE_NAME_ID = 'space';
const SYNCED_META = 'spaces.synced';
const MAX_SPACE_NAME = 200;

export interface SpaceEntry {
  readonly spaceId: string;
  readonly name: string;
  readonly url: string;
  readonly role: Role;
  /** This person was removed (or left): kept so `vault.space(...)` still reads what was synced, and says why writes fail. */
  readonly removed?: boolean;
  /**
   * When (ms) a restore from backup found no space at `url` (the space went
   * with the lost vault's remote): the person's devices leave it out of
   * their syncs, which would fail on it every time, until one of them turns
   * its sync on again (which clears this).
   */
  readonly lost?: number;
}

/** Whether this device keeps `e` in sync: not removed from, not lost, and not turned off here. */
export async function keepsInSync(store: Store, e: SpaceEntry): Promise<boolean> {
  return !e.removed && e.lost === undefined && (await isSynced(store, e.spaceId));
}

/** A space or person name: 1–200 characters, not only spaces. */
export function checkSpaceName(name: string, what = 'space name'): string {
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > MAX_SPACE_NAME || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new KithError(ErrorCode.BadInput, `invalid ${what} ${JSON.stringify(name)}`, { hint: `use 1–${MAX_SPACE_NAME} printable characters` });
  }
  return name.trim();
}

/** Every joined space in the personal space's directory. */
export async function readDirectory(store: Store): Promise<SpaceEntry[]> {
  return store.read(async (tx) => {
    const page = await tx.query({ collection: DIRECTORY });
    return page.rows.map((r) => ({ ...(r.fields as unknown as Omit<SpaceEntry, 'spaceId'>), spaceId: r.id }));
  });
}

/** The space `space` names (an id, or a name only one space has). */
export function findSpace(entries: readonly SpaceEntry[], space: string): SpaceEntry {
  const byId = entries.find((e) => e.spaceId === space);
  if (byId) return byId;
  const named = entries.filter((e) => e.name === space);
  if (named.length === 1) return named[0]!;
  if (named.length > 1) {
    throw new KithError(ErrorCode.BadInput, `${named.length} spaces are named ${JSON.stringify(space)}`, {
      hint: `name one by its id: ${named.map((e) => e.spaceId).join(', ')}`,
    });
  }
  throw new KithError(ErrorCode.NotFound, `no space ${JSON.stringify(space)}`, {
    hint: 'name a space you joined, by its name or id (list them to see which)',
    reason: 'unknown-space',
  });
}

/** Writes (or with `null` deletes) a record of a reserved collection through `records` (one local transaction; it syncs like any write). */
export async function writeReserved(records: Records, collection: string, id: string, fields: JsonObject | null): Promise<void> {
  await records.commitInternal(async (_tx, views, clock, local) => {
    await views.load([[collection, id]]);
    const v = views.view(collection, id);
    if (fields === null) return v.deleted ? [] : [local(v, deleteOp(v, clock.next()))];
    if (!v.deleted && JSON.stringify(v.fields) === JSON.stringify(fields)) return [];
    return [local(v, putOp(v, clock.next(), fields))];
  });
}

/** `e` no longer marked lost. */
export function withoutLost(e: SpaceEntry): SpaceEntry {
  const { lost: _, ...rest } = e;
  return rest;
}

export async function saveEntry(records: Records, e: SpaceEntry): Promise<void> {
  const { spaceId, ...fields } = e;
  await writeReserved(records, DIRECTORY, spaceId, fields);
}

/** Names recorded in a space: `space` and personIds → name. */
export async function readNames(store: Store): Promise<Map<string, string>> {
  return store.read(async (tx) => {
    const page = await tx.query({ collection: NAMES });
    return new Map(page.rows.filter((r) => typeof r.fields['name'] === 'string').map((r) => [r.id, r.fields['name'] as string]));
  });
}

/** Spaces this device does not keep in sync (local to the device). */
async function unsyncedIn(tx: StoreTx): Promise<Record<string, boolean>> {
  return (await readMeta<Record<string, boolean>>(tx, SYNCED_META)) ?? {};
}

export async function isSynced(store: Store, spaceId: string): Promise<boolean> {
  return (await store.read(unsyncedIn))[spaceId] !== false;
}

export async function setSynced(store: Store, spaceId: string, on: boolean): Promise<void> {
  await store.write(async (tx) => {
    const { [spaceId]: _, ...rest } = await unsyncedIn(tx);
    await writeMeta(tx, SYNCED_META, on ? rest : { ...rest, [spaceId]: false });
  });
}
