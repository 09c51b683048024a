/**
 * @module test-clock
 * TESTING ONLY: `KITH_TEST_CLOCK_OFFSET_MS` moves this process's clock
 * (HLC stamps, retention expiry, pruning) by that many milliseconds, so
 * tests of time-driven behaviour can run several `kith` processes "days
 * apart" without waiting. Not a user setting: unset in normal use.
 */
import type { Deps } from '@kith/core';

/** The vault's `deps` override when the testing variable is set, else nothing. */
export function testClockDeps(): { deps?: Partial<Deps> } {
  const raw = process.env['KITH_TEST_CLOCK_OFFSET_MS'];
  if (raw === undefined || raw === '') return {};
  const offset = Number(raw);
  if (!Number.isSafeInteger(offset)) return {};
  return { deps: { now: () => Date.now() + offset } };
}
