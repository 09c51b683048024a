/**
 * @module spaces/space-head
 * `heads/<deviceId>` under a space's root: the head of one device's chain
 * of segments in the space, as a head object (`H`) of version 4. Beside
 * the personal head's fields it names the writer's person and certificate
 * version (so readers find the signing key) and, in place of the registry
 * position, the membership entry and key epoch the device had verified: a
 * reader insists on at least that much of both, so a remote that withholds
 * a removal or an epoch is caught. See docs/FORMAT.md "Space segment and head".
 */
import { ObjectReader, ObjectType, ObjectWriter, corrupt } from '../format/framing.js';
import { HEAD_DOMAIN, readAcks, writeAcks, type HeadAcks } from '../format/head.js';

/** Heads in a shared space are version 4; personal heads stay at 1–3. */
export const SPACE_HEAD_VERSION = 4;

export interface SpaceHead {
  readonly deviceId: string;
  /** The device's newest segment in the space (0: none yet) and its hash (zero then). */
  readonly seq: number;
  readonly hash: Uint8Array;
  readonly personId: string;
  /** The version of the person's certificate that lists the device, whose key signs the head. */
  readonly certVersion: number;
  /** The membership position the device had verified. */
  readonly membershipSeq: number;
  readonly membershipHash: Uint8Array;
  /** The number of key epochs the device had verified, and the newest one's hash (zero when none). */
  readonly epochs: number;
  readonly epochHash: Uint8Array;
  /** When it wrote the head (ms, its own clock). */
  readonly at: number;
  readonly acks: HeadAcks;
}

export const spaceHeadKey = (deviceId: string): string => `heads/${deviceId}`;
export const SPACE_HEADS_PREFIX = 'heads/';

export function encodeSpaceHead(spaceId: string, h: SpaceHead, signSeed: Uint8Array): Promise<Uint8Array> {
  const w = new ObjectWriter(ObjectType.Head, SPACE_HEAD_VERSION)
    .hex(h.deviceId, 8)
    .u64(h.seq)
    .bytes(h.hash)
    .hex(h.personId, 16)
    .u64(h.certVersion)
    .u64(h.membershipSeq)
    .bytes(h.membershipHash)
    .u32(h.epochs)
    .bytes(h.epochHash)
    .u64(h.at);
  writeAcks(w, h.deviceId, h.acks);
  return w.sign(HEAD_DOMAIN, spaceId, signSeed);
}

/**
 * Decodes a space head; `signPub` finds the key of the device at the
 * person's certificate version the head names (it throws if there is none).
 */
export async function decodeSpaceHead(
  bytes: Uint8Array,
  a: { readonly spaceId: string; readonly deviceId: string; readonly signPub: (personId: string, certVersion: number) => Uint8Array },
): Promise<SpaceHead> {
  const what = `head of device ${a.deviceId} in the space`;
  const r = new ObjectReader(bytes, what, ObjectType.Head, [SPACE_HEAD_VERSION]);
  const deviceId = r.hex(8);
  if (deviceId !== a.deviceId) throw corrupt(what, `it names device ${deviceId}`);
  const seq = r.u64();
  const hash = r.take(32).slice();
  const personId = r.hex(16);
  const certVersion = r.u64();
  const membershipSeq = r.u64();
  const membershipHash = r.take(32).slice();
  const epochs = r.u32();
  const epochHash = r.take(32).slice();
  const at = r.u64();
  const acks = readAcks(r, deviceId);
  await r.verify(HEAD_DOMAIN, a.spaceId, a.signPub(personId, certVersion));
  return { deviceId, seq, hash, personId, certVersion, membershipSeq, membershipHash, epochs, epochHash, at, acks };
}
