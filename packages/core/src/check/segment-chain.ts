/**
 * @module check/segment-chain
 * One device's chain of segments (the vault's own, or one in a shared
 * space), walked from segment 1 to the newest that its head or the listing
 * shows: a gap is missing, each segment is read in order, decoded by the
 * chain's kind, linked to the one before by its previous hash and to the
 * head at the head's seq, and one past the head is unreferenced. The kinds
 * differ in how a segment is decoded, what a missing one means, how a
 * broken link is taken, and (the vault's) a revoked writer's end.
 */
import { ErrorCode } from '../base/errors.js';
import { bytesToHex } from '../crypto/index.js';
import { ZERO_HASH_HEX } from '../format/segment.js';
import { readInOrder, type CheckRun } from './run.js';

/** The chain position a verified head names. */
export interface NamedTip {
  readonly seq: number;
  readonly hash: Uint8Array;
}

/** What the walk needs of a decoded segment. */
export interface LinkedSegment {
  readonly prevHash: Uint8Array;
  readonly hash: Uint8Array;
}

export interface SegmentChain<S extends LinkedSegment> {
  /** How messages name the writer, e.g. `device 0a1b…` or `device 0a1b… in space 9f…`. */
  readonly subject: string;
  /** seq → key, of the segments listed. */
  readonly listed: ReadonlyMap<number, string>;
  readonly keyOf: (seq: number) => string;
  /** The verified head, if any: without one no segment is judged unreferenced. */
  readonly head: NamedTip | undefined;
  /** What to do about a segment that fails (the end of each hint). */
  readonly restore: string;
  /** The last seq the writer may write (a revoked device's): later ones are foreign and never read. */
  readonly writableUpTo?: number;
  /** The hint for a missing segment, or undefined when its absence is expected (compaction removed it). */
  missingHint(seq: number): string | undefined;
  /** Decodes and verifies one segment's bytes (throws a KithError when they fail). */
  decode(bytes: Uint8Array, seq: number): Promise<S>;
  /**
   * A segment whose link is broken (its previous hash, or the head's hash at
   * the head's seq) is reported as damaged; then `report` still accepts it
   * (the next segment must follow it), `reject` takes it as failed (the next
   * segment's link is not judged).
   */
  readonly brokenLink: 'report' | 'reject';
  /** Takes a segment that verified (counts it, reads its payload; may throw a KithError, which fails it). */
  accept(seg: S, seq: number): void | Promise<void>;
  /** A segment failed: state carried from segment to segment starts over. */
  failed?(): void;
}

/** Walks `c` from segment 1 and reports each problem to the check's log. */
export async function walkSegmentChain<S extends LinkedSegment>(run: CheckRun, c: SegmentChain<S>): Promise<void> {
  const { log } = run;
  const { head, listed, subject, restore } = c;
  const last = c.writableUpTo ?? Infinity;
  const top = Math.max(0, head?.seq ?? 0, ...listed.keys());
  const reads = readInOrder(
    run,
    [...listed.keys()]
      .filter((seq) => seq <= last)
      .sort((x, y) => x - y)
      .map(c.keyOf),
  );
  let prev: string | undefined = ZERO_HASH_HEX; // hash of the previous segment, once verified
  for (let seq = 1; seq <= top; seq++) {
    const key = c.keyOf(seq);
    const named = head === undefined || seq <= head.seq;
    if (seq > last) {
      if (listed.has(seq)) {
        log.add(
          'foreign',
          key,
          ErrorCode.Revoked,
          `segment ${seq} of ${subject} was written after its revocation (it may write up to ${last})`,
          'every device ignores it; delete it',
        );
      }
      continue;
    }
    if (!listed.has(seq)) {
      // seq < top, or seq is the head's: a gap the head or a later segment proves.
      const hint = c.missingHint(seq);
      if (hint !== undefined) log.add('missing', key, ErrorCode.IntegrityChain, `segment ${seq} of ${subject} is missing`, hint);
      prev = undefined;
      continue;
    }
    const bytes = (await reads.next()).value;
    if (!bytes) {
      prev = undefined;
      continue;
    }
    try {
      const seg = await c.decode(bytes, seq);
      const hash = bytesToHex(seg.hash);
      const broken =
        prev !== undefined && bytesToHex(seg.prevHash) !== prev
          ? { what: `does not follow segment ${seq - 1}`, why: 'a segment was replaced or replayed' }
          : head && seq === head.seq && hash !== bytesToHex(head.hash)
            ? { what: 'is not the one its head names', why: 'the remote replaced the newest segment' }
            : undefined;
      if (broken) {
        log.add('damaged', key, ErrorCode.IntegrityChain, `segment ${seq} of ${subject} ${broken.what}`, `${broken.why}; ${restore}`);
        if (c.brokenLink === 'reject') {
          prev = undefined;
          c.failed?.();
          continue;
        }
      }
      await c.accept(seg, seq);
      prev = hash;
      if (!named) {
        log.add(
          'unreferenced',
          key,
          ErrorCode.UnreferencedObject,
          `segment ${seq} of ${subject} comes after the one its head names (${head?.seq ?? 0})`,
          "left by an interrupted push; that device's next push completes it",
        );
      }
    } catch (e) {
      log.failed(key, e, restore);
      prev = undefined;
      c.failed?.();
    }
  }
}
