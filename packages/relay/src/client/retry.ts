/**
 * @module client/retry
 * Retries of relay requests, on the core's retry loop (`retry` from
 * `@kith/core`): full-jitter exponential backoff, a cap on attempts and an
 * overall deadline. Every relay request Kith makes is idempotent (puts of
 * immutable or own-prefix objects, reads, deletes), so any transient
 * failure may be repeated.
 */
import { ErrorCode, KithError } from '@kith/core';
import { DEFAULT_RETRY_POLICY, retry, type RetryPolicy } from '@kith/core/adapter';

/** How the relay client retries (the core's {@link RetryPolicy}). */
export type RelayRetryPolicy = RetryPolicy;

/** The defaults: 6 attempts, 100 ms → 5 s backoff, 60 s deadline. */
export const DEFAULT_RELAY_RETRY: RelayRetryPolicy = DEFAULT_RETRY_POLICY;

/** A failure worth another attempt (network error, 5xx, 429, torn body). */
export class TransientError extends Error {
  override readonly name = 'TransientError';
  /** The code to fail with once retries run out (default KITH_REMOTE_UNAVAILABLE). */
  readonly code: ErrorCode | undefined;
  constructor(message: string, code?: ErrorCode) {
    super(message);
    this.code = code;
  }
}

/**
 * Runs `attempt` until it succeeds, throws a KithError (final), or the
 * policy runs out on {@link TransientError}s; then rejects with
 * KITH_REMOTE_UNAVAILABLE naming the last cause.
 */
export function withRetry<T>(
  what: string,
  attempt: () => Promise<T>,
  policy: RelayRetryPolicy,
  signal?: AbortSignal,
  random: () => number = Math.random,
): Promise<T> {
  return retry(attempt, {
    policy,
    signal,
    deps: { random },
    judge: (e) => (e instanceof TransientError ? { retry: true } : { retry: false, error: e }),
    exhausted: (failure, n) => {
      const e = failure as TransientError;
      const limited = e.code === ErrorCode.RateLimited;
      return new KithError(e.code ?? ErrorCode.RemoteUnavailable, `relay ${what} failed after ${n} attempt${n === 1 ? '' : 's'}: ${e.message}`, {
        cause: e,
        hint: limited
          ? 'the relay limits how many requests a device makes; wait a minute and sync again (nothing was lost)'
          : 'the relay is unreachable or overloaded (check the URL and the network); kith resumes where it stopped on the next sync',
      });
    },
  });
}
