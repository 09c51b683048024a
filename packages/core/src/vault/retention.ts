/**
 * @module vault/retention
 * Retention per collection (docs/FORMAT.md "Retention"). A rule is a record
 * of the reserved collection `_kith.retention` (id = the collection,
 * `{days}`), synced like any record, so every device obeys the same rule.
 * A device that notices a record whose newest write is older than `days`
 * expires it at the floor `newest + days` (model/expiry.ts) and publishes
 * that floor in `_kith.expired` (id = the collection, field `r:<id>`), so a
 * device that received a write the noticing device had not seen still ends
 * with the same record: everyone expires at the highest published floor.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { dict } from '../base/data-keys.js';
import type { JsonObject } from '../model/json.js';
import { checkCollection, isReservedCollection } from '../model/names.js';
import { formatLocal, parseLocal, stampLocal } from '../model/hlc.js';
import { headsOf, viewOf } from '../model/merge.js';
import { EXPIRY_DEVICE, expireView, expiryFloor, floorOf, isDue } from '../model/expiry.js';
import { deleteOp, patchOp, putOp } from '../model/local-writes.js';
import type { Op } from '../model/ops.js';
import type { StoreTx } from '../ports/store.js';
import type { Records } from './records.js';
import type { VaultSession } from './session.js';

export const RULES = '_kith.retention';
export const FLOORS = '_kith.expired';
const FLOOR_FIELD = 'r:';
/** Records expired per transaction: a long-unsynced device catches up in bounded steps. */
const BATCH = 500;
const MAX_DAYS = 36_500;

/** A retention rule: records of `collection` whose newest write is older than `days` are deleted on every device. */
export interface RetentionRule {
  readonly collection: string;
  readonly days: number;
}

export class Retention {
  readonly #s: VaultSession;
  readonly #records: Records;

  constructor(session: VaultSession, records: Records) {
    this.#s = session;
    this.#records = records;
  }

  /** Sets (`{days}`) or removes (`null`) the rule of `collection`, then expires what it makes due. */
  async set(collection: string, rule: { days: number } | null): Promise<void> {
    checkCollection(collection);
    if (rule !== null && (typeof rule !== 'object' || !Number.isInteger(rule.days) || rule.days < 1 || rule.days > MAX_DAYS)) {
      throw new KithError(ErrorCode.BadInput, `retention days must be a whole number from 1 to ${MAX_DAYS}`, { hint: 'or pass null to turn retention off' });
    }
    await this.#records.commitInternal(async (_tx, views, clock, local) => {
      await views.load([[RULES, collection]]);
      const v = views.view(RULES, collection);
      if (rule === null) return v.deleted ? [] : [local(v, deleteOp(v, clock.next()))];
      if (!v.deleted && v.fields['days'] === rule.days) return [];
      return [local(v, putOp(v, clock.next(), { days: rule.days }))];
    });
    await this.run();
  }

  /** The rules in force, by collection. */
  async rules(): Promise<RetentionRule[]> {
    return this.#s.store.read(readRules);
  }

  /**
   * Expires what is due (by this device's clock) and applies the floors
   * other devices published, in bounded transactions. Returns how many
   * records it expired.
   */
  async run(): Promise<number> {
    let total = 0;
    const now = this.#s.deps.now();
    for (;;) {
      // Looked up in a read first: a write would emit a local change, which auto-sync answers with another sync.
      if ((await this.#s.store.read((tx) => dueFloors(tx, now))).length === 0) return total;
      let n = 0;
      await this.#records.commitInternal(async (tx, views, clock, local) => {
        const due = await dueFloors(tx, now);
        if (due.length === 0) return [];
        await views.load(due.map((d) => [d.collection, d.id] as const));
        const published = new Map<string, JsonObject>();
        for (const d of due) {
          const v = views.view(d.collection, d.id);
          if (!expireView(v, d.floor)) continue;
          views.touch(d.collection, d.id);
          n++;
          if (d.publish) {
            const set = published.get(d.collection) ?? dict();
            set[FLOOR_FIELD + d.id] = stampLocal(d.floor);
            published.set(d.collection, set);
          }
        }
        await views.load([...published.keys()].map((c) => [FLOORS, c] as const));
        const ops: Op[] = [];
        for (const [collection, set] of published) {
          const m = views.view(FLOORS, collection);
          ops.push(local(m, m.deleted ? putOp(m, clock.next(), { ...m.fields, ...set }) : patchOp(m, clock.next(), set)));
        }
        return ops;
      });
      total += n;
      if (n < BATCH) return total;
    }
  }
}

async function readRules(tx: StoreTx): Promise<RetentionRule[]> {
  const page = await tx.query({ collection: RULES });
  const out: RetentionRule[] = [];
  for (const row of page.rows) {
    const days = row.fields['days'];
    // A rule from another device is data: one that is not a valid rule is ignored, not obeyed.
    if (typeof days === 'number' && Number.isInteger(days) && days >= 1 && days <= MAX_DAYS && !isReservedCollection(row.id))
      out.push({ collection: row.id, days });
  }
  return out;
}

interface Due {
  readonly collection: string;
  readonly id: string;
  readonly floor: string;
  /** This device noticed it (publish the floor), as opposed to a floor another device published. */
  readonly publish: boolean;
}

/** At most BATCH records whose floor is above the one they were expired at: published floors first, then what the rules make due now. */
async function dueFloors(tx: StoreTx, now: number): Promise<Due[]> {
  const out: Due[] = [];
  const published = await publishedFloors(tx);
  for (const [collection, floors] of published) {
    const ids = [...floors.keys()];
    for (let i = 0; i < ids.length && out.length < BATCH; i += BATCH) {
      const rows = await tx.getRecords(collection, ids.slice(i, i + BATCH));
      for (const id of ids.slice(i, i + BATCH)) {
        const floor = floors.get(id)!;
        const row = rows.get(id);
        const had = row ? floorOf(viewOf(row, collection, id)) : undefined;
        if ((had === undefined || had < floor) && out.length < BATCH) out.push({ collection, id, floor, publish: false });
      }
    }
  }
  for (const rule of await readRules(tx)) {
    if (out.length >= BATCH) break;
    const known = published.get(rule.collection);
    for (const row of (await tx.query({ collection: rule.collection })).rows) {
      const floor = expiryFloor(row.updated, rule.days);
      if (!isDue(floor, now)) continue;
      const had = known?.get(row.id);
      if (had !== undefined && had >= floor) continue;
      out.push({ collection: rule.collection, id: row.id, floor, publish: true });
      if (out.length >= BATCH) break;
    }
  }
  return out;
}

/** Every floor published in `_kith.expired`: per record, the highest of the field's heads (concurrent publications agree on the maximum). */
async function publishedFloors(tx: StoreTx): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>();
  for (const row of (await tx.query({ collection: FLOORS })).rows) {
    const view = viewOf(row, FLOORS, row.id);
    const floors = new Map<string, string>();
    for (const field of Object.keys(view.state)) {
      if (!field.startsWith(FLOOR_FIELD)) continue;
      for (const h of headsOf(view, field)) {
        if (!h.present || typeof h.value !== 'string') continue;
        const floor = validFloor(h.value);
        const id = field.slice(FLOOR_FIELD.length);
        if (floor !== undefined && floor > (floors.get(id) ?? '')) floors.set(id, floor);
      }
    }
    if (floors.size > 0) out.set(row.id, floors);
  }
  return out;
}

function validFloor(local: string): string | undefined {
  try {
    return formatLocal(parseLocal(local)) + EXPIRY_DEVICE;
  } catch {
    return undefined;
  }
}
