/**
 * @module vault/spaces/keyring
 * The person's keyring of shared spaces' epoch keys: the personal space's
 * reserved collection `_kith.spacekeys`, one record per (space, epoch), id
 * `<spaceId>.<epoch>`, fields `{ space, epoch, keyCheck (hex), key (base64) }`
 * (docs/FORMAT.md "Spaces", Keyring). A space seals its keys to devices
 * only, so a sole member who loses every device would lose the space: the
 * device restored with the recovery code or password reads this keyring
 * with the personal space, takes each key it lacks from here (checked
 * against the epoch entry's keyCheck) and seals it to itself in the space,
 * where every other path looks.
 *
 * Why the personal space and not the identity's box key: the identity
 * never rotates, so a device the person revoked would open every later
 * epoch; the personal space's epochs rotate on revocation, so a record
 * written afterwards is under a key the revoked device never gets.
 */
import { isIntegrityError, type KithError } from '../../base/errors.js';
import type { RandomBytes } from '../../base/deps.js';
import { bytesEqual, bytesToHex } from '../../crypto/index.js';
import { corrupt } from '../../format/framing.js';
import { epochKeyCheck, sealEpochKey } from '../../format/sealed-key.js';
import type { JsonObject } from '../../model/json.js';
import { SPACE_KEYRING } from '../../model/names.js';
import type { Remote } from '../../ports/remote.js';
import type { Store } from '../../ports/store.js';
import { b64, unb64 } from '../../ports/store-meta.js';
import { spaceSealedKeyKey } from '../../spaces/epochs.js';
import type { SpaceActor } from '../../spaces/space-ops.js';
import type { SpaceState } from '../../spaces/space-state.js';
import type { Records } from '../records.js';
import { writeReserved } from './directory.js';
import { ownEpochKey } from './older-keys.js';

export const KEYRING = SPACE_KEYRING;

/** A space as this device keeps it (a LocalSpace, after its state was caught up). */
export interface KeyringSpace {
  readonly remote: Remote;
  readonly state: SpaceState;
  readonly me: SpaceActor;
}

/** The record id of a space's epoch key (ids may not hold `/`). */
export const keyringId = (spaceId: string, epoch: number): string => `${spaceId}.${epoch}`;

/** The keyring's records of one space, by epoch (as written: {@link keyringKey} checks them). */
export async function readKeyring(store: Store, spaceId: string): Promise<Map<number, JsonObject>> {
  return store.read(async (tx) => {
    const page = await tx.query({ collection: KEYRING, where: [{ field: 'space', value: spaceId }] });
    const out = new Map<number, JsonObject>();
    for (const r of page.rows) {
      const epoch = r.fields['epoch'];
      if (typeof epoch === 'number' && Number.isSafeInteger(epoch) && r.id === keyringId(spaceId, epoch)) out.set(epoch, r.fields);
    }
    return out;
  });
}

/**
 * The key a keyring record holds for `epoch`, checked against the verified
 * epoch entry: a record with another key (forged by a device of the person
 * before its revocation, or damaged) is KITH_INTEGRITY_CORRUPT.
 */
export function keyringKey(state: SpaceState, epoch: number, fields: JsonObject): Uint8Array {
  const entry = state.epochs.entry(epoch);
  const what = `keyring record ${keyringId(state.spaceId, epoch)}`;
  if (!entry) throw corrupt(what, 'its epoch is not verified');
  let key: Uint8Array | undefined;
  try {
    key = typeof fields['key'] === 'string' ? unb64(fields['key']) : undefined;
  } catch {
    key = undefined;
  }
  if (!key || key.length !== 32 || fields['space'] !== state.spaceId || fields['epoch'] !== epoch) throw corrupt(what, 'it is malformed');
  if (!bytesEqual(epochKeyCheck(state.spaceId, epoch, key), entry.keyCheck)) throw corrupt(what, 'it holds another key than the one that started the epoch');
  return key;
}

function holdsRightKey(state: SpaceState, epoch: number, fields: JsonObject | undefined): boolean {
  if (!fields) return false;
  try {
    keyringKey(state, epoch, fields);
    return true;
  } catch (e) {
    if (isIntegrityError(e)) return false;
    throw e;
  }
}

/**
 * Writes to the keyring each verified epoch key of the space that this
 * device holds (sealed to it) and the keyring lacks, or holds with another
 * key (a forged record is replaced with the right one). A local write: it
 * reaches the person's other devices and the remote with the personal
 * space. Returns how many records it wrote.
 */
export async function recordSpaceKeys(records: Records, store: Store, s: KeyringSpace): Promise<number> {
  const { state } = s;
  const have = await readKeyring(store, state.spaceId);
  let wrote = 0;
  for (let epoch = 0; epoch < state.epochs.count; epoch++) {
    if (holdsRightKey(state, epoch, have.get(epoch))) continue;
    let key: Uint8Array | null;
    try {
      key = await ownEpochKey(s.remote, state, s.me, epoch);
    } catch (e) {
      // A damaged sealed key is the pull's to report; it is not recorded.
      if (isIntegrityError(e)) continue;
      throw e;
    }
    if (!key) continue; // not sealed to this device (yet): a device that holds it records it
    const fields = { space: state.spaceId, epoch, keyCheck: bytesToHex(state.epochs.entry(epoch)!.keyCheck), key: b64(key) };
    await writeReserved(records, KEYRING, keyringId(state.spaceId, epoch), fields);
    wrote++;
  }
  return wrote;
}

/** Epochs known sealed to this device, per space state (sealed keys are never replaced): not asked again each sync. */
const sealedToMe = new WeakMap<SpaceState, Set<number>>();

/**
 * For each verified epoch with no key sealed to this device, takes the key
 * from the keyring and seals it to this device in the space, signed by
 * itself: a device of a current member's newest certificate, whose seal
 * readers accept (FORMAT.md "Space epoch", Opening). Then reading, sharing
 * and checking find it where they always look. Only once the person's
 * newest certificate lists this device. A record with another key is
 * ignored, and its KITH_INTEGRITY_CORRUPT thrown after the other epochs
 * are done (until a member's device seals the right key to this one).
 * Returns how many keys it sealed.
 */
export async function sealFromKeyring(store: Store, s: KeyringSpace, random: RandomBytes): Promise<number> {
  const { state, me, remote } = s;
  const certs = state.certs(me.person.personId);
  const listed = certs?.deviceAt(me.deviceId, certs.version);
  if (!listed || !bytesEqual(listed.signPub, me.signPub)) return 0;
  const known = sealedToMe.get(state) ?? new Set<number>();
  sealedToMe.set(state, known);
  const have = await readKeyring(store, state.spaceId);
  let bad: KithError | undefined;
  let sealed = 0;
  for (let epoch = 0; epoch < state.epochs.count; epoch++) {
    const fields = have.get(epoch);
    if (!fields || known.has(epoch)) continue;
    const at = spaceSealedKeyKey(state.epochs.entry(epoch)!, me.deviceId);
    if (await remote.head(at)) {
      known.add(epoch);
      continue;
    }
    let epochKey: Uint8Array;
    try {
      epochKey = keyringKey(state, epoch, fields);
    } catch (e) {
      if (!isIntegrityError(e)) throw e;
      bad ??= e;
      continue;
    }
    const bytes = await sealEpochKey({
      vaultId: state.spaceId,
      epoch,
      recipientId: me.deviceId,
      recipientBoxPub: me.boxPub,
      epochKey,
      signerId: me.deviceId,
      signerSeed: me.signSeed,
      random,
    });
    await remote.put(at, bytes, { ifAbsent: true });
    known.add(epoch);
    sealed++;
  }
  if (bad) throw bad;
  return sealed;
}
