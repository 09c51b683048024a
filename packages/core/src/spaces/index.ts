/**
 * @module @kith/core/spaces
 * Shared spaces: person identities, the membership chain, device
 * certificates, invites, key epochs and the space's segments and heads
 * (docs/FORMAT.md "Person identity" to "Space segment and head"). Not yet
 * wired into the Vault: the next layer opens spaces from a vault.
 * Isomorphic, like the rest of the core.
 */
export {
  newPersonKeys,
  personKeysFromSecret,
  personIdOf,
  isPersonConsistent,
  sealIdentity,
  openIdentity,
  publishIdentity,
  readOwnIdentity,
  sealedIdentityKey,
  type PersonPublic,
  type PersonKeys,
  type SealIdentityArgs,
  type OpenIdentityArgs,
} from './person.js';
export {
  ROLES,
  spaceIdOf,
  membershipKey,
  encodeMembershipEntry,
  decodeMembershipEntry,
  type Role,
  type MembershipChange,
  type MembershipEntry,
  type PersonCutDevice,
} from './membership-entry.js';
export { Membership, createSpace, appendMembership, type Member, type MembershipIntent, type MembershipPin, type AppendResult } from './membership.js';
export {
  DeviceCertificates,
  encodeDeviceCert,
  decodeDeviceCert,
  publishDeviceCert,
  deviceCertKey,
  otherCertifier,
  MAX_CERT_DEVICES,
  type CertifiedDevice,
  type DeviceCertificate,
} from './device-cert.js';
export {
  generateInviteCode,
  parseInviteCode,
  inviteKey,
  offerInvite,
  readInviteAnswer,
  closeInvite,
  inviteClosed,
  answerInvite,
  readInviteDone,
  checkAdmission,
  inviteExpiresKey,
  INVITE_SWEEP_GRACE_MS,
  MAX_INVITEE_NAME_BYTES,
  type InviteCode,
  type PendingInvite,
  type OfferOptions,
  type InviteAnswer,
  type PendingJoin,
  type InviteMessage,
  type InviteRefusal,
} from './invite.js';
export { removeInvite, sweepInvites } from './invite-sweep.js';
export { encodeSpaceEpoch, decodeSpaceEpoch, spaceEpochKey, MAX_EPOCH_MEMBERS, type SpaceEpochEntry, type EpochMember, type EpochCut } from './epoch-entry.js';
export { SpaceEpochs, openSpaceEpochKey, shareEpochKey, checkEpochSeals, spaceSealedKeyKey, type CertsOf, type EpochPin, type EpochActor } from './epochs.js';
export { startEpoch, type StartEpochArgs, type StartEpochResult } from './epoch-start.js';
export { SpaceState } from './space-state.js';
export type { LastSeqOf } from './person-cut.js';
export { verifySealedKey } from '../format/sealed-key.js';
export { checkWriter, checkSpaceWriter, type WriterClaim, type SpaceWriterClaim } from './writer.js';
export {
  pushSpaceSegment,
  readSpaceSegments,
  assertMayWrite,
  spaceSegmentKey,
  SPACE_CHAIN_START,
  type SpaceDevice,
  type SpaceChainPos,
  type SpaceCursor,
  type SpaceSegmentRead,
  type SpaceReadResult,
  type PushSpaceSegmentArgs,
  type ReadSpaceSegmentsArgs,
} from './space-segments.js';
export { encodeSpaceHead, decodeSpaceHead, spaceHeadKey, SPACE_HEAD_VERSION, type SpaceHead } from './space-head.js';
export { peekSpaceSegmentClaim } from './relay-segment-claim.js';
export type { SegmentWriterClaim } from '../format/segment.js';
export {
  createSharedSpace,
  certifyOwnDevices,
  keepSpaceKeys,
  shareKeysWithNewDevices,
  currentSpaceKey,
  setMemberRole,
  removeMember,
  leaveSpace,
  signInToSpace,
  type SpaceActor,
  type OwnDevices,
  type SpaceOpsDeps,
  type KeepKeysResult,
} from './space-ops.js';
export { adminInvite, joinInvite, type AdminInviteOptions, type AdminInviteResult, type JoinInviteOptions, type JoinInviteResult } from './invite-flow.js';
