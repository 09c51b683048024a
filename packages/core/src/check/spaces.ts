/**
 * @module check/spaces
 * The shared spaces hosted on the remote (`spaces/<spaceId>/`, FORMAT.md
 * "Spaces"): each membership chain replayed from its first entry with the
 * spaces layer's verifier (signatures, chain hashes, the role rules), and
 * each person's device certificates as a chain signed by the identity key
 * that membership chain holds for them; a person's chain is the same in
 * every space, so two spaces holding different objects at one version is
 * a fork, reported in the space whose id sorts later. Then the space's
 * key epochs and sealed keys (check/space-epochs). Only public keys
 * are needed, so
 * any device of the vault checks every space stored with it, member or not.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesToHex } from '../crypto/index.js';
import { DeviceCertificates, deviceCertKey } from '../spaces/device-cert.js';
import { membershipKey } from '../spaces/membership-entry.js';
import { Membership } from '../spaces/membership.js';
import { SpaceEpochs } from '../spaces/epochs.js';
import type { PersonPublic } from '../spaces/person.js';
import { walkChain } from './chain.js';
import { spaceRoot, type SpaceLayout } from './layout.js';
import { checkSpaceBlobs } from './space-blobs.js';
import { checkSpaceEpochs } from './space-epochs.js';
import { checkSpaceSegments } from './space-segments.js';
import type { CheckSpacePins } from './report.js';
import type { CheckRun } from './run.js';

const RESTORE = 'restore it from another copy of the remote, or remove it';

export async function checkSpaces(run: CheckRun, pins: ReadonlyMap<string, CheckSpacePins> | undefined): Promise<void> {
  const { log, layout } = run;
  if (layout.spaces.size === 0) return;
  log.counts.members = 0;
  log.counts.certificates = 0;
  if ([...layout.spaces.values()].some((s) => s.epochs.size > 0 || s.keys.length > 0)) {
    log.counts.epochs = 0;
    log.counts.spaceKeys = 0;
  }
  const seen: SeenCertificates = new Map();
  for (const spaceId of [...layout.spaces.keys()].sort()) await checkSpace(run, spaceId, layout.spaces.get(spaceId)!, pins?.get(spaceId), seen);
}

/** personId → version → the hash (hex) of the certificate verified there, and the space it was in. */
type SeenCertificates = Map<string, Map<number, { hash: string; spaceId: string }>>;

async function checkSpace(run: CheckRun, spaceId: string, space: SpaceLayout, pins: CheckSpacePins | undefined, seen: SeenCertificates): Promise<void> {
  const { log } = run;
  const root = spaceRoot(spaceId);
  const chain = Membership.empty(spaceId);
  /** Everyone the chain named, with the keys it gave them: a removed member's certificates stay verifiable. */
  const people = new Map<string, PersonPublic>();
  /** The certificates verified of each person (as far as they verified): what the epochs are checked against. */
  const verified = new Map<string, DeviceCertificates>();
  const broken = await walkChain(run, {
    name: (seq) => `membership entry ${seq} of space ${spaceId}`,
    listed: space.members,
    keyOf: (seq) => root + membershipKey(seq),
    pin: pins?.members,
    hint: RESTORE,
    accept: async (bytes) => {
      const { change: c, signer } = await chain.accept(bytes);
      if (c.kind === 'create') people.set(signer, { personId: signer, signPub: c.signPub, boxPub: c.boxPub });
      if (c.kind === 'add') people.set(c.personId, c);
      log.counts.members!++;
      return chain.hash;
    },
  });
  for (const personId of [...space.certificates.keys()].sort()) {
    const listed = space.certificates.get(personId)!;
    const keyOf = (version: number): string => root + deviceCertKey(personId, version);
    const person = people.get(personId);
    if (!person) {
      for (const version of [...listed.keys()].sort((a, b) => a - b)) {
        if (broken !== undefined)
          log.add(
            'damaged',
            keyOf(version),
            ErrorCode.IntegrityChain,
            `device certificate ${version} of ${personId} cannot be verified: the membership chain breaks at entry ${broken}`,
            `mend membership entry ${broken} of space ${spaceId} first`,
          );
        else
          log.add(
            'foreign',
            keyOf(version),
            ErrorCode.IntegrityUnknownSigner,
            `device certificate ${version} of ${personId}, whom the space's membership chain never admitted`,
            'no member of the space wrote it, and every device ignores it; delete it',
          );
      }
      continue;
    }
    const certs = new DeviceCertificates(person);
    verified.set(personId, certs);
    await walkChain(run, {
      name: (version) => `device certificate ${version} of ${personId}`,
      listed,
      keyOf,
      pin: pins?.certificates?.get(personId),
      hint: RESTORE,
      accept: async (bytes) => {
        await certs.accept(bytes);
        // One chain per person, copied to every space they are in: another valid version here is a fork, even with no pin.
        const hash = bytesToHex(certs.hash);
        const versions = seen.get(personId) ?? new Map<number, { hash: string; spaceId: string }>();
        seen.set(personId, versions);
        const prior = versions.get(certs.version);
        if (prior && prior.hash !== hash) {
          throw new KithError(
            ErrorCode.IntegrityChain,
            `device certificate ${certs.version} of ${personId} differs from the one in space ${prior.spaceId}: the person's certificates forked`,
            { hint: 'a device of that person can write the next version again from the right one; until then this space verifies its devices differently' },
          );
        }
        versions.set(certs.version, prior ?? { hash, spaceId });
        log.counts.certificates!++;
        return certs.hash;
      },
    });
  }
  const s = { spaceId, root, m: chain, certs: (p: string) => verified.get(p), epochs: new SpaceEpochs(spaceId) };
  if (space.epochs.size > 0 || space.keys.length > 0 || pins?.epochs) await checkSpaceEpochs(run, s, space, pins?.epochs);
  await checkSpaceSegments(run, s, space);
  await checkSpaceBlobs(run, s, space);
}
