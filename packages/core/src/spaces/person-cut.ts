/**
 * @module spaces/person-cut
 * What a membership entry that ends a person's right to write (a demotion
 * to reader, a removal, a leave) records about their devices: for every
 * device any verified version of the person's certificate lists, the last
 * seq of its segments the signer saw. Readers then accept that person's
 * segments naming an earlier membership seq only up to it, so a demoted or
 * removed person cannot back-date writes with a key they still hold
 * (spaces/writer.ts). See docs/FORMAT.md "Membership entry".
 */
import { isIntegrityError } from '../base/errors.js';
import { remoteKeys } from '../format/remote-keys.js';
import type { Remote } from '../ports/remote.js';
import { DeviceCertificates } from './device-cert.js';
import type { PersonCutDevice } from './membership-entry.js';
import type { PersonPublic } from './person.js';

/** The last segment seq seen from a device (0: none). */
export type LastSeqOf = (deviceId: string) => Promise<number>;

/** The highest segment seq the remote lists for a device in the space: what it wrote before it is cut. */
export async function listedLastSeq(remote: Remote, deviceId: string): Promise<number> {
  const prefix = remoteKeys.segmentPrefix(deviceId);
  let last = 0;
  for (const o of await remote.list(prefix)) {
    const seq = Number(o.key.slice(prefix.length));
    if (Number.isSafeInteger(seq) && seq > last) last = seq;
  }
  return last;
}

/**
 * The cut of `person`'s devices: every device of every certificate version
 * the remote holds (a device dropped earlier may still hold a key), in
 * deviceId order, each with `lastSeqOf` (default: what the remote lists).
 * A certificate chain that does not verify ends where it breaks: a device
 * only a broken version lists is refused by readers anyway.
 */
export async function personCut(remote: Remote, person: PersonPublic, lastSeqOf: LastSeqOf = (d) => listedLastSeq(remote, d)): Promise<PersonCutDevice[]> {
  const certs = new DeviceCertificates(person);
  try {
    await certs.refresh(remote);
  } catch (e) {
    // What verified so far is what any reader may accept segments through; a remote that fails is another matter.
    if (!isIntegrityError(e)) throw e;
  }
  const ids = new Set<string>();
  for (let v = 1; v <= certs.version; v++) for (const d of certs.at(v)!.devices) ids.add(d.deviceId);
  const cut: PersonCutDevice[] = [];
  for (const deviceId of [...ids].sort()) cut.push({ deviceId, lastSeq: await lastSeqOf(deviceId) });
  return cut;
}
