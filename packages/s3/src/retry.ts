/**
 * @module retry
 * How S3 calls are retried, on the core's retry loop (`retry` from
 * `@kith/core`: full-jitter exponential backoff, a cap on attempts, an
 * overall deadline) with a retry budget shared by every call on one
 * remote, so the request count is exact and tests are deterministic. Only
 * failures that are safe to repeat are retried: every S3 call Kith makes
 * is idempotent.
 */
import { ErrorCode, KithError } from '@kith/core';
import { DEFAULT_RETRY_POLICY, retry, RetryBudget as TokenBudget, type RetryPolicy as CoreRetryPolicy } from '@kith/core/adapter';

/** How an S3 remote retries. Every field has a default ({@link DEFAULT_RETRY}). */
export interface RetryPolicy extends CoreRetryPolicy {
  /**
   * Retry tokens shared by all calls on one remote (default 500). A retry
   * costs 5 (a timeout 10) and every success gives 1 back, so a service
   * that fails everything gets about `budget / 5` retries across all
   * concurrent calls, not `calls × maxAttempts`: no retry storm.
   */
  readonly budget: number;
}

/** The defaults: 6 attempts, 100 ms → 5 s full-jitter backoff, 60 s deadline, 500 retry tokens. */
export const DEFAULT_RETRY: RetryPolicy = { ...DEFAULT_RETRY_POLICY, budget: 500 };

const RETRY_COST = 5;
const TIMEOUT_RETRY_COST = 10;

/** The retry tokens of one remote (see {@link RetryPolicy.budget}): a retry after a timeout costs twice. */
export class RetryBudget extends TokenBudget {
  constructor(capacity: number) {
    super(capacity, (e) => ((e as SdkError)?.name === 'TimeoutError' ? TIMEOUT_RETRY_COST : RETRY_COST));
  }
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
  'Truncated',
]);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'UND_ERR_SOCKET']);

/** The HTTP status of an SDK failure, when the server answered. */
export function statusOf(e: unknown): number | undefined {
  return (e as SdkError)?.$metadata?.httpStatusCode;
}

/** True for a failure worth another attempt: 5xx, 429, throttling, resets, timeouts, torn bodies. */
export function isTransient(e: unknown): boolean {
  const err = e as SdkError;
  const status = statusOf(e);
  if (err?.name && TRANSIENT_NAMES.has(err.name)) return true; // S3 says RequestTimeout with a 400
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (status !== undefined && status >= 300) return false; // the server answered: a 4xx is final
  if (err?.code && TRANSIENT_CODES.has(err.code)) return true;
  const msg = String(err?.message ?? '');
  return (
    /socket hang up|ECONNRESET|premature close|aborted|terminated|other side closed|Deserialization error|Unexpected end|timed? ?out/i.test(msg) &&
    status === undefined
  );
}

/** What {@link withRetry} needs besides the attempt itself. */
export interface RetryContext {
  readonly policy: RetryPolicy;
  readonly budget: RetryBudget;
  /** Turns a final failure into a KithError. */
  readonly classify: (e: unknown) => KithError;
  readonly signal?: AbortSignal | undefined;
  /** Uniform in [0, 1): the jitter. */
  readonly random?: () => number;
}

/**
 * Runs `attempt` until it succeeds, fails for good, or the policy or the
 * budget runs out; then rejects with one line that names the last cause.
 */
export function withRetry<T>(what: string, attempt: () => Promise<T>, ctx: RetryContext): Promise<T> {
  const { policy, budget, classify, signal, random = Math.random } = ctx;
  return retry(attempt, {
    policy,
    budget,
    signal,
    deps: { random },
    judge: (e) => {
      if ((e as SdkError)?.name === 'AbortError') return { retry: false, error: new KithError(ErrorCode.Aborted, 'operation cancelled') };
      if (e instanceof KithError && e.code !== ErrorCode.RemoteUnavailable) return { retry: false, error: e };
      return isTransient(e) ? { retry: true } : { retry: false, error: classify(e) };
    },
    exhausted: (e, n, why) => {
      const spent = why === 'budget' ? ' (retry budget spent: the service keeps failing)' : '';
      const last = classify(e).message;
      const cause = last.startsWith(`${what} failed: `) ? last.slice(what.length + 9) : last;
      return new KithError(ErrorCode.RemoteUnavailable, `${what} failed after ${n} attempt${n === 1 ? '' : 's'}${spent}: ${cause}`, {
        cause: e,
        hint: 'the S3 service is unreachable or overloaded (check the endpoint and the network); kith resumes where it stopped on the next sync',
      });
    },
  });
}
