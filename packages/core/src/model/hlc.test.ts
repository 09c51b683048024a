import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HybridClock, MAX_DRIFT_MS, formatLocal, parseLocal, stampTime, fullStamp } from './hlc.js';

test('formatLocal/parseLocal round-trip and sort like time', () => {
  fc.assert(
    fc.property(
      fc.record({ wall: fc.integer({ min: 0, max: 36 ** 9 - 1 }), counter: fc.integer({ min: 0, max: 36 ** 4 - 1 }) }),
      fc.record({ wall: fc.integer({ min: 0, max: 36 ** 9 - 1 }), counter: fc.integer({ min: 0, max: 36 ** 4 - 1 }) }),
      (a, b) => {
        assert.deepEqual(parseLocal(formatLocal(a)), { wall: a.wall, counter: a.counter });
        const byTime = Math.sign(a.wall - b.wall || a.counter - b.counter);
        const byText = Math.sign(formatLocal(a) < formatLocal(b) ? -1 : formatLocal(a) > formatLocal(b) ? 1 : 0);
        assert.equal(byText, byTime);
      },
    ),
  );
});

test('next() is strictly increasing whatever the wall clock does', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 2e12 }), fc.constant(-1)), { minLength: 1, maxLength: 200 }), (walls) => {
      let i = 0;
      let now = 1.7e12;
      const clock = new HybridClock(() => now);
      let prev = clock.last;
      for (const w of walls) {
        now = w === -1 ? now : w; // -1: clock stalls
        i++;
        const s = clock.next();
        assert.ok(s > prev, `step ${i}: ${s} > ${prev}`);
        prev = s;
      }
    }),
  );
});

test('a clock a year behind still issues stamps after what it observed', () => {
  let now = Date.UTC(2026, 0, 1);
  const clock = new HybridClock(() => now);
  clock.observe(formatLocal({ wall: now + 10_000, counter: 5 }));
  const s = clock.next();
  assert.ok(s > formatLocal({ wall: now + 10_000, counter: 5 }));
  now -= 365 * 86400_000; // wall clock jumps back a year
  assert.ok(clock.next() > s);
});

test('a far-future stamp moves the local clock at most MAX_DRIFT_MS ahead', () => {
  const now = Date.UTC(2026, 5, 1);
  const clock = new HybridClock(() => now);
  clock.observe(formatLocal({ wall: now + 365 * 86400_000, counter: 0 }));
  const s = clock.next();
  assert.ok(stampTime(fullStamp(s, '0123456789abcdef')) <= now + MAX_DRIFT_MS + 1);
});

test('parseLocal refuses malformed stamps', () => {
  for (const bad of ['', 'zz', 'ABCDEFGHIJKLM', '0000000000000x', '000000000000-']) {
    assert.throws(() => parseLocal(bad), /malformed clock stamp/);
  }
});

test('next() gives the same text formatLocal gives for its time, across observed stamps and walls that stall, jump and go back', () => {
  const step = fc.oneof(
    fc.record({ wall: fc.integer({ min: 0, max: 36 ** 9 - 1 }) }),
    fc.record({ stall: fc.constant(true) }),
    fc.record({ observe: fc.record({ wall: fc.integer({ min: 0, max: 2e12 }), counter: fc.integer({ min: 0, max: 36 ** 4 - 1 }) }) }),
  );
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 300 }), (steps) => {
      let now = 1.7e12;
      const clock = new HybridClock(() => now);
      for (const s of steps) {
        if ('wall' in s) now = s.wall;
        if ('observe' in s) clock.observe(formatLocal(s.observe));
        const t = clock.next();
        // The cached wall prefix must never outlive the wall it was formatted for.
        assert.equal(t, formatLocal(parseLocal(t)));
        assert.equal(t, clock.last);
        assert.match(t, /^[0-9a-z]{13}$/);
      }
    }),
  );
});

test('next() within one millisecond: counters of every digit count, then the overflow into the next wall', () => {
  const clock = new HybridClock(() => 1.7e12);
  for (let k = 0; k <= 36 ** 4 + 40; k++) assert.equal(clock.next(), clock.last);
});
