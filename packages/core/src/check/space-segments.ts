/**
 * @module check/space-segments
 * A shared space's heads and segments (`heads/<deviceId>`, `segments/<deviceId>/<seq>`
 * under its root, FORMAT.md "Space segment and head"), checked as a
 * member's pull checks them, but for every device from segment 1: each
 * head's signature and the membership and epoch positions it names; each
 * segment's name, writer's right (`checkSpaceWriter`: a reader's, a
 * removed member's, a cut device's segment is foreign), signature and
 * chain. The payload is encrypted under the space's epoch key, which no
 * device of this vault need hold, so it is not decrypted here: members'
 * pulls check it.
 */
import { ErrorCode } from '../base/errors.js';
import { decodeSegment, MAX_SEGMENT_PAYLOAD } from '../format/segment.js';
import { checkSpaceWriter } from '../spaces/writer.js';
import { checkHeadPositions, deviceKey, spaceSegmentKey } from '../spaces/space-segments.js';
import { decodeSpaceHead, spaceHeadKey, type SpaceHead } from '../spaces/space-head.js';
import type { SpaceLayout } from './layout.js';
import type { CheckRun } from './run.js';
import { walkSegmentChain } from './segment-chain.js';
import type { VerifiedSpace } from './space-epochs.js';

const RESTORE = 'restore it from another copy of the remote, or remove it';

/** Checks every device's head and chain of segments in the space (after its membership, certificates and epochs). */
export async function checkSpaceSegments(run: CheckRun, s: VerifiedSpace, space: SpaceLayout): Promise<void> {
  const devices = new Set([...space.heads.keys(), ...space.segments.keys()]);
  if (devices.size === 0) return;
  run.log.counts.spaceHeads ??= 0;
  run.log.counts.spaceSegments ??= 0;
  for (const deviceId of [...devices].sort()) await checkDevice(run, s, space, deviceId);
}

async function checkDevice(run: CheckRun, s: VerifiedSpace, space: SpaceLayout, deviceId: string): Promise<void> {
  const { log } = run;
  const headKey = s.root + spaceHeadKey(deviceId);
  const listed = space.segments.get(deviceId) ?? new Map<number, string>();
  const head = space.heads.has(deviceId) ? await checkHead(run, s, deviceId) : undefined;
  if (!space.heads.has(deviceId) && listed.size > 0) {
    log.add(
      'missing',
      headKey,
      ErrorCode.NotFound,
      `device ${deviceId} has segments in space ${s.spaceId} but no head`,
      'members do not read its segments until it pushes again',
    );
  }
  await walkSegmentChain(run, {
    subject: `device ${deviceId} in space ${s.spaceId}`,
    listed,
    keyOf: (seq) => s.root + spaceSegmentKey(deviceId, seq),
    head,
    restore: RESTORE,
    missingHint: () => `members cannot read this device's later writes; ${RESTORE}`,
    decode: (bytes, seq) =>
      decodeSegment(bytes, {
        vaultId: s.spaceId,
        deviceId,
        seq,
        space: true,
        signatureOnly: true,
        signPub: (c) => {
          const signPub = deviceKey(s, c.personId, deviceId, c.certVersion);
          checkSpaceWriter(s.m, s.certs(c.personId)!, s.epochs, { ...c, signPub, segmentSeq: c.seq });
          return signPub;
        },
        epochKey: () => undefined,
        maxPayloadBytes: MAX_SEGMENT_PAYLOAD,
      }),
    // Nothing is read from a space's payload here: a segment off its chain is only damaged, not counted as verified.
    brokenLink: 'reject',
    accept: () => void log.counts.spaceSegments!++,
  });
}

/** Verifies a head against the space's verified chains; undefined if it does not verify. */
async function checkHead(run: CheckRun, s: VerifiedSpace, deviceId: string): Promise<SpaceHead | undefined> {
  const key = s.root + spaceHeadKey(deviceId);
  const bytes = await run.read(key);
  if (!bytes) return undefined;
  try {
    const head = await decodeSpaceHead(bytes, { spaceId: s.spaceId, deviceId, signPub: (p, v) => deviceKey(s, p, deviceId, v) });
    checkHeadPositions(s, head);
    run.log.counts.spaceHeads!++;
    return head;
  } catch (e) {
    run.log.failed(key, e, `${RESTORE}; the device's next push rewrites it`);
    return undefined;
  }
}
