import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KithError } from '@kith/core/adapter';
import { DEFAULT_RETRY, isTransient, RetryBudget, withRetry, type RetryContext, type RetryPolicy } from './retry.js';

const http = (status: number, name = 'Error') => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
const net = (code: string) => Object.assign(new Error(`read ${code}`), { code });
const named = (name: string) => Object.assign(new Error(name), { name });
const classify = (e: unknown) => new KithError(ErrorCode.RemoteUnavailable, `boom: ${(e as Error).message}`);
const fast: RetryPolicy = { ...DEFAULT_RETRY, baseDelayMs: 1, maxDelayMs: 4 };
const ctx = (over: Partial<RetryContext> = {}): RetryContext => ({ policy: fast, budget: new RetryBudget(500), classify, ...over });

/** An attempt that fails with `errors` in turn, then succeeds; counts its calls. */
function scripted(errors: Error[]): { attempt: () => Promise<string>; calls: () => number } {
  let n = 0;
  return {
    attempt: async () => {
      const e = errors[n++];
      if (e !== undefined) throw e;
      return 'ok';
    },
    calls: () => n,
  };
}

describe('which failures are retried', () => {
  test('5xx, 429, SlowDown, RequestTimeout (a 400), resets, timeouts and torn bodies are; 4xx answers are not', () => {
    for (const e of [
      http(500),
      http(503, 'SlowDown'),
      http(429),
      http(400, 'RequestTimeout'),
      net('ECONNRESET'),
      net('EPIPE'),
      named('TimeoutError'),
      named('Truncated'),
      new Error('socket hang up'),
    ]) {
      assert.equal(isTransient(e), true, JSON.stringify(e));
    }
    for (const e of [
      http(403, 'AccessDenied'),
      http(404, 'NoSuchBucket'),
      http(404, 'NotFound'),
      http(412),
      http(400, 'InvalidArgument'),
      new Error('Could not load credentials from any providers'),
    ]) {
      assert.equal(isTransient(e), false, JSON.stringify(e));
    }
  });
});

describe('withRetry', () => {
  test('transient failures are retried until success', async () => {
    const s = scripted([http(503, 'SlowDown'), net('ECONNRESET'), named('TimeoutError')]);
    assert.equal(await withRetry('GET x', s.attempt, ctx()), 'ok');
    assert.equal(s.calls(), 4);
  });

  test('a final failure is not retried and keeps its classification', async () => {
    const s = scripted([http(503), http(403, 'AccessDenied')]);
    const auth = (e: unknown) => new KithError(ErrorCode.RemoteAuth, String((e as Error).name));
    await assert.rejects(withRetry('GET x', s.attempt, ctx({ classify: auth })), (e: unknown) => KithError.is(e, ErrorCode.RemoteAuth));
    assert.equal(s.calls(), 2);
  });

  test('at most maxAttempts, then one line naming the attempts and the last cause', async () => {
    const s = scripted(Array.from({ length: 100 }, () => http(500, 'InternalError')));
    await assert.rejects(withRetry('GET x', s.attempt, ctx({ policy: { ...fast, maxAttempts: 5 } })), (e: unknown) => {
      const k = e as KithError;
      return (
        KithError.is(e, ErrorCode.RemoteUnavailable) &&
        /^GET x failed after 5 attempts: boom: InternalError$/.test(k.message) &&
        !k.message.includes('\n') &&
        k.hint !== undefined
      );
    });
    assert.equal(s.calls(), 5);
  });

  test('the overall deadline stops retries even with attempts left', async () => {
    const s = scripted(Array.from({ length: 100 }, () => http(500)));
    const started = Date.now();
    const policy = { ...fast, maxAttempts: 100, baseDelayMs: 40, maxDelayMs: 40, deadlineMs: 100 };
    await assert.rejects(withRetry('GET x', s.attempt, ctx({ policy, random: () => 0.99 })), (e: unknown) => KithError.is(e, ErrorCode.RemoteUnavailable));
    assert.ok(Date.now() - started < 400);
    assert.ok(s.calls() >= 2 && s.calls() <= 4, `${s.calls()} attempts`);
  });

  test('backoff is full jitter under an exponential ceiling', async () => {
    const seen: number[] = [];
    const s = scripted([http(500), http(500), http(500)]);
    let last = Date.now();
    const attempt = () => {
      seen.push(Date.now() - last);
      last = Date.now();
      return s.attempt();
    };
    const policy = { ...fast, baseDelayMs: 30, maxDelayMs: 1000 };
    await withRetry('GET x', attempt, ctx({ policy, random: () => 1 }));
    // With the jitter at its top the waits are the ceilings: 30, 60, 120 ms (timers never fire early).
    const [w1 = 0, w2 = 0, w3 = 0] = seen.slice(1);
    assert.ok(w1 >= 29 && w2 >= 59 && w3 >= 119, `waits ${seen.slice(1).join(', ')} ms`);
    // At its bottom there is no wait at all.
    const quick = scripted([http(500), http(500), http(500)]);
    const started = Date.now();
    await withRetry('GET x', quick.attempt, ctx({ policy: { ...policy, baseDelayMs: 5000, maxDelayMs: 5000 }, random: () => 0 }));
    assert.ok(Date.now() - started < 1000);
  });

  test('the shared budget caps retries across concurrent calls against a dead service', async () => {
    const budget = new RetryBudget(50); // 10 retries at 5 tokens each
    let calls = 0;
    const dead = async (): Promise<never> => {
      calls++;
      throw http(503, 'SlowDown');
    };
    const policy = { ...fast, maxAttempts: 6 };
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => withRetry('GET x', dead, ctx({ policy, budget }))));
    assert.ok(results.every((r) => r.status === 'rejected' && KithError.is(r.reason, ErrorCode.RemoteUnavailable)));
    assert.equal(calls, 20 + 10, 'one attempt each, then the budget allows 10 retries in all (not 20 × 6)');
    assert.ok(results.some((r) => r.status === 'rejected' && /retry budget spent/.test((r.reason as Error).message)));
  });

  test('successes refill the budget; a timeout costs twice a plain retry', () => {
    const b = new RetryBudget(10);
    assert.equal(b.take(named('TimeoutError')), true);
    assert.equal(b.take(http(500)), false);
    b.refund();
    b.refund();
    b.refund();
    b.refund();
    b.refund();
    assert.equal(b.take(http(500)), true);
    assert.equal(b.take(http(500)), false);
  });

  test('an abort during the backoff rejects with KITH_ABORTED at once', async () => {
    const ac = new AbortController();
    const s = scripted(Array.from({ length: 100 }, () => http(500)));
    const policy = { ...fast, baseDelayMs: 10_000, maxDelayMs: 10_000 };
    const started = Date.now();
    setTimeout(() => ac.abort(), 30);
    await assert.rejects(withRetry('GET x', s.attempt, ctx({ policy, signal: ac.signal, random: () => 1 })), (e: unknown) =>
      KithError.is(e, ErrorCode.Aborted),
    );
    assert.ok(Date.now() - started < 1000);
    assert.equal(s.calls(), 1);
  });

  test('an already aborted signal makes no attempt', async () => {
    const s = scripted([]);
    await assert.rejects(withRetry('GET x', s.attempt, ctx({ signal: AbortSignal.abort() })), (e: unknown) => KithError.is(e, ErrorCode.Aborted));
    assert.equal(s.calls(), 0);
  });
});
