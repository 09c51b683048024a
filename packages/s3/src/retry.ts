/**
 * @module retry
 * Our own small retry policy (full-jitter exponential backoff, a cap on
 * attempts, an overall deadline, and a retry budget shared by every call
 * on one remote), so the request count is exact and tests are
 * deterministic. Only failures that are safe to repeat are retried: every
 * S3 call Kith makes is idempotent.
 */
import { abortableSleep, ErrorCode, KithError } from '@kith/core/adapter';

/** How an S3 remote retries. Every field has a default ({@link DEFAULT_RETRY}). */
export interface RetryPolicy {
  /** Attempts per call, the first included (default 6). */
  readonly maxAttempts: number;
  /** First backoff ceiling; the n-th retry waits a random time below `base × 2^(n-1)` (full jitter). */
  readonly baseDelayMs: number;
  /** Largest backoff ceiling (default 5 s). */
  readonly maxDelayMs: number;
  /** Give up after this long, whatever the attempts left (default 60 s). */
  readonly deadlineMs: number;
  /**
   * Retry tokens shared by all calls on one remote (default 500). A retry
   * costs 5 (a timeout 10) and every success gives 1 back, so a service
   * that fails everything gets about `budget / 5` retries across all
   * concurrent calls, not `calls × maxAttempts`: no retry storm.
   */
  readonly budget: number;
}

/** The defaults: 6 attempts, 100 ms → 5 s full-jitter backoff, 60 s deadline, 500 retry tokens. */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 5000, deadlineMs: 60_000, budget: 500 };

const RETRY_COST = 5;
const TIMEOUT_RETRY_COST = 10;

/** The retry tokens of one remote (see {@link RetryPolicy.budget}). */
export class RetryBudget {
  #tokens: number;
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
    this.#tokens = capacity;
  }

  /** Takes the cost of one retry after `e`; false when the budget cannot pay it. */
  take(e: unknown): boolean {
    const cost = (e as SdkError)?.name === 'TimeoutError' ? TIMEOUT_RETRY_COST : RETRY_COST;
    if (this.#tokens < cost) return false;
    this.#tokens -= cost;
    return true;
  }

  /** A call succeeded: the service is answering again. */
  refund(): void {
    this.#tokens = Math.min(this.#capacity, this.#tokens + 1);
  }
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const TRANSIENT_NAMES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'RequestTimeoutException', 'InternalError', 'ServiceUnavailable', 'TimeoutError', 'Truncated']);
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
  return /socket hang up|ECONNRESET|premature close|aborted|terminated|other side closed|Deserialization error|Unexpected end|timed? ?out/i.test(msg) && status === undefined;
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
export async function withRetry<T>(what: string, attempt: () => Promise<T>, ctx: RetryContext): Promise<T> {
  const { policy, budget, classify, signal, random = Math.random } = ctx;
  const started = Date.now();
  for (let n = 1; ; n++) {
    if (signal?.aborted) throw new KithError(ErrorCode.Aborted, 'operation cancelled');
    try {
      const result = await attempt();
      budget.refund();
      return result;
    } catch (e) {
      if (signal?.aborted || (e as SdkError)?.name === 'AbortError') throw new KithError(ErrorCode.Aborted, 'operation cancelled');
      if (e instanceof KithError && e.code !== ErrorCode.RemoteUnavailable) throw e;
      if (!isTransient(e)) throw classify(e);
      const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1)) * random();
      const outOfTime = n >= policy.maxAttempts || Date.now() - started + delay > policy.deadlineMs;
      if (outOfTime || !budget.take(e)) {
        const why = outOfTime ? '' : ' (retry budget spent: the service keeps failing)';
        const last = classify(e).message;
        const cause = last.startsWith(`${what} failed: `) ? last.slice(what.length + 9) : last;
        throw new KithError(ErrorCode.RemoteUnavailable, `${what} failed after ${n} attempt${n === 1 ? '' : 's'}${why}: ${cause}`, {
          cause: e,
          hint: 'the S3 service is unreachable or overloaded (check the endpoint and the network); kith resumes where it stopped on the next sync',
        });
      }
      await abortableSleep(delay, signal);
    }
  }
}
