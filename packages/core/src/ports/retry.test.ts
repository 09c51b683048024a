import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, KithError } from '../base/errors.js';
import { abortableSleep } from './remote.js';
import { backoff, retry, RetryBudget, type RetryExhaustion, type RetryOptions, type RetryPolicy } from './retry.js';

class Flaky extends Error {}
class Final extends Error {}

/** A fake clock: sleeping advances it at once and records the wait. */
function fakeTime(random: () => number) {
  let t = 0;
  const waits: number[] = [];
  return {
    waits,
    elapsed: () => t,
    deps: {
      random,
      now: () => t,
      sleep: async (ms: number) => {
        waits.push(ms);
        t += ms;
      },
    },
  };
}

const judge: RetryOptions['judge'] = (e) => (e instanceof Flaky ? { retry: true } : { retry: false, error: e });
const exhausted = (_e: unknown, n: number, why: RetryExhaustion) => new KithError(ErrorCode.RemoteUnavailable, `failed after ${n} (${why})`);

const policyArb = fc.record({
  maxAttempts: fc.integer({ min: 1, max: 12 }),
  baseDelayMs: fc.integer({ min: 0, max: 1000 }),
  maxDelayMs: fc.integer({ min: 0, max: 10_000 }),
  deadlineMs: fc.integer({ min: 0, max: 60_000 }),
});

describe('retry', () => {
  test('attempts, waits and the deadline stay within the policy; each wait is below its backoff ceiling', async () => {
    await fc.assert(
      fc.asyncProperty(
        policyArb,
        fc.array(fc.double({ min: 0, max: 0.999, noNaN: true }), { minLength: 1, maxLength: 16 }),
        fc.integer({ min: 0, max: 20 }),
        async (policy: RetryPolicy, jitter, failures) => {
          let i = 0;
          const time = fakeTime(() => jitter[i++ % jitter.length]!);
          let calls = 0;
          const attempt = async (): Promise<string> => {
            if (calls++ < failures) throw new Flaky('transient');
            return 'ok';
          };
          const result = await retry(attempt, { policy, judge, exhausted, deps: time.deps }).catch((e: unknown) => e);
          assert.ok(calls <= policy.maxAttempts, `${calls} attempts`);
          assert.ok(time.elapsed() <= policy.deadlineMs, `${time.elapsed()} ms waited`);
          time.waits.forEach((w, n) => assert.ok(w >= 0 && w <= Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** n), `wait ${n + 1}: ${w} ms`));
          assert.equal(time.waits.length, calls - 1, 'one wait between attempts');
          if (result === 'ok') assert.equal(calls, failures + 1);
          else assert.ok(KithError.is(result, ErrorCode.RemoteUnavailable) && calls <= failures);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a shared budget caps the retries of all calls together; a success gives a token back', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 10 }), async (capacity, cost, calls) => {
        const budget = new RetryBudget(capacity, () => cost);
        let attempts = 0;
        const dead = async (): Promise<never> => {
          attempts++;
          throw new Flaky('down');
        };
        const policy = { maxAttempts: 100, baseDelayMs: 0, maxDelayMs: 0, deadlineMs: 1000 };
        const results = await Promise.allSettled(
          Array.from({ length: calls }, () => retry(dead, { policy, judge, exhausted, budget, deps: fakeTime(() => 0).deps })),
        );
        assert.equal(attempts, calls + Math.floor(capacity / cost), 'one attempt each, then what the budget pays for');
        assert.ok(results.every((r) => r.status === 'rejected'));
        assert.equal(results.filter((r) => r.status === 'rejected' && /\(budget\)/.test((r.reason as Error).message)).length, calls);
      }),
    );
    const b = new RetryBudget(2, () => 2);
    assert.equal(b.take(null), true);
    assert.equal(b.take(null), false);
    await retry(async () => 'ok', { policy: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0, deadlineMs: 0 }, judge, exhausted, budget: b });
    assert.equal(b.take(null), false, 'one token back is not enough for a retry costing 2');
    await retry(async () => 'ok', { policy: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0, deadlineMs: 0 }, judge, exhausted, budget: b });
    assert.equal(b.take(null), true);
  });

  test('a final failure is thrown as judged, at once', async () => {
    let calls = 0;
    const final = new Final('no');
    await assert.rejects(
      retry(
        async () => {
          calls++;
          throw calls === 1 ? new Flaky('first') : final;
        },
        { policy: { maxAttempts: 10, baseDelayMs: 0, maxDelayMs: 0, deadlineMs: 1000 }, judge, exhausted, deps: fakeTime(() => 0).deps },
      ),
      (e: unknown) => e === final,
    );
    assert.equal(calls, 2);
  });

  test('a signal ends it with KITH_ABORTED: before the first attempt, after an attempt, and during a wait', async () => {
    const policy = { maxAttempts: 10, baseDelayMs: 60_000, maxDelayMs: 60_000, deadlineMs: 600_000 };
    let calls = 0;
    const flaky = async (): Promise<never> => {
      calls++;
      throw new Flaky('x');
    };
    const isAborted = (e: unknown) => KithError.is(e, ErrorCode.Aborted);
    await assert.rejects(retry(flaky, { policy, judge, exhausted, signal: AbortSignal.abort() }), isAborted);
    assert.equal(calls, 0);
    const during = new AbortController();
    const aborting = async (): Promise<never> => {
      during.abort();
      throw new Final('not judged: the caller gave up');
    };
    await assert.rejects(retry(aborting, { policy, judge, exhausted, signal: during.signal }), isAborted);
    // A real (abortable) sleep of a minute, cut short.
    const ac = new AbortController();
    const p = retry(flaky, { policy, judge, exhausted, signal: ac.signal, deps: { random: () => 1, sleep: abortableSleep } });
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(p, isAborted);
    assert.equal(calls, 1);
  });

  test('backoff is full jitter under an exponential ceiling', () => {
    assert.equal(
      backoff(1, 100, 5000, () => 0.5),
      50,
    );
    assert.equal(
      backoff(4, 100, 5000, () => 1),
      800,
    );
    assert.equal(
      backoff(10, 100, 5000, () => 1),
      5000,
    );
    assert.equal(
      backoff(3, 100, 5000, () => 0),
      0,
    );
  });
});
