/**
 * @module client/retry
 * Retries of relay requests: full-jitter exponential backoff, a cap on
 * attempts and an overall deadline. Every relay request Kith makes is
 * idempotent (puts of immutable or own-prefix objects, reads, deletes), so
 * any transient failure may be repeated.
 */
import { abortableSleep, ErrorCode, KithError } from '@kith/core/adapter';

/** How the relay client retries. */
export interface RelayRetryPolicy {
  /** Attempts per call, the first included (default 6). */
  readonly maxAttempts: number;
  /** The n-th retry waits a random time below `base × 2^(n-1)` (default 100 ms). */
  readonly baseDelayMs: number;
  /** Largest backoff ceiling (default 5 s). */
  readonly maxDelayMs: number;
  /** Give up after this long, whatever the attempts left (default 60 s). */
  readonly deadlineMs: number;
}

/** The defaults: 6 attempts, 100 ms → 5 s backoff, 60 s deadline. */
export const DEFAULT_RELAY_RETRY: RelayRetryPolicy = { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 5000, deadlineMs: 60_000 };

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

/** Full-jitter backoff for the n-th retry (n ≥ 1). */
export function backoff(n: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  return Math.min(maxMs, baseMs * 2 ** (n - 1)) * random();
}

/**
 * Runs `attempt` until it succeeds, throws a KithError (final), or the
 * policy runs out on {@link TransientError}s; then rejects with
 * KITH_REMOTE_UNAVAILABLE naming the last cause.
 */
export async function withRetry<T>(what: string, attempt: () => Promise<T>, policy: RelayRetryPolicy, signal?: AbortSignal, random: () => number = Math.random): Promise<T> {
  const started = Date.now();
  for (let n = 1; ; n++) {
    if (signal?.aborted) throw new KithError(ErrorCode.Aborted, 'operation cancelled');
    try {
      return await attempt();
    } catch (e) {
      if (signal?.aborted) throw new KithError(ErrorCode.Aborted, 'operation cancelled');
      if (!(e instanceof TransientError)) throw e;
      const delay = backoff(n, policy.baseDelayMs, policy.maxDelayMs, random);
      if (n >= policy.maxAttempts || Date.now() - started + delay > policy.deadlineMs) {
        const limited = e.code === ErrorCode.RateLimited;
        throw new KithError(e.code ?? ErrorCode.RemoteUnavailable, `relay ${what} failed after ${n} attempt${n === 1 ? '' : 's'}: ${e.message}`, {
          cause: e,
          hint: limited
            ? 'the relay limits how many requests a device makes; wait a minute and sync again (nothing was lost)'
            : 'the relay is unreachable or overloaded (check the URL and the network); kith resumes where it stopped on the next sync',
        });
      }
      await abortableSleep(delay, signal);
    }
  }
}
