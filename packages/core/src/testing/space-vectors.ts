/**
 * @module testing/space-vectors
 * Fixed inputs for the test vectors of docs/FORMAT.md "Person identity",
 * "Membership entry", "Device certificate", "Invite", "Space epoch" and
 * "Space segment and head" (`spaces` in
 * vectors.json): `buildSpaceVectors()` encodes them, and
 * spaces/space-vectors.test.ts checks the result against the committed
 * bytes.
 */
import { boxKeyFromSecret, bytesToHex, hexToBytes, signingKeyFromSeed } from '../crypto/index.js';
import { encodeSegment } from '../format/segment.js';
import { encodeSpaceHead, spaceHeadKey } from '../spaces/space-head.js';
import { spaceSegmentKey } from '../spaces/space-segments.js';
import { encodeDeviceCert, deviceCertKey } from '../spaces/device-cert.js';
import { encodeSpaceEpoch, spaceEpochKey, type SpaceEpochEntry } from '../spaces/epoch-entry.js';
import { spaceSealedKeyKey } from '../spaces/epochs.js';
import { epochKeyCheck, sealEpochKey } from '../format/sealed-key.js';
import { answerInvite, inviteKey, offerInvite, readInviteAnswer } from '../spaces/invite.js';
import { encodeMembershipEntry, membershipKey, spaceIdOf, type MembershipChange } from '../spaces/membership-entry.js';
import { personKeysFromSecret, sealIdentity, sealedIdentityKey } from '../spaces/person.js';
import { fill, scripted, VECTOR_INPUTS } from './format-vectors.js';
import { encodePayload } from '../model/ops.js';
import { openMemoryRemote } from './memory-remote.js';

export const SPACE_VECTOR_INPUTS = {
  // The personal vault and device of the main vectors.
  vaultId: '00112233445566778899aabbccddeeff',
  deviceId: '0102030405060708',
  deviceSignSeed: bytesToHex(fill(32, 0x11)),
  deviceBoxSecret: bytesToHex(fill(32, 0x22)),
  // The founder (the vault's person) and a second person.
  founderSecret: bytesToHex(fill(32, 0x61)),
  memberSecret: bytesToHex(fill(32, 0x62)),
  sealEphemeralSecret: bytesToHex(fill(32, 0x63)),
  spaceNonce: bytesToHex(fill(16, 0x64)),
  // Entry n of the chain is written at at + n: 1 create, 2 add the member as admin, 3 make them a writer, 4 remove them,
  // 5 add them again as a reader (all by the founder), 6 the member leaves.
  at: 1_767_236_400_000, // 2026-01-01T03:00:00Z
  memberRole: 'writer' as const,
  // Device certificate version 1 of the founder: the vector device and a second one.
  secondDeviceId: 'a0a1a2a3a4a5a6a7',
  secondDeviceSignSeed: bytesToHex(fill(32, 0x65)),
  secondDeviceBoxSecret: bytesToHex(fill(32, 0x66)),
  // Invite: the founder invites the member as a writer at entry 1, valid 10 minutes.
  inviteId: '717171717171',
  inviteSecret: bytesToHex(fill(11, 0x72)),
  inviteTtlMs: 600_000,
  inviterEphemeralSecret: bytesToHex(fill(32, 0x73)),
  offerNonce: bytesToHex(fill(12, 0x74)),
  inviteeEphemeralSecret: bytesToHex(fill(32, 0x75)),
  answerNonce: bytesToHex(fill(12, 0x76)),
  inviteeName: 'Bob',
  // Key epochs: epoch 0 after entry 1 (the founder's certificate version 1), sealed to the vector device; the founder's
  // certificate version 2 drops the second device; epoch 1 after entry 4 cuts it after its segment 9.
  epochKeys: [bytesToHex(fill(32, 0x67)), bytesToHex(fill(32, 0x69))],
  epochSealEphemeralSecret: bytesToHex(fill(32, 0x68)),
  epochCutLastSeq: 9,
  // A segment of the vector device in the space: seq 1 under epoch 0, written at membership entry 3 through the founder's
  // certificate version 1, with the payload of the main segment vector; then its head, acknowledging the second device's seq 9.
  spaceSegmentMembershipSeq: 3,
  spaceSegmentSalt: bytesToHex(fill(16, 0x6a)),
  spaceSegmentNonce: bytesToHex(fill(12, 0x6b)),
  spaceHeadAt: 1_767_240_000_000, // 2026-01-01T04:00:00Z
  spaceHeadPulledAt: 1_767_239_940_000,
};

export interface SpaceVectors {
  readonly founderPersonId: string;
  readonly founderSignPub: string;
  readonly founderBoxPub: string;
  readonly memberPersonId: string;
  readonly sealedIdentityPlace: string;
  readonly sealedIdentity: string;
  readonly spaceId: string;
  readonly membershipPlace: string;
  /** Entries 1–6 of the chain (see the inputs). */
  readonly membership: readonly string[];
  readonly membershipHashes: readonly string[];
  readonly deviceCertPlace: string;
  readonly deviceCert: string;
  readonly inviteCode: string;
  readonly invitePlace: string;
  readonly inviteOffer: string;
  readonly inviteAnswer: string;
  readonly inviteSas: string;
  readonly deviceCert2: string;
  readonly spaceEpochPlace: string;
  /** Epochs 0 and 1. */
  readonly spaceEpochs: readonly string[];
  readonly spaceEpochHashes: readonly string[];
  readonly spaceSealedKeyPlace: string;
  /** Epoch 0's key sealed to the vector device. */
  readonly spaceSealedKey: string;
  readonly spaceSegmentPlace: string;
  /** Version 2 segment (see the inputs); its compressed payload is the main vectors' `segmentCompressed`. */
  readonly spaceSegment: string;
  readonly spaceSegmentHash: string;
  readonly spaceHeadPlace: string;
  /** Version 4 head naming that segment, membership entry 6 and epoch 1. */
  readonly spaceHead: string;
}

/** The changes of entries 1–6, in order. */
export function spaceVectorChanges(): MembershipChange[] {
  const V = SPACE_VECTOR_INPUTS;
  const founder = personKeysFromSecret(hexToBytes(V.founderSecret));
  const member = personKeysFromSecret(hexToBytes(V.memberSecret));
  return [
    { kind: 'create', nonce: hexToBytes(V.spaceNonce), signPub: founder.signPub, boxPub: founder.boxPub },
    { kind: 'add', personId: member.personId, signPub: member.signPub, boxPub: member.boxPub, role: 'admin' },
    { kind: 'role', personId: member.personId, role: 'writer' },
    { kind: 'remove', personId: member.personId },
    { kind: 'add', personId: member.personId, signPub: member.signPub, boxPub: member.boxPub, role: 'reader' },
    { kind: 'leave' },
  ];
}

/** Who signs entry n (1-based): the founder, except the member's own leave. */
export const spaceVectorSigner = (seq: number): 'founder' | 'member' => (seq === 6 ? 'member' : 'founder');

export async function buildSpaceVectors(): Promise<SpaceVectors> {
  const V = SPACE_VECTOR_INPUTS;
  const founder = personKeysFromSecret(hexToBytes(V.founderSecret));
  const member = personKeysFromSecret(hexToBytes(V.memberSecret));
  const device = { sign: signingKeyFromSeed(hexToBytes(V.deviceSignSeed)), box: boxKeyFromSecret(hexToBytes(V.deviceBoxSecret)) };
  const second = { sign: signingKeyFromSeed(hexToBytes(V.secondDeviceSignSeed)), box: boxKeyFromSecret(hexToBytes(V.secondDeviceBoxSecret)) };
  const sealedIdentity = await sealIdentity({
    vaultId: V.vaultId,
    person: founder,
    recipientId: V.deviceId,
    recipientBoxPub: device.box.pub,
    signerId: V.deviceId,
    signerSeed: device.sign.seed,
    random: scripted(hexToBytes(V.sealEphemeralSecret)),
  });
  const spaceId = spaceIdOf(founder.signPub, hexToBytes(V.spaceNonce));
  const membership: string[] = [];
  const membershipHashes: string[] = [];
  let prevHash: Uint8Array = new Uint8Array(32);
  for (const [i, change] of spaceVectorChanges().entries()) {
    const seq = i + 1;
    const signer = spaceVectorSigner(seq) === 'founder' ? founder : member;
    const { bytes, hash } = await encodeMembershipEntry(spaceId, { seq, prevHash, at: V.at + seq, signer: signer.personId, change }, signer.sign.seed);
    membership.push(bytesToHex(bytes));
    membershipHashes.push(bytesToHex(hash));
    prevHash = hash;
  }
  const { bytes: cert, hash: certHash } = await encodeDeviceCert(
    {
      personId: founder.personId,
      version: 1,
      prevHash: new Uint8Array(32),
      at: V.at,
      devices: [
        { deviceId: V.deviceId, signPub: device.sign.pub, boxPub: device.box.pub },
        { deviceId: V.secondDeviceId, signPub: second.sign.pub, boxPub: second.box.pub },
      ],
    },
    founder,
  );
  const { bytes: cert2, hash: cert2Hash } = await encodeDeviceCert(
    {
      personId: founder.personId,
      version: 2,
      prevHash: certHash,
      at: V.at + 4,
      devices: [{ deviceId: V.deviceId, signPub: device.sign.pub, boxPub: device.box.pub }],
    },
    founder,
  );
  const epochKeys = V.epochKeys.map(hexToBytes);
  const epochs: SpaceEpochEntry[] = [
    {
      epoch: 0,
      prevHash: new Uint8Array(32),
      membershipSeq: 1,
      membershipHash: hexToBytes(membershipHashes[0]!),
      at: V.at + 1,
      signer: founder.personId,
      sealer: V.deviceId,
      keyCheck: epochKeyCheck(spaceId, 0, epochKeys[0]!),
      members: [{ personId: founder.personId, certVersion: 1, certHash }],
      cuts: [],
    },
  ];
  const epoch0 = await encodeSpaceEpoch(spaceId, epochs[0]!, founder.sign.seed);
  epochs.push({
    epoch: 1,
    prevHash: epoch0.hash,
    membershipSeq: 4,
    membershipHash: hexToBytes(membershipHashes[3]!),
    at: V.at + 4,
    signer: founder.personId,
    sealer: V.deviceId,
    keyCheck: epochKeyCheck(spaceId, 1, epochKeys[1]!),
    members: [{ personId: founder.personId, certVersion: 2, certHash: cert2Hash }],
    cuts: [{ deviceId: V.secondDeviceId, lastSeq: V.epochCutLastSeq }],
  });
  const epoch1 = await encodeSpaceEpoch(spaceId, epochs[1]!, founder.sign.seed);
  const sealedKey = await sealEpochKey({
    vaultId: spaceId,
    epoch: 0,
    recipientId: V.deviceId,
    recipientBoxPub: device.box.pub,
    epochKey: epochKeys[0]!,
    signerId: V.deviceId,
    signerSeed: device.sign.seed,
    random: scripted(hexToBytes(V.epochSealEphemeralSecret)),
  });
  const segment = await encodeSegment({
    vaultId: spaceId,
    deviceId: V.deviceId,
    epoch: 0,
    seq: 1,
    prevHash: new Uint8Array(32),
    payload: encodePayload(VECTOR_INPUTS.ops),
    epochKey: epochKeys[0]!,
    signSeed: device.sign.seed,
    random: scripted(hexToBytes(V.spaceSegmentSalt), hexToBytes(V.spaceSegmentNonce)),
    space: { personId: founder.personId, membershipSeq: V.spaceSegmentMembershipSeq, certVersion: 1 },
  });
  const head = await encodeSpaceHead(
    spaceId,
    {
      deviceId: V.deviceId,
      seq: 1,
      hash: segment.hash,
      personId: founder.personId,
      certVersion: 1,
      membershipSeq: 6,
      membershipHash: hexToBytes(membershipHashes[5]!),
      epochs: 2,
      epochHash: epoch1.hash,
      at: V.spaceHeadAt,
      acks: { pulledAt: V.spaceHeadPulledAt, applied: new Map([[V.secondDeviceId, V.epochCutLastSeq]]) },
    },
    device.sign.seed,
  );
  // The invite runs through a memory remote with scripted randomness and a fixed clock.
  const remote = openMemoryRemote();
  const now = () => V.at;
  const invite = await offerInvite(
    remote,
    { spaceId, role: V.memberRole, admin: founder, chain: { seq: 1, hash: hexToBytes(membershipHashes[0]!) }, ttlMs: V.inviteTtlMs },
    {
      now,
      random: scripted(hexToBytes(V.inviteId), hexToBytes(V.inviteSecret), hexToBytes(V.inviterEphemeralSecret), hexToBytes(V.offerNonce)),
    },
  );
  const offerBytes = (await remote.get(inviteKey(invite.c.inviteId, 'offer')))!;
  await answerInvite(remote, invite.code, member, V.inviteeName, {
    now,
    random: scripted(hexToBytes(V.inviteeEphemeralSecret), hexToBytes(V.answerNonce)),
  });
  const answerBytes = (await remote.get(inviteKey(invite.c.inviteId, 'answer')))!;
  const answer = (await readInviteAnswer(remote, invite, { now, random: scripted() }))!;
  return {
    founderPersonId: founder.personId,
    founderSignPub: bytesToHex(founder.signPub),
    founderBoxPub: bytesToHex(founder.boxPub),
    memberPersonId: member.personId,
    sealedIdentityPlace: sealedIdentityKey(V.deviceId),
    sealedIdentity: bytesToHex(sealedIdentity),
    spaceId,
    membershipPlace: membershipKey(1),
    membership,
    membershipHashes,
    deviceCertPlace: deviceCertKey(founder.personId, 1),
    deviceCert: bytesToHex(cert),
    inviteCode: invite.code,
    invitePlace: inviteKey(invite.c.inviteId, 'offer'),
    inviteOffer: bytesToHex(offerBytes),
    inviteAnswer: bytesToHex(answerBytes),
    inviteSas: answer.sas,
    deviceCert2: bytesToHex(cert2),
    spaceEpochPlace: spaceEpochKey(0),
    spaceEpochs: [bytesToHex(epoch0.bytes), bytesToHex(epoch1.bytes)],
    spaceEpochHashes: [bytesToHex(epoch0.hash), bytesToHex(epoch1.hash)],
    spaceSealedKeyPlace: spaceSealedKeyKey(epochs[0]!, V.deviceId),
    spaceSealedKey: bytesToHex(sealedKey),
    spaceSegmentPlace: spaceSegmentKey(V.deviceId, 1),
    spaceSegment: bytesToHex(segment.bytes),
    spaceSegmentHash: bytesToHex(segment.hash),
    spaceHeadPlace: spaceHeadKey(V.deviceId),
    spaceHead: bytesToHex(head),
  };
}
