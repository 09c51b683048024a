/**
 * @module ports/retry
 * The one retry loop adapters share: full-jitter exponential backoff, a
 * cap on attempts, an overall deadline, an optional budget of retry
 * tokens shared by many calls, and cancellation. The adapter says which
 * failures are worth another attempt and how a call that ran out fails;
 * clock, jitter and sleep are injected so tests need no real time.
 */
import { ErrorCode, KithError } from '../base/errors.js';
import { abortableSleep } from './remote.js';

/** How often and how long to retry one call. */
export interface RetryPolicy {
  /** Attempts per call, the first included. */
  readonly maxAttempts: number;
  /** The n-th retry waits a random time below `min(maxDelayMs, baseDelayMs × 2^(n-1))` (full jitter). */
  readonly baseDelayMs: number;
  /** Largest backoff ceiling. */
  readonly maxDelayMs: number;
  /** No retry starts whose wait would end later than this after the first attempt began. */
  readonly deadlineMs: number;
}

/** The defaults adapters start from: 6 attempts, 100 ms → 5 s backoff, 60 s deadline. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 5000, deadlineMs: 60_000 };

/** Full-jitter backoff for the n-th retry (n ≥ 1): uniform below the exponential ceiling. */
export function backoff(n: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  return Math.min(maxMs, baseMs * 2 ** (n - 1)) * random();
}

/**
 * Retry tokens shared by every call on one remote: a retry costs
 * `costOf(failure)` and each success gives one back (up to the capacity),
 * so a service that fails everything gets about `capacity / cost` retries
 * across all concurrent calls, not `calls × maxAttempts`: no retry storm.
 */
export class RetryBudget {
  #tokens: number;
  readonly #capacity: number;
  readonly #costOf: (failure: unknown) => number;

  constructor(capacity: number, costOf: (failure: unknown) => number = () => 1) {
    this.#capacity = capacity;
    this.#tokens = capacity;
    this.#costOf = costOf;
  }

  /** Takes the cost of one retry after `failure`; false (and nothing taken) when the budget cannot pay it. */
  take(failure: unknown): boolean {
    const cost = this.#costOf(failure);
    if (this.#tokens < cost) return false;
    this.#tokens -= cost;
    return true;
  }

  /** A call succeeded: the service is answering again. */
  refund(): void {
    this.#tokens = Math.min(this.#capacity, this.#tokens + 1);
  }
}

/** After a failed attempt: try again, or fail now with `error`. */
export type RetryVerdict = { readonly retry: true } | { readonly retry: false; readonly error: unknown };

/** Why a call that kept failing stopped. */
export type RetryExhaustion = 'attempts' | 'budget';

/** Time and chance, injectable for tests. */
export interface RetryDeps {
  /** Uniform in [0, 1): the jitter. */
  readonly random?: () => number;
  readonly now?: () => number;
  /** Waits `ms` or rejects with KITH_ABORTED when `signal` fires. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface RetryOptions {
  readonly policy: RetryPolicy;
  /** Judges a failure: retryable, or final with the error to throw. */
  readonly judge: (failure: unknown) => RetryVerdict;
  /** The error to throw when a retryable failure ends the call (attempts, deadline or budget spent). */
  readonly exhausted: (failure: unknown, attempts: number, why: RetryExhaustion) => unknown;
  readonly budget?: RetryBudget;
  readonly signal?: AbortSignal | undefined;
  readonly deps?: RetryDeps;
}

const aborted = (): KithError => new KithError(ErrorCode.Aborted, 'operation cancelled');

/**
 * Runs `attempt` until it succeeds, fails for good, or the policy or the
 * budget runs out. A fired signal ends it at once with KITH_ABORTED,
 * during an attempt or a wait, and before the first attempt.
 */
export async function retry<T>(attempt: () => Promise<T>, o: RetryOptions): Promise<T> {
  const { policy, judge, exhausted, budget, signal } = o;
  const random = o.deps?.random ?? Math.random;
  const now = o.deps?.now ?? Date.now;
  const sleep = o.deps?.sleep ?? abortableSleep;
  const started = now();
  for (let n = 1; ; n++) {
    if (signal?.aborted) throw aborted();
    let failure: unknown;
    try {
      const result = await attempt();
      budget?.refund();
      return result;
    } catch (e) {
      failure = e;
    }
    if (signal?.aborted) throw aborted();
    const verdict = judge(failure);
    if (!verdict.retry) throw verdict.error;
    const delay = backoff(n, policy.baseDelayMs, policy.maxDelayMs, random);
    if (n >= policy.maxAttempts || now() - started + delay > policy.deadlineMs) throw exhausted(failure, n, 'attempts');
    if (budget && !budget.take(failure)) throw exhausted(failure, n, 'budget');
    await sleep(delay, signal);
  }
}
