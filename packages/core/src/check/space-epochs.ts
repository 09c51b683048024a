/**
 * @module check/space-epochs
 * A space's key epochs (`epochs/<epoch>`, FORMAT.md "Space epoch") and
 * the epoch keys sealed under its root (`keys/<epoch>/<keyId>/<deviceId>`),
 * once its membership chain and certificates are verified. The epochs are
 * walked like the other chains, from epoch 0, with the spaces layer's
 * verifier. A sealed key can only have its addressing, signer and
 * signature checked (no device of this vault need be a member): the
 * signer must be one a reader accepts (the sealer, or a device of a
 * current member's newest certificate), and the recipient a device that
 * may hold the key: one the epoch reached, or one sealed to later (a
 * device of anyone who was a member since it began, as SpaceEpochs.exposed
 * counts them: members read the whole history, so earlier keys reach
 * later members; for an older epoch also a device the next one reached or
 * cut). Any other recipient is foreign: no reader's rule writes it, and it
 * may have handed the key to someone outside the space.
 */
import { ErrorCode } from '../base/errors.js';
import { verifySealedKey, epochKeyId } from '../format/sealed-key.js';
import { spaceEpochKey } from '../spaces/epoch-entry.js';
import type { CertsOf, SpaceEpochs } from '../spaces/epochs.js';
import { sealerPub, spaceSealedKeyKey } from '../spaces/epochs.js';
import type { Membership } from '../spaces/membership.js';
import { walkChain } from './chain.js';
import type { SpaceKeyName, SpaceLayout } from './layout.js';
import type { CheckPin } from './report.js';
import type { CheckRun } from './run.js';

const RESTORE = 'restore it from another copy of the remote, or remove it';
const LEFTOVER = 'left by an epoch start that was interrupted or lost a race; harmless, and safe to delete';

export interface VerifiedSpace {
  readonly spaceId: string;
  readonly root: string;
  readonly m: Membership;
  readonly certs: CertsOf;
  readonly epochs: SpaceEpochs;
}

/** Walks the space's epochs, then checks its sealed keys against the epochs that verified. */
export async function checkSpaceEpochs(run: CheckRun, s: VerifiedSpace, space: SpaceLayout, pin: CheckPin | undefined): Promise<void> {
  const { log } = run;
  // The walker counts from 1: chain position n is epoch n - 1, as a pin's seq is the number of epochs verified.
  const listed = new Map([...space.epochs].map(([epoch, key]) => [epoch + 1, key]));
  const broken = await walkChain(run, {
    name: (seq) => `epoch ${seq - 1} of space ${s.spaceId}`,
    listed,
    keyOf: (seq) => s.root + spaceEpochKey(seq - 1),
    pin,
    hint: RESTORE,
    accept: async (bytes) => {
      await s.epochs.accept(bytes, s.m, s.certs);
      log.counts.epochs!++;
      return s.epochs.pin.hash;
    },
  });
  const brokenAt = broken === undefined ? undefined : broken - 1;
  for (const k of [...space.keys].sort((a, b) => (a.key < b.key ? -1 : 1))) await checkSpaceKey(run, s, k, brokenAt);
  const present = new Set(space.keys.map((k) => k.key));
  for (let epoch = 0; epoch < s.epochs.count; epoch++) {
    const entry = s.epochs.entry(epoch)!;
    for (const deviceId of [...s.epochs.reached(epoch).keys()].sort()) {
      const key = s.root + spaceSealedKeyKey(entry, deviceId);
      if (present.has(key)) continue;
      log.add(
        'missing',
        key,
        ErrorCode.IntegrityWithheld,
        `epoch ${epoch} of space ${s.spaceId} is not sealed to device ${deviceId}, which it reached`,
        'that device cannot read the space under this epoch; restore it from another copy of the remote',
      );
    }
  }
}

/** The devices that may hold `epoch`'s key (see the module comment). */
function mayHold(s: VerifiedSpace, epoch: number): Set<string> {
  // The spaces layer's own "may hold" set: reached at the start, or certified since by someone who was a member since then.
  const out = s.epochs.exposed(s.m, s.certs, epoch);
  const next = s.epochs.entry(epoch + 1);
  if (next) {
    for (const d of s.epochs.reached(epoch + 1).keys()) out.add(d);
    for (const c of next.cuts) out.add(c.deviceId);
  }
  return out;
}

async function checkSpaceKey(run: CheckRun, s: VerifiedSpace, k: SpaceKeyName, brokenAt: number | undefined): Promise<void> {
  const { log } = run;
  const entry = s.epochs.entry(k.epoch);
  if (!entry) {
    if (brokenAt !== undefined && k.epoch >= brokenAt) {
      log.add(
        'damaged',
        k.key,
        ErrorCode.IntegrityChain,
        `sealed key of epoch ${k.epoch} of space ${s.spaceId} cannot be verified: epoch ${brokenAt} is not valid`,
        `mend epoch ${brokenAt} of space ${s.spaceId} first`,
      );
    } else {
      log.add('unreferenced', k.key, ErrorCode.UnreferencedObject, `sealed key for epoch ${k.epoch} of space ${s.spaceId}, which never started`, LEFTOVER);
    }
    return;
  }
  if (k.keyId !== epochKeyId(entry.keyCheck)) {
    log.add(
      'unreferenced',
      k.key,
      ErrorCode.UnreferencedObject,
      `sealed key for epoch ${k.epoch} of space ${s.spaceId} under keyId ${k.keyId}, not the epoch's: no reader looks there`,
      LEFTOVER,
    );
    return;
  }
  if (!mayHold(s, k.epoch).has(k.deviceId)) {
    log.add(
      'foreign',
      k.key,
      ErrorCode.IntegrityCorrupt,
      `epoch ${k.epoch} of space ${s.spaceId} is sealed to device ${k.deviceId}, which is no device of its members`,
      'delete it; if that device may have opened it, the space needs a new key epoch',
    );
    return;
  }
  const bytes = await run.read(k.key);
  if (!bytes) return;
  try {
    await verifySealedKey(bytes, { vaultId: s.spaceId, epoch: k.epoch, recipientId: k.deviceId, signerPub: sealerPub(entry, s.m, s.certs) });
    log.counts.spaceKeys!++;
  } catch (e) {
    log.failed(k.key, e, 'remove it; a member holding this epoch key can seal it again');
  }
}
