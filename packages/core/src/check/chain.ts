/**
 * @module check/chain
 * One hash chain of numbered objects (1, 2, …) as the spaces keep them
 * (membership entries, a person's device certificates), walked from its
 * first object with the chain's own verifier. A gap is missing, the first
 * object that fails is reported with its failure, and the ones after it
 * cannot be verified; a position this device verified before (a pin) that
 * the chain no longer reaches is a rollback, another object there a fork.
 */
import { ErrorCode } from '../base/errors.js';
import { bytesEqual } from '../crypto/index.js';
import { throwIfAborted } from '../ports/remote.js';
import type { CheckPin } from './report.js';
import type { CheckRun } from './run.js';

export interface ChainToWalk {
  /** How a message names one object, e.g. `membership entry 3`. */
  readonly name: (seq: number) => string;
  /** seq → key, of the objects listed. */
  readonly listed: ReadonlyMap<number, string>;
  readonly keyOf: (seq: number) => string;
  readonly pin: CheckPin | undefined;
  /** Verifies the next object in order and returns its hash. */
  accept(bytes: Uint8Array): Promise<Uint8Array>;
  /** What to do about an object that fails. */
  readonly hint: string;
}

/** Walks `c` from seq 1; returns the seq where it broke (missing or invalid), or undefined when it verified to its end. */
export async function walkChain(run: CheckRun, c: ChainToWalk): Promise<number | undefined> {
  const { log } = run;
  const end = Math.max(0, ...c.listed.keys());
  const last = Math.max(end, c.pin?.seq ?? 0);
  let broken: number | undefined;
  for (let seq = 1; seq <= last; seq++) {
    throwIfAborted(run.signal);
    const key = c.keyOf(seq);
    if (broken !== undefined) {
      if (c.listed.has(seq)) {
        log.add(
          'damaged',
          key,
          ErrorCode.IntegrityChain,
          `${c.name(seq)} cannot be verified: it follows ${c.name(broken)}, which is not valid`,
          `mend ${c.name(broken)} first`,
        );
      }
      continue;
    }
    const bytes = c.listed.has(seq) ? await run.read(key) : null;
    if (!bytes) {
      if (seq > end) {
        log.add(
          'missing',
          key,
          ErrorCode.IntegrityRollback,
          `${c.name(seq)} is missing, though this device verified up to ${c.name(c.pin!.seq)}: the chain was rolled back`,
          'the remote is withholding objects; restore them from another copy of the remote',
        );
      } else {
        log.add(
          'missing',
          key,
          ErrorCode.IntegrityChain,
          `${c.name(seq)} is missing (${c.name(end)} is there)`,
          'restore it from another copy of the remote; readers refuse a chain with a gap',
        );
      }
      broken = seq;
      continue;
    }
    let hash: Uint8Array;
    try {
      hash = await c.accept(bytes);
    } catch (e) {
      log.failed(key, e, c.hint);
      broken = seq;
      continue;
    }
    if (c.pin && seq === c.pin.seq && !bytesEqual(hash, c.pin.hash)) {
      log.add(
        'damaged',
        key,
        ErrorCode.IntegrityChain,
        `${c.name(seq)} differs from the one this device verified: the chain was forked`,
        'someone rewrote it on the remote; restore the original one',
      );
      broken = seq;
    }
  }
  return broken;
}
