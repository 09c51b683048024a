/**
 * @module spaces/epoch-entry
 * `epochs/<epoch>` in a space: the signed entry that starts one key epoch
 * of the space (type `E`). It names the membership entry it follows and,
 * for every member at that point, the version of their device certificate
 * it sealed to, so any member can check that the right person started it
 * and which devices it had to reach. Entries chain by hash like the
 * membership chain. See docs/FORMAT.md "Space epoch".
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { bytesEqual, sha256 } from '../crypto/index.js';
import { ObjectReader, ObjectType, ObjectWriter, corrupt } from '../format/framing.js';

export const SPACE_EPOCH_DOMAIN = 'kith/v1/space-epoch';
/** Most members (and most cut devices) one entry lists. */
export const MAX_EPOCH_MEMBERS = 4096;

/** A member at the entry's membership seq and the certificate version the epoch was sealed through (0: they had none yet). */
export interface EpochMember {
  readonly personId: string;
  readonly certVersion: number;
  /** SHA-256 of that certificate; 32 zero bytes for version 0. */
  readonly certHash: Uint8Array;
}

/** A device the previous epoch reached and this one does not, with the last segment seq it may still have written. */
export interface EpochCut {
  readonly deviceId: string;
  readonly lastSeq: number;
}

export interface SpaceEpochEntry {
  readonly epoch: number;
  readonly prevHash: Uint8Array;
  /** The membership entry the epoch follows, and its hash. */
  readonly membershipSeq: number;
  readonly membershipHash: Uint8Array;
  readonly at: number;
  /** The person who started the epoch (their identity key signs the entry). */
  readonly signer: string;
  /** The signer's device that sealed the epoch key (signs the sealed keys). */
  readonly sealer: string;
  /** The key check (format/sealed-key.ts epochKeyCheck, the spaceId in the vaultId slot). */
  readonly keyCheck: Uint8Array;
  /** In ascending personId order. */
  readonly members: readonly EpochMember[];
  /** In ascending deviceId order. */
  readonly cuts: readonly EpochCut[];
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');
export const spaceEpochKey = (epoch: number): string => `epochs/${pad(epoch, 10)}`;

const ascending = <T>(xs: readonly T[], id: (x: T) => string): boolean => xs.every((x, i) => i === 0 || id(xs[i - 1]!) < id(x));

export async function encodeSpaceEpoch(spaceId: string, e: SpaceEpochEntry, signerSeed: Uint8Array): Promise<{ bytes: Uint8Array; hash: Uint8Array }> {
  if (e.members.length > MAX_EPOCH_MEMBERS || e.cuts.length > MAX_EPOCH_MEMBERS)
    throw new KithError(ErrorCode.TooLarge, `an epoch lists at most ${MAX_EPOCH_MEMBERS} members and cut devices`);
  if (!ascending(e.members, (m) => m.personId) || !ascending(e.cuts, (c) => c.deviceId))
    throw new KithError(ErrorCode.Internal, 'internal error: epoch members and cuts go in strictly ascending order');
  const w = new ObjectWriter(ObjectType.SpaceEpoch)
    .u32(e.epoch)
    .bytes(e.prevHash)
    .u64(e.membershipSeq)
    .bytes(e.membershipHash)
    .u64(e.at)
    .hex(e.signer, 16)
    .hex(e.sealer, 8)
    .bytes(e.keyCheck)
    .u32(e.members.length);
  for (const m of e.members) w.hex(m.personId, 16).u64(m.certVersion).bytes(m.certHash);
  w.u32(e.cuts.length);
  for (const c of e.cuts) w.hex(c.deviceId, 8).u64(c.lastSeq);
  const bytes = await w.sign(SPACE_EPOCH_DOMAIN, spaceId, signerSeed);
  return { bytes, hash: await sha256(bytes) };
}

/**
 * Decodes the entry of epoch `expect.epoch` and checks its place (epoch,
 * prevHash), its framing and its signature by `signerPub(signer,
 * membershipSeq)` (undefined: not a member at that seq). What the entry
 * claims about the membership and the certificates is the caller's check
 * (spaces/epochs.ts).
 */
export async function decodeSpaceEpoch(
  bytes: Uint8Array,
  expect: { readonly spaceId: string; readonly epoch: number; readonly prevHash: Uint8Array },
  signerPub: (personId: string, membershipSeq: number) => Uint8Array | undefined,
): Promise<{ entry: SpaceEpochEntry; hash: Uint8Array }> {
  const what = `space epoch ${expect.epoch}`;
  const r = new ObjectReader(bytes, what, ObjectType.SpaceEpoch);
  const epoch = r.u32();
  const prevHash = r.take(32).slice();
  if (epoch !== expect.epoch) throw new KithError(ErrorCode.IntegrityChain, `${what} holds epoch ${epoch}: the epochs were reordered or replayed`);
  if (!bytesEqual(prevHash, expect.prevHash)) throw new KithError(ErrorCode.IntegrityChain, `${what} does not follow epoch ${epoch - 1}: it was altered`);
  const membershipSeq = r.u64();
  const membershipHash = r.take(32).slice();
  const at = r.u64();
  const signer = r.hex(16);
  const sealer = r.hex(8);
  const keyCheck = r.take(32).slice();
  const n = r.u32();
  if (n > MAX_EPOCH_MEMBERS) throw corrupt(what, 'too many members');
  const members: EpochMember[] = [];
  for (let i = 0; i < n; i++) members.push({ personId: r.hex(16), certVersion: r.u64(), certHash: r.take(32).slice() });
  const k = r.u32();
  if (k > MAX_EPOCH_MEMBERS) throw corrupt(what, 'too many cut devices');
  const cuts: EpochCut[] = [];
  for (let i = 0; i < k; i++) cuts.push({ deviceId: r.hex(8), lastSeq: r.u64() });
  if (!ascending(members, (m) => m.personId)) throw corrupt(what, 'members are not in strictly ascending order');
  if (!ascending(cuts, (c) => c.deviceId)) throw corrupt(what, 'cut devices are not in strictly ascending order');
  const pub = signerPub(signer, membershipSeq);
  if (!pub) {
    throw new KithError(ErrorCode.IntegrityUnknownSigner, `${what} is signed by ${signer}, who is not a member of the space at entry ${membershipSeq}`, {
      hint: 'someone without the right to tried to start a key epoch; remove the object',
    });
  }
  await r.verify(SPACE_EPOCH_DOMAIN, expect.spaceId, pub);
  return { entry: { epoch, prevHash, membershipSeq, membershipHash, at, signer, sealer, keyCheck, members, cuts }, hash: await sha256(bytes) };
}
