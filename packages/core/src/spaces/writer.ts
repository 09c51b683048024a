/**
 * @module spaces/writer
 * Whether a space's object was written by someone allowed to: the writing
 * device certified by its person at the certificate version the object
 * names, and that person a writer or admin at the membership seq it names.
 * What a segment of a shared space will carry (next layer).
 *
 * A device dropped from its person's certificate, or whose person was
 * removed, is cut by the first epoch that no longer reaches it: that
 * entry carries the last segment seq the starter saw from it, and
 * `checkSpaceWriter` refuses its later segments under an older epoch (it
 * holds no key of the newer ones, and the newer listings name a
 * certificate version without it). See docs/FORMAT.md "Space epoch".
 *
 * A person demoted to reader keeps the epoch's key, and a removed one the
 * old epochs' keys and their own certificates: either could sign segments
 * naming a membership seq from before, through any device, even one
 * paired since. So the entry that ends a person's right to write cuts
 * each of their devices (spaces/person-cut.ts), and a segment naming an
 * earlier seq passes only if its device is in that cut and its seq not
 * past the cut's lastSeq (a device's chain is hash-linked and seq-ordered,
 * so nothing can be slipped in below). See docs/FORMAT.md "Membership entry".
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesEqual } from '../crypto/index.js';
import type { DeviceCertificates } from './device-cert.js';
import type { SpaceEpochs } from './epochs.js';
import type { Membership } from './membership.js';

export interface WriterClaim {
  readonly personId: string;
  readonly deviceId: string;
  /** The device's signing key the object is verified with. */
  readonly signPub: Uint8Array;
  /** The membership seq the object was written under. */
  readonly membershipSeq: number;
  /** The version of the person's device certificate it was written under. */
  readonly certVersion: number;
}

/**
 * Throws KITH_INTEGRITY_UNKNOWN_SIGNER unless the claim holds on the
 * verified chain `m` and the person's verified certificates `certs`. A seq
 * or version the reader has not verified yet proves nothing: catch up first.
 */
export function checkWriter(m: Membership, certs: DeviceCertificates, w: WriterClaim): void {
  const refuse = (why: string, reason: string) =>
    new KithError(ErrorCode.IntegrityUnknownSigner, `device ${w.deviceId} of ${w.personId} ${why}`, {
      hint: 'someone without the right to write to this space tried to; remove the object',
      reason,
    });
  if (certs.person.personId !== w.personId) throw new KithError(ErrorCode.Internal, 'internal error: certificates of another person');
  if (!m.canWriteAt(w.personId, w.membershipSeq)) throw refuse(`was not a writer of the space at membership entry ${w.membershipSeq}`, 'not-a-writer');
  const device = certs.deviceAt(w.deviceId, w.certVersion);
  if (!device || !bytesEqual(device.signPub, w.signPub)) throw refuse(`is not in version ${w.certVersion} of the person's device certificate`, 'not-certified');
}

/** What a segment of a shared space names about its writer. */
export interface SpaceWriterClaim extends WriterClaim {
  /** The epoch whose key encrypts it. */
  readonly epoch: number;
  /** Its seq in the writing device's chain of segments in the space. */
  readonly segmentSeq: number;
}

/**
 * "May device D write in space S at membership seq n": {@link checkWriter},
 * and against the verified epochs: the epoch exists and began at or before
 * seq n; the certificate version is not older than the one the epoch
 * lists for the person; if a later membership entry ended the person's
 * right to write, the device is in its cut and the segment not past it;
 * and if a later epoch cut the device, the segment is not past the cut's
 * lastSeq. Pure: the caller catches the chains up
 * first. Throws KITH_INTEGRITY_UNKNOWN_SIGNER.
 */
export function checkSpaceWriter(m: Membership, certs: DeviceCertificates, epochs: SpaceEpochs, w: SpaceWriterClaim): void {
  checkWriter(m, certs, w);
  const refuse = (why: string, reason: string) =>
    new KithError(ErrorCode.IntegrityUnknownSigner, `device ${w.deviceId} of ${w.personId} ${why}`, {
      hint: 'a device without the right to write to this space tried to; remove the object',
      reason,
    });
  const entry = epochs.entry(w.epoch);
  if (!entry) throw refuse(`wrote under epoch ${w.epoch}, which the space does not have`, 'unknown-epoch');
  if (w.membershipSeq < entry.membershipSeq) throw refuse(`names membership entry ${w.membershipSeq}, before epoch ${w.epoch} began`, 'before-epoch');
  const listed = entry.members.find((x) => x.personId === w.personId);
  if (listed && w.certVersion < listed.certVersion) throw refuse(`names certificate ${w.certVersion}, older than epoch ${w.epoch}’s`, 'stale-certificate');
  for (let e = w.epoch + 1; e < epochs.count; e++) {
    const cut = epochs.entry(e)!.cuts.find((c) => c.deviceId === w.deviceId);
    if (!cut) continue;
    if (w.segmentSeq > cut.lastSeq) throw refuse(`was cut by epoch ${e} after segment ${cut.lastSeq}`, 'cut');
    break;
  }
  const end = m.writeEnd(w.personId, w.membershipSeq);
  // After the epochs' cuts (a removal's shows as the epoch's). A version 1 entry carries no cut: only the epochs bound what was back-dated past it.
  if (end?.cut) {
    const cut = end.cut.find((x) => x.deviceId === w.deviceId);
    if (!cut || w.segmentSeq > cut.lastSeq) {
      const after = cut ? `after segment ${cut.lastSeq}` : 'before its first segment';
      throw refuse(`names membership entry ${w.membershipSeq}, yet entry ${end.seq} ended its person’s right to write ${after}`, 'person-cut');
    }
  }
}
