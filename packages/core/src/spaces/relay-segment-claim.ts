/**
 * @module spaces/relay-segment-claim
 * What a space's segment (`S` version 2) says of its writer, read from its
 * header alone: what a relay checks before it stores the segment, without
 * any key to verify or open it (FORMAT.md "Space segment and head").
 * Unverified: the caller checks the claims against the chains it holds.
 */
import { ObjectReader, ObjectType, corrupt } from '../format/framing.js';
import type { SegmentWriterClaim } from '../format/segment.js';

const SPACE_SEGMENT_VERSION = 2;

/** The writer's claims in a space segment's header; KITH_INTEGRITY_CORRUPT (or KITH_UNSUPPORTED_FORMAT) for anything else. */
export function peekSpaceSegmentClaim(bytes: Uint8Array): SegmentWriterClaim {
  const what = 'space segment';
  const r = new ObjectReader(bytes, what, ObjectType.Segment, [SPACE_SEGMENT_VERSION]);
  r.take(2); // suite and flags: the reader's to check
  const epoch = r.u32();
  const deviceId = r.hex(8);
  const seq = r.u64();
  r.take(32); // prevHash
  const personId = r.hex(16);
  const membershipSeq = r.u64();
  const certVersion = r.u64();
  if (seq < 1) throw corrupt(what, 'seq 0');
  return { deviceId, seq, epoch, personId, membershipSeq, certVersion };
}
