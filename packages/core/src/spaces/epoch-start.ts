/**
 * @module spaces/epoch-start
 * Starting a space's next key epoch (docs/FORMAT.md "Space epoch",
 * Starting an epoch): catch up, seal a fresh key to every device the
 * listing reaches, then write the entry with put-if-absent and read it
 * back; the loser of a race takes its sealed keys back and decides again.
 */
import type { Clock, RandomBytes } from '../base/deps.js';
import { ErrorCode, KithError } from '../base/errors.js';
import { epochKeyCheck, sealEpochKey } from '../format/sealed-key.js';
import { putIfAbsentHolds } from '../ports/put-if-absent.js';
import type { Remote } from '../ports/remote.js';
import { encodeSpaceEpoch, spaceEpochKey, type EpochCut, type SpaceEpochEntry } from './epoch-entry.js';
import { mayStart, reachedBy, spaceSealedKeyKey, type CertsOf, type EpochActor, type SpaceEpochs } from './epochs.js';
import type { Membership } from './membership.js';

const MAX_START_ATTEMPTS = 64;

export interface StartEpochArgs {
  readonly m: Membership;
  readonly epochs: SpaceEpochs;
  /** Every member's certificates, refreshed from the remote here. */
  readonly certs: CertsOf;
  readonly actor: EpochActor;
  /** The last segment seq the reader saw from a device about to be cut (0: none). */
  readonly lastSeqOf: (deviceId: string) => Promise<number>;
}

/** What {@link startEpoch} did: the epoch it started and its key, or null when none was needed any more. */
export interface StartEpochResult {
  readonly epoch: number | null;
  readonly epochKey: Uint8Array | null;
  /** How many times another device took the epoch first. */
  readonly lost: number;
}

/**
 * Starts the next epoch if one is due: catch up, seal a fresh key to every
 * device the listing reaches, then write the entry with put-if-absent and
 * read it back. Another device's entry there means it lost the race: it
 * verifies that one, removes its own sealed keys (nobody reads them: they
 * sit under its own keyId) and decides again on top.
 */
export async function startEpoch(remote: Remote, a: StartEpochArgs, deps: { random: RandomBytes; now: Clock }): Promise<StartEpochResult> {
  const { m, epochs, certs, actor } = a;
  for (let lost = 0; lost < MAX_START_ATTEMPTS; lost++) {
    await m.refresh(remote);
    for (const p of m.membersAt(m.seq)) await certs(p)?.refresh(remote);
    await epochs.refresh(remote, m, certs);
    if (!epochs.needed(m, certs)) return { epoch: null, epochKey: null, lost };
    const members = epochs.plan(m, certs);
    const self = members.find((x) => x.personId === actor.person.personId);
    if (!self || !mayStart(m, epochs.current, members, self.personId, m.seq)) {
      throw new KithError(ErrorCode.BadInput, 'only an admin, or a member who changed their own devices, starts a key epoch of the space');
    }
    if (!certs(self.personId)?.deviceAt(actor.deviceId, self.certVersion)) {
      throw new KithError(ErrorCode.BadInput, `device ${actor.deviceId} is not in its person’s newest device certificate`);
    }
    const epoch = epochs.count;
    const reached = reachedBy(members, certs);
    const cuts: EpochCut[] = [];
    for (const d of [...epochs.exposed(m, certs)].sort()) if (!reached.has(d)) cuts.push({ deviceId: d, lastSeq: await a.lastSeqOf(d) });
    const epochKey = deps.random(32);
    const keyCheck = epochKeyCheck(m.spaceId, epoch, epochKey);
    const entry: SpaceEpochEntry = {
      epoch,
      prevHash: epochs.pin.hash,
      membershipSeq: m.seq,
      membershipHash: m.hash,
      at: deps.now(),
      signer: actor.person.personId,
      sealer: actor.deviceId,
      keyCheck,
      members,
      cuts,
    };
    const sealedAt: string[] = [];
    for (const d of reached.values()) {
      const bytes = await sealEpochKey({
        vaultId: m.spaceId,
        epoch,
        recipientId: d.deviceId,
        recipientBoxPub: d.boxPub,
        epochKey,
        signerId: actor.deviceId,
        signerSeed: actor.signSeed,
        random: deps.random,
      });
      const key = spaceSealedKeyKey(entry, d.deviceId);
      await remote.put(key, bytes, { ifAbsent: true });
      sealedAt.push(key);
    }
    const { bytes } = await encodeSpaceEpoch(m.spaceId, entry, actor.person.sign.seed);
    if (await putIfAbsentHolds(remote, spaceEpochKey(epoch), bytes)) {
      await epochs.accept(bytes, m, certs);
      return { epoch, epochKey, lost };
    }
    for (const key of sealedAt) await remote.delete(key);
  }
  throw new KithError(ErrorCode.RemoteUnavailable, `could not start a key epoch after ${MAX_START_ATTEMPTS} attempts`, {
    hint: 'other members keep changing the space at the same moment; try again',
  });
}
