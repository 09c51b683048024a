/**
 * @module spaces/space-segments
 * A shared space's data: each device's chain of segments (`S` version 2 at
 * `segments/<deviceId>/<seq>` under the space's root) and its head (`H`
 * version 4 at `heads/<deviceId>`). A segment names its writer's person,
 * the membership seq and certificate version it was written under and the
 * epoch whose key encrypts it, so every reader runs `checkSpaceWriter`
 * before decrypting anything: a reader's segment, a removed member's, or a
 * cut device's after its cut is refused by every member, whatever its
 * signature. The writer refuses locally first (KITH_FORBIDDEN,
 * KITH_REMOVED). See docs/FORMAT.md "Space segment and head".
 *
 * Modules over a Remote with explicit chain positions; the Vault keeps
 * them in its store when spaces are wired in.
 */
import type { Clock, RandomBytes } from '../base/deps.js';
import { ErrorCode, KithError, isIntegrityError } from '../base/errors.js';
import { bytesEqual } from '../crypto/index.js';
import type { HeadAcks } from '../format/head.js';
import { remoteKeys } from '../format/remote-keys.js';
import { decodeSegment, encodeSegment, peekSegmentEpoch, MAX_SEGMENT_PAYLOAD, type SegmentWriterClaim } from '../format/segment.js';
import { decodePayload, encodePayload, type Op } from '../model/ops.js';
import { putIfAbsentHolds } from '../ports/put-if-absent.js';
import type { Remote } from '../ports/remote.js';
import { assertDeviceOfOne } from './device-cert.js';
import type { EpochPin } from './epochs.js';
import { openSpaceEpochKey } from './epochs.js';
import type { MembershipPin } from './membership.js';
import type { PersonKeys } from './person.js';
import { decodeSpaceHead, encodeSpaceHead, spaceHeadKey, SPACE_HEADS_PREFIX, type SpaceHead } from './space-head.js';
import type { SpaceState } from './space-state.js';
import { ownCutRefusal, rewindOwnChain } from './own-refusal.js';
import { checkSpaceWriter } from './writer.js';

const ZERO_HASH = new Uint8Array(32);

/** Where a device's segment lives under the space's root (the personal layout, relative to the root). */
export const spaceSegmentKey = (deviceId: string, seq: number): string => remoteKeys.segment(deviceId, seq);

/** A device acting in a space: its person's keys and its own. */
export interface SpaceDevice {
  readonly person: PersonKeys;
  readonly deviceId: string;
  readonly signSeed: Uint8Array;
  readonly boxSecret: Uint8Array;
}

/** A position in one device's chain of segments in the space: seq 0 and zero hash before its first. */
export interface SpaceChainPos {
  readonly seq: number;
  readonly hash: Uint8Array;
}
export const SPACE_CHAIN_START: SpaceChainPos = { seq: 0, hash: ZERO_HASH };

const when = (at: number): string => new Date(at).toISOString();

/**
 * KITH_REMOVED when the person was a member and is not any more (naming
 * who removed them and when), KITH_FORBIDDEN when they never were.
 */
export function assertMember(state: SpaceState, personId: string): void {
  if (state.m.member(personId)) return;
  const gone = state.m.removal(personId);
  if (!gone) {
    throw new KithError(ErrorCode.Forbidden, `you are not a member of space ${state.spaceId}`, {
      hint: 'ask an admin of the space for an invite',
      reason: 'not-a-member',
    });
  }
  const left = gone.by === personId;
  throw new KithError(
    ErrorCode.Removed,
    left
      ? `you left space ${state.spaceId} (membership entry ${gone.seq}, ${when(gone.at)})`
      : `you were removed from space ${state.spaceId} by ${gone.by} (membership entry ${gone.seq}, ${when(gone.at)})`,
    {
      hint: 'you can no longer read new data of the space or write to it; ask an admin for a new invite',
      reason: left ? 'left' : 'removed',
    },
  );
}

/** KITH_REVOKED when the device is not in its person's newest certificate (the person dropped it). */
function assertCertified(state: SpaceState, me: { readonly personId: string; readonly deviceId: string }): number {
  const certs = state.certs(me.personId)!;
  if (certs.version === 0 || !certs.deviceAt(me.deviceId, certs.version)) {
    throw new KithError(ErrorCode.Revoked, `this device is not among its person’s devices in space ${state.spaceId}`, {
      hint: 'it was removed from its person’s devices (or not added yet); add it again from another of their devices',
      reason: 'space-device-uncertified',
    });
  }
  return certs.version;
}

/**
 * Refuses locally, before anything is sent, a write the members would
 * refuse: KITH_REMOVED for a removed member, KITH_FORBIDDEN for a reader
 * or a non-member, KITH_REVOKED for a device its person dropped.
 */
export function assertMayWrite(state: SpaceState, me: { readonly personId: string; readonly deviceId: string }): void {
  assertMember(state, me.personId);
  const role = state.m.member(me.personId)!.role;
  if (role === 'reader') {
    throw new KithError(ErrorCode.Forbidden, `you are a reader of space ${state.spaceId}: you cannot write to it`, {
      hint: 'ask an admin of the space to make you a writer',
      reason: 'reader',
    });
  }
  assertCertified(state, me);
}

export interface PushSpaceSegmentArgs {
  readonly state: SpaceState;
  readonly me: SpaceDevice;
  readonly ops: readonly Op[];
  /** The device's chain so far ({@link SPACE_CHAIN_START} before its first segment). */
  readonly chain: SpaceChainPos;
  /** What the head acknowledges of other devices' chains (default: nothing). */
  readonly acks?: HeadAcks;
}

/**
 * Catches the space up, refuses locally what members would refuse (see
 * {@link assertMayWrite}), then writes the next segment under the current
 * epoch at the newest membership seq and certificate version, and the
 * device's head. Returns the new chain position.
 */
export async function pushSpaceSegment(remote: Remote, a: PushSpaceSegmentArgs, deps: { random: RandomBytes; now: Clock }): Promise<SpaceChainPos> {
  const { state, me } = a;
  await state.refresh(remote);
  assertMayWrite(state, { personId: me.person.personId, deviceId: me.deviceId });
  const epoch = state.epochs.current;
  if (!epoch) throw new KithError(ErrorCode.BadInput, `space ${state.spaceId} has no key epoch yet`);
  const epochKey = await openSpaceEpochKey(remote, {
    m: state.m,
    epochs: state.epochs,
    certs: state.certs,
    epoch: epoch.epoch,
    deviceId: me.deviceId,
    boxSecret: me.boxSecret,
  });
  if (!epochKey) {
    throw new KithError(ErrorCode.Forbidden, `the key of epoch ${epoch.epoch} of space ${state.spaceId} was not shared with this device yet`, {
      hint: 'wait until another member’s device has synced the space, then try again',
      reason: 'no-epoch-key',
    });
  }
  // Segments of this device past its person's cut would stop every later one for the readers: taken back first.
  const chain = await rewindOwnChain(remote, state, { personId: me.person.personId, deviceId: me.deviceId }, a.chain);
  return writeSpaceSegment(remote, { ...a, chain, epoch: epoch.epoch, epochKey }, deps);
}

/**
 * Writes a segment and the head with no local checks (the caller made
 * them): {@link pushSpaceSegment}'s second half, and what tests use to
 * forge what a modified client could write.
 */
export async function writeSpaceSegment(
  remote: Remote,
  a: PushSpaceSegmentArgs & { readonly epoch: number; readonly epochKey: Uint8Array; readonly membershipSeq?: number; readonly certVersion?: number },
  deps: { random: RandomBytes; now: Clock },
): Promise<SpaceChainPos> {
  const { state, me } = a;
  const personId = me.person.personId;
  const membershipSeq = a.membershipSeq ?? state.m.seq;
  const certVersion = a.certVersion ?? state.certs(personId)?.version ?? 0;
  const seq = a.chain.seq + 1;
  const { bytes, hash } = await encodeSegment({
    vaultId: state.spaceId,
    deviceId: me.deviceId,
    epoch: a.epoch,
    seq,
    prevHash: a.chain.hash,
    payload: encodePayload(a.ops),
    epochKey: a.epochKey,
    signSeed: me.signSeed,
    random: deps.random,
    space: { personId, membershipSeq, certVersion },
  });
  const key = spaceSegmentKey(me.deviceId, seq);
  // Another segment there means the chain given is behind the remote's: a head naming ours would break the chain for readers.
  if (!(await putIfAbsentHolds(remote, key, bytes))) {
    throw new KithError(ErrorCode.BadInput, `segment ${me.deviceId}/${seq} of the space already holds another segment: the chain position given is behind`, {
      hint: 'continue from the device’s newest segment in the space',
    });
  }
  const head: SpaceHead = {
    deviceId: me.deviceId,
    seq,
    hash,
    personId,
    certVersion,
    membershipSeq: state.m.seq,
    membershipHash: state.m.hash,
    epochs: state.epochs.count,
    epochHash: state.epochs.pin.hash,
    at: deps.now(),
    acks: a.acks ?? { pulledAt: 0, applied: new Map() },
  };
  await remote.put(spaceHeadKey(me.deviceId), await encodeSpaceHead(state.spaceId, head, me.signSeed));
  return { seq, hash };
}

/** A reader's position in one writer device's chain: what it applied, and the last op stamp (stamps only increase). */
export interface SpaceCursor extends SpaceChainPos {
  readonly lastStamp?: string;
}

/** One verified segment of another device. */
export interface SpaceSegmentRead {
  readonly deviceId: string;
  readonly personId: string;
  readonly seq: number;
  readonly epoch: number;
  readonly membershipSeq: number;
  readonly ops: Op[];
}

export interface SpaceReadResult {
  /** Verified segments in each device's chain order, devices in id order. */
  readonly segments: SpaceSegmentRead[];
  /** The cursors after them (unchanged for a device with nothing new). */
  readonly cursors: Map<string, SpaceCursor>;
  /** Per device, what stopped its chain: nothing after it was applied. */
  readonly refused: { readonly deviceId: string; readonly seq: number; readonly error: KithError }[];
}

export interface ReadSpaceSegmentsArgs {
  readonly state: SpaceState;
  readonly me: { readonly personId: string; readonly deviceId: string; readonly boxSecret: Uint8Array };
  /** Where the reader stands in each writer's chain (absent: from the start). */
  readonly cursors?: ReadonlyMap<string, SpaceCursor>;
  /** Positions verified before: a shorter or forked chain is a rollback or a fork. */
  readonly pins?: { readonly membership?: MembershipPin; readonly epochs?: EpochPin };
}

/**
 * Catches the space up (membership, certificates, epochs), then reads
 * every other device's new segments through its head, verifying for each:
 * its place (moved or replayed: KITH_INTEGRITY_CHAIN), its writer's right
 * at the membership seq, certificate version and epoch it names
 * (`checkSpaceWriter`: KITH_INTEGRITY_UNKNOWN_SIGNER), its signature,
 * its chain (KITH_INTEGRITY_CHAIN), the epoch key and its payload. A head
 * behind the reader's cursor is a rollback. A device whose chain breaks is
 * listed in `refused` and read no further; the others still are. A removed
 * member gets KITH_REMOVED, a device its person dropped KITH_REVOKED.
 */
export async function readSpaceSegments(remote: Remote, a: ReadSpaceSegmentsArgs): Promise<SpaceReadResult> {
  const { state, me } = a;
  await state.refresh(remote);
  if (a.pins?.membership) state.m.checkPin(a.pins.membership);
  if (a.pins?.epochs) state.epochs.checkPin(a.pins.epochs);
  assertMember(state, me.personId);
  assertCertified(state, me);
  const cursors = new Map(a.cursors ?? []);
  const keys = new Map<number, Uint8Array | null>();
  const keyOf = async (epoch: number): Promise<Uint8Array | null> => {
    if (!keys.has(epoch) && state.epochs.entry(epoch)) {
      keys.set(
        epoch,
        await openSpaceEpochKey(remote, { m: state.m, epochs: state.epochs, certs: state.certs, epoch, deviceId: me.deviceId, boxSecret: me.boxSecret }),
      );
    }
    return keys.get(epoch) ?? null;
  };
  const segments: SpaceSegmentRead[] = [];
  const refused: SpaceReadResult['refused'] = [];
  const devices = (await remote.list(SPACE_HEADS_PREFIX))
    .map((o) => o.key.slice(SPACE_HEADS_PREFIX.length))
    .filter((d) => /^[0-9a-f]{16}$/.test(d) && d !== me.deviceId)
    .sort();
  for (const deviceId of devices) {
    let cursor = cursors.get(deviceId) ?? SPACE_CHAIN_START;
    try {
      const headBytes = await remote.get(spaceHeadKey(deviceId));
      if (!headBytes) continue;
      const head = await decodeSpaceHead(headBytes, { spaceId: state.spaceId, deviceId, signPub: (p, v) => deviceKey(state, p, deviceId, v) });
      checkHeadPositions(state, head);
      if (head.seq < cursor.seq) {
        throw new KithError(
          ErrorCode.IntegrityRollback,
          `the head of device ${deviceId} in the space names segment ${head.seq}, behind ${cursor.seq} already read`,
          {
            hint: 'the remote is serving an older head; use another copy of the remote',
          },
        );
      }
      if (head.seq === cursor.seq && !bytesEqual(head.hash, cursor.hash)) {
        throw new KithError(
          ErrorCode.IntegrityChain,
          `the head of device ${deviceId} in the space names another segment ${head.seq} than the one read: a fork`,
        );
      }
      for (let seq = cursor.seq + 1; seq <= head.seq; seq++) {
        const read = await readOne(remote, state, deviceId, seq, cursor, keyOf);
        segments.push(read.segment);
        cursor = read.cursor;
        cursors.set(deviceId, cursor);
      }
    } catch (e) {
      if (!isIntegrityError(e) && !KithError.is(e, ErrorCode.Forbidden)) throw e;
      refused.push({ deviceId, seq: cursor.seq + 1, error: e });
    }
  }
  // This device's own writes that raced the end of its person's right to write: others refuse them (said, not lost silently).
  const own = await ownCutRefusal(remote, state, me).catch((e: unknown) => {
    if (isIntegrityError(e)) return undefined;
    throw e;
  });
  if (own) refused.push(own);
  return { segments, cursors, refused };
}

/** What verifying a device's objects in a space needs: a verified membership chain, certificates and epochs. */
export type SpaceView = Pick<SpaceState, 'm' | 'epochs' | 'certs'>;

/** The key of `deviceId` in version `v` of the person's certificate (KITH_INTEGRITY_UNKNOWN_SIGNER if none, or if another person certifies the device too). */
export function deviceKey(state: SpaceView, personId: string, deviceId: string, v: number): Uint8Array {
  assertDeviceOfOne(state.m.everyone(), state.certs, personId, deviceId);
  const d = state.certs(personId)?.deviceAt(deviceId, v);
  if (!d) {
    throw new KithError(ErrorCode.IntegrityUnknownSigner, `device ${deviceId} is not in version ${v} of the device certificate of ${personId}`, {
      hint: 'an object in the space was written by a device of no member; remove it',
      reason: 'not-certified',
    });
  }
  return d.signPub;
}

/** A head names positions of the membership and epoch chains: the reader must hold them, with the same hashes. */
export function checkHeadPositions(state: SpaceView, head: SpaceHead): void {
  const who = `the head of device ${head.deviceId} in the space`;
  const m = state.m.hashAt(head.membershipSeq) ?? (head.membershipSeq === 0 ? ZERO_HASH : undefined);
  if (!m || !bytesEqual(m, head.membershipHash)) {
    throw new KithError(ErrorCode.IntegrityChain, `${who} names membership entry ${head.membershipSeq}, which this chain does not hold`, {
      hint: 'the remote is withholding or replacing membership entries; use another copy of the remote',
    });
  }
  const e = head.epochs === 0 ? ZERO_HASH : state.epochs.hashAt(head.epochs - 1);
  if (!e || !bytesEqual(e, head.epochHash)) {
    throw new KithError(ErrorCode.IntegrityChain, `${who} names key epoch ${head.epochs - 1}, which this chain does not hold`, {
      hint: 'the remote is withholding or replacing key epochs; use another copy of the remote',
    });
  }
}

async function readOne(
  remote: Remote,
  state: SpaceState,
  deviceId: string,
  seq: number,
  cursor: SpaceCursor,
  keyOf: (epoch: number) => Promise<Uint8Array | null>,
): Promise<{ segment: SpaceSegmentRead; cursor: SpaceCursor }> {
  const bytes = await remote.get(spaceSegmentKey(deviceId, seq));
  if (!bytes) throw new KithError(ErrorCode.IntegrityWithheld, `segment ${deviceId}/${seq} of the space is missing, though its device’s head names it`);
  const epoch = peekSegmentEpoch(bytes);
  const epochKey = epoch === undefined ? null : await keyOf(epoch);
  const seg = await decodeSegment(bytes, {
    vaultId: state.spaceId,
    deviceId,
    seq,
    space: true,
    signPub: (c: SegmentWriterClaim) => {
      const signPub = deviceKey(state, c.personId, deviceId, c.certVersion);
      checkSpaceWriter(state.m, state.certs(c.personId)!, state.epochs, { ...c, signPub, segmentSeq: c.seq });
      return signPub;
    },
    epochKey: (e) => {
      if (epochKey) return epochKey;
      throw new KithError(ErrorCode.Forbidden, `segment ${deviceId}/${seq} is under epoch ${e} of the space, whose key this device was not given`, {
        hint: 'the space’s key of that epoch was never shared with this device',
        reason: 'no-epoch-key',
      });
    },
    maxPayloadBytes: MAX_SEGMENT_PAYLOAD,
  });
  if (!bytesEqual(seg.prevHash, cursor.hash)) {
    throw new KithError(ErrorCode.IntegrityChain, `segment ${deviceId}/${seq} of the space does not follow segment ${seq - 1}: its chain was broken`, {
      hint: 'the remote is serving a replaced segment; restore the right one',
    });
  }
  const ops = decodePayload(seg.payload, cursor.lastStamp);
  const lastStamp = ops.length > 0 ? ops[ops.length - 1]!.t : cursor.lastStamp;
  const space = seg.space!;
  return {
    segment: { deviceId, personId: space.personId, seq, epoch: seg.epoch, membershipSeq: space.membershipSeq, ops },
    cursor: lastStamp === undefined ? { seq, hash: seg.hash } : { seq, hash: seg.hash, lastStamp },
  };
}
