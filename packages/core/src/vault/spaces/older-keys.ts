/**
 * @module vault/spaces/older-keys
 * Members read the space's whole history: a person's new device, and a
 * person added after a key epoch began, get the keys of earlier epochs
 * from any current member's device that holds them (spaceops' sharing
 * seals the current epoch only). Any current member's device may seal a
 * key again (`sealerPub` in spaces/epochs.ts), and only devices in
 * current members' newest certificates receive them, so a dropped device
 * or a removed person never does.
 */
import type { RandomBytes } from '../../base/deps.js';
import { sealEpochKey } from '../../format/sealed-key.js';
import type { Remote } from '../../ports/remote.js';
import { openSpaceEpochKey, sealedRecipients, spaceSealedKeyKey } from '../../spaces/epochs.js';
import type { SpaceActor } from '../../spaces/space-ops.js';
import type { SpaceState } from '../../spaces/space-state.js';

/** The key of `epoch` as sealed to this device (null if none was). */
export function ownEpochKey(remote: Remote, state: SpaceState, me: Pick<SpaceActor, 'deviceId' | 'boxSecret'>, epoch: number): Promise<Uint8Array | null> {
  return openSpaceEpochKey(remote, { m: state.m, epochs: state.epochs, certs: state.certs, epoch, deviceId: me.deviceId, boxSecret: me.boxSecret });
}

/**
 * Seals earlier epochs' keys to the devices of current members (newest
 * certificates) that lack them: a member added later reads the space's
 * history, as a person's new device does (docs/design/lifetime-and-spaces.md,
 * "Who reads what"). One listing per earlier epoch finds who holds it.
 * Returns how many keys it sealed. `done` (per space, kept by the caller)
 * skips positions already handled.
 */
export async function shareOlderKeys(remote: Remote, state: SpaceState, me: SpaceActor, random: RandomBytes, done: Set<string>): Promise<number> {
  const current = state.epochs.current;
  if (!current || current.epoch === 0) return 0;
  const devices = state.m
    .members()
    .flatMap((p) => state.certs(p.personId)?.at()?.devices ?? [])
    .filter((d) => d.deviceId !== me.deviceId);
  const mark = `${current.epoch}:${devices
    .map((d) => d.deviceId)
    .sort()
    .join(',')}`;
  if (devices.length === 0 || done.has(mark)) return 0;
  let sealed = 0;
  for (let epoch = 0; epoch < current.epoch; epoch++) {
    const entry = state.epochs.entry(epoch)!;
    const holders = await sealedRecipients(remote, entry);
    const lacking = devices.filter((d) => !holders.has(d.deviceId));
    if (lacking.length === 0) continue;
    const epochKey = await ownEpochKey(remote, state, me, epoch);
    if (!epochKey) continue; // this device never held it: another member's may
    for (const d of lacking) {
      const bytes = await sealEpochKey({
        vaultId: state.spaceId,
        epoch,
        recipientId: d.deviceId,
        recipientBoxPub: d.boxPub,
        epochKey,
        signerId: me.deviceId,
        signerSeed: me.signSeed,
        random,
      });
      await remote.put(spaceSealedKeyKey(entry, d.deviceId), bytes, { ifAbsent: true });
      sealed++;
    }
  }
  done.add(mark);
  return sealed;
}
