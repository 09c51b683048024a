/**
 * @module vault/spaces/older-keys
 * A person's new device reads the space's history as the person did: the
 * keys of earlier epochs that this device holds are sealed to the
 * person's own certified devices that lack them (spaceops' sharing seals
 * the current epoch only). Any current member's device may seal a key
 * again (`sealerPub` in spaces/epochs.ts), and only devices in the
 * person's newest certificate receive them, so a dropped device never
 * does. Other members added later still read from their epoch on.
 */
import type { RandomBytes } from '../../base/deps.js';
import { sealEpochKey } from '../../format/sealed-key.js';
import type { Remote } from '../../ports/remote.js';
import { openSpaceEpochKey, spaceSealedKeyKey } from '../../spaces/epochs.js';
import type { SpaceActor } from '../../spaces/space-ops.js';
import type { SpaceState } from '../../spaces/space-state.js';

/** Seals earlier epochs' keys to the person's own devices lacking them; returns how many keys it sealed. `done` (per space, kept by the caller) skips positions already handled. */
export async function shareOlderKeysWithOwnDevices(remote: Remote, state: SpaceState, me: SpaceActor, random: RandomBytes, done: Set<string>): Promise<number> {
  const newest = state.certs(me.person.personId)?.at();
  const current = state.epochs.current;
  if (!newest || !current || current.epoch === 0) return 0;
  const others = newest.devices.filter((d) => d.deviceId !== me.deviceId);
  const mark = `${current.epoch}:${others.map((d) => d.deviceId).join(',')}`;
  if (others.length === 0 || done.has(mark)) return 0;
  let sealed = 0;
  for (let epoch = 0; epoch < current.epoch; epoch++) {
    const entry = state.epochs.entry(epoch)!;
    const lacking = [];
    for (const d of others) if (!(await remote.head(spaceSealedKeyKey(entry, d.deviceId)))) lacking.push(d);
    if (lacking.length === 0) continue;
    const epochKey = await openSpaceEpochKey(remote, {
      m: state.m,
      epochs: state.epochs,
      certs: state.certs,
      epoch,
      deviceId: me.deviceId,
      boxSecret: me.boxSecret,
    });
    if (!epochKey) continue; // this device never held it: another of the person's may
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
