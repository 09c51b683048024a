/**
 * @module spaces/writer
 * Whether a space's object was written by someone allowed to: the writing
 * device certified by its person at the certificate version the object
 * names, and that person a writer or admin at the membership seq it names.
 * What a segment of a shared space will carry (next layer); the cut-off
 * for a device a later certificate drops is that layer's rule too.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesEqual } from '../crypto/index.js';
import type { DeviceCertificates } from './device-cert.js';
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
