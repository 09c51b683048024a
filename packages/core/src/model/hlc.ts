/**
 * @module hlc
 * Hybrid logical clock stamps.
 *
 * A stamp is a fixed-width string that sorts in time order:
 * `wall` (ms since epoch, 9 base-36 digits) + `counter` (4 base-36 digits)
 * + writing device id (16 hex). Inside a segment the device is implied, so
 * ops carry only the 13-character "local" part.
 *
 * Drift policy (see docs/FORMAT.md "Clocks"): a device never refuses a
 * stamp because of clock skew (refusing blocks sync for good, as Evolu and
 * Actual users found). What a received stamp may do to the local clock is
 * bounded: the local clock advances to at most its own wall clock plus
 * {@link MAX_DRIFT_MS}. So one device whose clock is a year ahead cannot
 * drag every other device's stamps a year ahead. Causality does not depend
 * on stamps at all: every write names the values it replaces
 * (predecessors), and a write always beats the values it has seen, whatever
 * their stamps. Stamps only order truly concurrent writes, and those are
 * reported as conflicts.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import type { Clock } from '../base/deps.js';

export const WALL_DIGITS = 9;
export const COUNTER_DIGITS = 4;
export const LOCAL_STAMP_LENGTH = WALL_DIGITS + COUNTER_DIGITS;
export const DEVICE_ID_LENGTH = 16;
export const STAMP_LENGTH = LOCAL_STAMP_LENGTH + DEVICE_ID_LENGTH;
export const MAX_WALL = 36 ** WALL_DIGITS - 1;
export const MAX_COUNTER = 36 ** COUNTER_DIGITS - 1;
/** How far ahead of its own wall clock a device lets received stamps push it. */
export const MAX_DRIFT_MS = 60_000;

const LOCAL_RE = /^[0-9a-z]{13}$/;
const STAMP_RE = /^[0-9a-z]{13}[0-9a-f]{16}$/;
const DEVICE_RE = /^[0-9a-f]{16}$/;

/** The time part of a stamp. */
export interface HlcTime {
  readonly wall: number;
  readonly counter: number;
}

export function formatLocal(t: HlcTime): string {
  return t.wall.toString(36).padStart(WALL_DIGITS, '0') + formatCounter(t.counter);
}

/** Zeros that pad a counter of `k` base-36 digits to {@link COUNTER_DIGITS}. */
const COUNTER_PAD = ['0000', '000', '00', '0', ''];

/** The counter part of a stamp: {@link COUNTER_DIGITS} base-36 digits (a table lookup, cheaper than padStart per stamp). */
function formatCounter(counter: number): string {
  const digits = counter.toString(36);
  return COUNTER_PAD[digits.length]! + digits;
}

export function parseLocal(s: string): HlcTime {
  if (!LOCAL_RE.test(s)) throw new KithError(ErrorCode.IntegrityCorrupt, `malformed clock stamp ${JSON.stringify(s)}`);
  return { wall: parseInt(s.slice(0, WALL_DIGITS), 36), counter: parseInt(s.slice(WALL_DIGITS), 36) };
}

/** A full stamp: local part + device id. */
export function fullStamp(local: string, device: string): string {
  return local + device;
}

export function isStamp(s: unknown): s is string {
  return typeof s === 'string' && STAMP_RE.test(s);
}

export function isDeviceId(s: unknown): s is string {
  return typeof s === 'string' && DEVICE_RE.test(s);
}

export function stampDevice(stamp: string): string {
  return stamp.slice(LOCAL_STAMP_LENGTH);
}

export function stampLocal(stamp: string): string {
  return stamp.slice(0, LOCAL_STAMP_LENGTH);
}

/** Milliseconds part of a stamp, for display. */
export function stampTime(stamp: string): number {
  return parseInt(stamp.slice(0, WALL_DIGITS), 36);
}

function compareTime(a: HlcTime, b: HlcTime): number {
  return a.wall - b.wall || a.counter - b.counter;
}

/**
 * The device's clock. Holds the last stamp it issued or observed; `next()`
 * issues strictly increasing stamps even when the wall clock stalls or
 * goes backwards (the counter carries on, overflowing into the wall part).
 */
export class HybridClock {
  #last: HlcTime;
  readonly #now: Clock;

  constructor(now: Clock, last?: string) {
    this.#now = now;
    this.#last = last === undefined ? { wall: 0, counter: 0 } : parseLocal(last);
  }

  /** The last stamp issued or observed (local part). */
  get last(): string {
    return formatLocal(this.#last);
  }

  /** A new local stamp, greater than every stamp issued or observed before. */
  next(): string {
    const wall = Math.min(Math.max(0, Math.floor(this.#now())), MAX_WALL);
    let t: HlcTime;
    if (wall > this.#last.wall) t = { wall, counter: 0 };
    else if (this.#last.counter < MAX_COUNTER) t = { wall: this.#last.wall, counter: this.#last.counter + 1 };
    else t = { wall: this.#last.wall + 1, counter: 0 };
    if (t.wall > MAX_WALL) throw new KithError(ErrorCode.Internal, 'clock overflow');
    this.#last = t;
    // A batch issues many stamps per millisecond: the wall part is formatted once per millisecond, not per stamp.
    if (t.wall !== this.#prefixWall) {
      this.#prefixWall = t.wall;
      this.#prefix = t.wall.toString(36).padStart(WALL_DIGITS, '0');
    }
    return this.#prefix + formatCounter(t.counter);
  }

  /** The wall time whose formatted digits `#prefix` holds (-1: none yet). */
  #prefixWall = -1;
  #prefix = '';

  /**
   * Takes a received stamp into account so that later local writes sort
   * after it, but never further than MAX_DRIFT_MS ahead of the wall clock.
   */
  observe(local: string): void {
    const seen = parseLocal(local);
    const ceiling: HlcTime = { wall: Math.min(Math.floor(this.#now()) + MAX_DRIFT_MS, MAX_WALL), counter: 0 };
    const bounded = compareTime(seen, ceiling) > 0 ? ceiling : seen;
    if (compareTime(bounded, this.#last) > 0) this.#last = bounded;
  }
}
