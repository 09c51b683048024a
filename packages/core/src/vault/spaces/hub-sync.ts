/**
 * @module vault/spaces/hub-sync
 * The hub's part of a sync (see hub.ts): every space this device keeps,
 * after the personal space, with the upkeep each needs before its pull
 * (this person's certificate, the key epochs due, the keyring) and the
 * directory following what the space says of itself.
 */
import { ErrorCode, KithError } from '../../base/errors.js';
import { WarningCode, type SyncWarning } from '../../base/warnings.js';
import { certifyOwnDevices, keepSpaceKeys } from '../../spaces/space-ops.js';
import { push } from '../../sync/push.js';
import type { Records } from '../records.js';
import type { VaultSession } from '../session.js';
import { readNames, saveEntry, SPACE_NAME_ID, type SpaceEntry } from './directory.js';
import { ownDevices } from './identity.js';
import { recordSpaceKeys, sealFromKeyring } from './keyring.js';
import type { LocalSpace } from './local-space.js';
import { shareOlderKeys } from './older-keys.js';
import { refusalWarnings } from './space-refusals.js';

const REMOVED_HINT = 'ask an admin of the space for a new invite';

/** What the sync reads of the hub: its session, the personal space's records, and the spaces it keeps. */
export interface HubSyncHost {
  readonly session: VaultSession;
  readonly records: Records;
  kept(): Promise<SpaceEntry[]>;
  local(entry: SpaceEntry): Promise<LocalSpace>;
}

/**
 * Every space this device keeps in sync, after the personal space (the
 * caller holds the session's remote lock): certify this person's
 * devices where they changed, keep the key epochs due, pull, push. A
 * space that removed this person is marked so and left out from then on.
 */
export async function syncKeptSpaces(
  h: HubSyncHost,
  how: { pull: boolean; push: boolean },
): Promise<{ pushed: number; pulled: number; warnings: SyncWarning[] }> {
  const warnings: SyncWarning[] = [];
  if (!h.session.spaceOptions.spaceRemotes || !h.session.spaceOptions.spaceStore) return { pushed: 0, pulled: 0, warnings };
  let pushed = 0;
  let pulled = 0;
  let failed: Error | undefined;
  for (const entry of await h.kept()) {
    const local = await h.local(entry);
    try {
      await upkeep(h, local);
      if (how.pull) {
        const p = await local.pull();
        pulled += p.pulled;
        warnings.push(...(await refusalWarnings(local.store, local.state, entry, p.refused)));
      }
      if (how.push) pushed += await local.push();
      await noteChanges(h.records, entry, local);
    } catch (e) {
      // One space's failure (its remote down, a broken chain) does not keep the others from syncing: the first is thrown after them.
      if (KithError.is(e, ErrorCode.Removed)) {
        // Said once: the entry marked removed is not synced again.
        await saveEntry(h.records, { ...entry, removed: true });
        warnings.push({
          code: WarningCode.Removed,
          message: `space ${JSON.stringify(entry.name)}: ${e.message}`,
          hint: e.hint ?? REMOVED_HINT,
          space: entry.spaceId,
        });
      } else failed ??= e as Error;
    }
  }
  if (failed !== undefined) throw failed;
  return { pushed, pulled, warnings };
}

/** The directory follows the space: its name (from `_kith.names`) and this person's role. */
async function noteChanges(records: Records, entry: SpaceEntry, local: LocalSpace): Promise<void> {
  const name = (await readNames(local.store)).get(SPACE_NAME_ID) ?? entry.name;
  const role = local.summaryNow().role ?? entry.role;
  if (name !== entry.name || role !== entry.role) await saveEntry(records, { ...entry, name, role });
}

/** Before a space's pull: this person's certificate lists exactly their admitted devices, and the keys due are shared. */
async function upkeep(h: HubSyncHost, local: LocalSpace): Promise<void> {
  const s = h.session;
  const ctx = await s.connect();
  const state = await local.refresh(true);
  const me = local.me.person.personId;
  if (!state.m.member(me)) return; // the pull says why (KITH_REMOVED)
  const devices = ownDevices(ctx);
  const newest = state.certs(me)?.at()?.devices ?? [];
  const same = newest.length === devices.length && devices.every((d) => newest.some((n) => n.deviceId === d.deviceId));
  // certifyOwnDevices signs in as the person while no certificate lists this device (a relay), then as the device.
  if (!same) {
    await certifyOwnDevices(local.remote, state, local.me, devices, s.deps);
  } else await keepSpaceKeys(local.remote, state, local.me, s.deps);
  // A device restored after the person lost every other one: keys no member's device sealed to it come from the person's keyring.
  await sealFromKeyring(s.store, local, s.deps.random);
  await shareOlderKeys(local.remote, state, local.me, s.deps.random, local.olderKeysShared);
  // Keys this device opened or started: pushed with the personal space now, before the space's writes under them can outlive this device.
  if ((await recordSpaceKeys(h.records, s.store, local)) > 0) await push(ctx).catch(() => undefined);
}
