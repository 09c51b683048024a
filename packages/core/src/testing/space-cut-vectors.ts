/**
 * @module testing/space-cut-vectors
 * Fixed inputs for the version 2 membership entries of docs/FORMAT.md
 * "Membership entry" (`spacesCut` in vectors.json): a chain in the space of
 * the space vectors where the member, a writer, is demoted to reader (a cut
 * of their two devices), made a writer again (version 1: no right ends)
 * and removed (a cut again). spaces/cut-vectors.test.ts checks the bytes.
 */
import { bytesToHex, hexToBytes } from '../crypto/index.js';
import { encodeMembershipEntry, spaceIdOf, type MembershipChange, type PersonCutDevice } from '../spaces/membership-entry.js';
import { personKeysFromSecret } from '../spaces/person.js';
import { SPACE_VECTOR_INPUTS } from './space-vectors.js';

export const CUT_VECTOR_INPUTS = {
  // The founder, member, nonce and time of the space vectors; entry n is written at at + n, all by the founder.
  // 1 create, 2 add the member as a writer, 3 make them a reader (cut), 4 a writer again, 5 remove them (cut).
  memberDevices: ['b0b1b2b3b4b5b6b7', 'c0c1c2c3c4c5c6c7'],
  demoteLastSeqs: [5, 0],
  removeLastSeqs: [7, 2],
};

/** The changes of entries 1–5 and the cut each carries (none: version 1). */
export function cutVectorChain(): { change: MembershipChange; cut?: PersonCutDevice[] }[] {
  const V = SPACE_VECTOR_INPUTS;
  const C = CUT_VECTOR_INPUTS;
  const founder = personKeysFromSecret(hexToBytes(V.founderSecret));
  const member = personKeysFromSecret(hexToBytes(V.memberSecret));
  const cut = (seqs: number[]): PersonCutDevice[] => C.memberDevices.map((deviceId, i) => ({ deviceId, lastSeq: seqs[i]! }));
  return [
    { change: { kind: 'create', nonce: hexToBytes(V.spaceNonce), signPub: founder.signPub, boxPub: founder.boxPub } },
    { change: { kind: 'add', personId: member.personId, signPub: member.signPub, boxPub: member.boxPub, role: 'writer' } },
    { change: { kind: 'role', personId: member.personId, role: 'reader' }, cut: cut(C.demoteLastSeqs) },
    { change: { kind: 'role', personId: member.personId, role: 'writer' } },
    { change: { kind: 'remove', personId: member.personId }, cut: cut(C.removeLastSeqs) },
  ];
}

export async function buildCutVectors(): Promise<{ membership: string[]; membershipHashes: string[] }> {
  const V = SPACE_VECTOR_INPUTS;
  const founder = personKeysFromSecret(hexToBytes(V.founderSecret));
  const spaceId = spaceIdOf(founder.signPub, hexToBytes(V.spaceNonce));
  const membership: string[] = [];
  const membershipHashes: string[] = [];
  let prevHash: Uint8Array = new Uint8Array(32);
  for (const [i, { change, cut }] of cutVectorChain().entries()) {
    const seq = i + 1;
    const entry = { seq, prevHash, at: V.at + seq, signer: founder.personId, change };
    const { bytes, hash } = await encodeMembershipEntry(spaceId, cut ? { ...entry, cut } : entry, founder.sign.seed);
    membership.push(bytesToHex(bytes));
    membershipHashes.push(bytesToHex(hash));
    prevHash = hash;
  }
  return { membership, membershipHashes };
}
