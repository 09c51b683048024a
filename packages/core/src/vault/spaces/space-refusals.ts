/**
 * @module vault/spaces/space-refusals
 * What a pull of a shared space refused (another device's segment or head
 * that failed its checks: a reader's or removed member's write, a cut
 * device's, a bad signature or chain) told to the person as sync warnings
 * (KITH_SPACE_REFUSED), once per refused object: the refusal stands until
 * the remote changes (the cursor stays before it, so every pull meets it
 * again), and is said again only if it changes or comes back after going.
 */
import type { KithError } from '../../base/errors.js';
import { WarningCode, type SyncWarning } from '../../base/warnings.js';
import type { Store } from '../../ports/store.js';
import { readMeta, writeMeta } from '../../ports/store-meta.js';
import type { SpaceView } from '../../spaces/space-segments.js';

/** Meta of a space's store: per device, the refusal said last. */
const REFUSED_META = 'space.refused';
type Said = Record<string, { seq: number; error: string; reason?: string }>;

/** One refusal of a pull: nothing of `deviceId` from `seq` on was applied. */
export interface SpaceRefusal {
  readonly deviceId: string;
  readonly seq: number;
  readonly error: KithError;
}

const DEFAULT_HINT = 'a device wrote what the space does not allow (a modified client), or the remote altered it; its other changes are applied';

/**
 * The warnings of `refused` not said before (each device's refusal noted
 * in the space's store; a device refused no more is forgotten).
 */
export async function refusalWarnings(
  store: Store,
  state: SpaceView,
  space: { readonly spaceId: string; readonly name: string },
  refused: readonly SpaceRefusal[],
): Promise<SyncWarning[]> {
  return store.write(async (tx) => {
    const said = (await readMeta<Said>(tx, REFUSED_META)) ?? {};
    const now: Said = {};
    const warnings: SyncWarning[] = [];
    for (const r of refused) {
      const e = r.error;
      const note = { seq: r.seq, error: e.code, ...(e.reason !== undefined ? { reason: e.reason } : {}) };
      now[r.deviceId] = note;
      const before = said[r.deviceId];
      if (before && before.seq === note.seq && before.error === note.error && before.reason === note.reason) continue;
      const person = personOf(state, r.deviceId);
      warnings.push({
        code: WarningCode.SpaceRefused,
        message: `space ${JSON.stringify(space.name)}: refused segment ${r.seq} of device ${r.deviceId}${person ? ` (person ${person})` : ''}: ${e.message} (${e.code})`,
        hint: e.hint ?? DEFAULT_HINT,
        space: space.spaceId,
        device: r.deviceId,
        ...(person ? { person } : {}),
        seq: r.seq,
        error: e.code,
        ...(e.reason !== undefined ? { reason: e.reason } : {}),
      });
    }
    if (JSON.stringify(now) !== JSON.stringify(said)) await writeMeta<Said>(tx, REFUSED_META, now);
    return warnings;
  });
}

/** The person whose certificates of the space (any version) list `deviceId`: verified, unlike what a refused object claims. */
function personOf(state: SpaceView, deviceId: string): string | undefined {
  for (const personId of state.m.everyone()) {
    const certs = state.certs(personId);
    for (let v = certs?.version ?? 0; v >= 1; v--) if (certs!.deviceAt(deviceId, v)) return personId;
  }
  return undefined;
}
