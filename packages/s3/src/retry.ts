/**
 * @module retry
 * Our own small retry policy (full-jitter exponential backoff, a cap on
 * attempts and an overall deadline), so the request count is exact and
 * tests are deterministic. Only failures that are safe to repeat are
 * retried: every S3 call Kith makes is idempotent.
 */
import { ErrorCode, KithError } from '@kith/core';

export interface RetryPolicy {
  /** Attempts per call, the first included (default 6). */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Give up after this long, whatever the attempts left (default 60 s). */
  readonly deadlineMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 5000, deadlineMs: 60_000 };

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const TRANSIENT_NAMES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'RequestTimeoutException', 'InternalError', 'ServiceUnavailable', 'TimeoutError', 'Truncated']);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'UND_ERR_SOCKET']);

export function statusOf(e: unknown): number | undefined {
  return (e as SdkError)?.$metadata?.httpStatusCode;
}

/** True for a failure worth another attempt: 5xx, 429, throttling, resets, timeouts, torn bodies. */
export function isTransient(e: unknown): boolean {
  const err = e as SdkError;
  const status = statusOf(e);
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (status !== undefined && status >= 300) return false; // the server answered: a 4xx is final
  if (err?.name && TRANSIENT_NAMES.has(err.name)) return true;
  if (err?.code && TRANSIENT_CODES.has(err.code)) return true;
  const msg = String(err?.message ?? '');
  return /socket hang up|ECONNRESET|premature close|aborted|terminated|other side closed|Deserialization error|Unexpected end|timed? ?out/i.test(msg) && status === undefined;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new KithError(ErrorCode.Aborted, 'operation cancelled'));
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new KithError(ErrorCode.Aborted, 'operation cancelled'));
      },
      { once: true },
    );
  });

/**
 * Runs `attempt` until it succeeds, fails for good, or the policy runs out.
 * `classify` turns a final failure into a KithError.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  what: string,
  attempt: () => Promise<T>,
  classify: (e: unknown) => KithError,
  signal?: AbortSignal,
  random: () => number = Math.random,
): Promise<T> {
  const started = Date.now();
  for (let n = 1; ; n++) {
    if (signal?.aborted) throw new KithError(ErrorCode.Aborted, 'operation cancelled');
    try {
      return await attempt();
    } catch (e) {
      if (signal?.aborted || (e as SdkError)?.name === 'AbortError') throw new KithError(ErrorCode.Aborted, 'operation cancelled');
      if (e instanceof KithError && e.code !== ErrorCode.RemoteUnavailable) throw e;
      if (!isTransient(e)) throw classify(e);
      const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1)) * random();
      if (n >= policy.maxAttempts || Date.now() - started + delay > policy.deadlineMs) {
        const last = classify(e);
        throw new KithError(ErrorCode.RemoteUnavailable, `${what} failed after ${n} attempt${n === 1 ? '' : 's'}: ${last.message}`, {
          cause: e,
          hint: 'the S3 service is unreachable or overloaded; kith will resume from where it stopped on the next sync',
        });
      }
      await sleep(delay, signal);
    }
  }
}
