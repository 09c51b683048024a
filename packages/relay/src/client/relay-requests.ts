/**
 * @module client/relay-requests
 * The remote's HTTP requests to the relay, each one logical request: a
 * timeout per attempt, the device's auth headers, one renewal of a refused
 * token, and retries of what waiting may cure (network errors, 5xx but a
 * full quota, 429, a torn answer).
 */
import { ErrorCode, KithError } from '@kith/core';
import { describeNetworkError } from './answers.js';
import type { RelayAuthProvider } from './device-auth.js';
import { TransientError, withRetry, type RelayRetryPolicy } from './retry.js';

/** Where and how the requests go. */
export interface RelayRequestOptions {
  /** The relay's origin (`RelayLocation.base`); paths are appended to it. */
  readonly base: string;
  /** A request with no answer for this long is abandoned (and retried). */
  readonly timeoutMs: number;
  readonly retry: RelayRetryPolicy;
  /** The provider of the moment: the remote makes a new one when the vault lends it another key. */
  readonly auth: () => RelayAuthProvider | undefined;
}

export interface RelayRequestInit {
  readonly headers?: Record<string, string>;
  readonly body?: BodyInit;
}

/** Makes the remote's requests to one relay. */
export class RelayRequests {
  readonly #o: RelayRequestOptions;

  constructor(o: RelayRequestOptions) {
    this.#o = o;
  }

  /**
   * One logical request with retries. `handle` runs on every answer and
   * either returns the result or throws (TransientError to retry).
   */
  call<T>(
    what: string,
    method: string,
    path: string,
    signal: AbortSignal | undefined,
    init: RelayRequestInit,
    handle: (res: Response) => Promise<T>,
  ): Promise<T> {
    const r = this.#o;
    let renewed = false;
    const attempt = async (): Promise<T> => {
      const timeout = AbortSignal.timeout(r.timeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
      let res: Response;
      try {
        const auth = (await r.auth()?.headers(signal)) ?? {};
        res = await fetch(r.base + path, {
          method,
          headers: { ...init.headers, ...auth },
          ...(init.body !== undefined ? { body: init.body } : {}),
          signal: combined,
        });
      } catch (e) {
        if (signal?.aborted) throw new KithError(ErrorCode.Aborted, 'operation cancelled');
        if (e instanceof KithError) throw e;
        throw new TransientError(timeout.aborted ? 'timed out' : describeNetworkError(e));
      }
      // A refused token (expired, or the relay restarted with a new secret) is renewed once; a second refusal is final.
      const auth = r.auth();
      if (res.status === 401 && auth && !renewed) {
        renewed = true;
        auth.invalidate();
        await res.body?.cancel().catch(() => {});
        throw new TransientError('token refused (fetching a new one)');
      }
      // 507: the vault's quota is full, which waiting does not change.
      if ((res.status >= 500 && res.status !== 507) || res.status === 429) {
        await res.body?.cancel().catch(() => {});
        throw new TransientError(
          res.status === 429 ? 'HTTP 429 (too many requests)' : `HTTP ${res.status}`,
          res.status === 429 ? ErrorCode.RateLimited : undefined,
        );
      }
      try {
        return await handle(res);
      } catch (e) {
        if (e instanceof KithError || e instanceof TransientError) throw e;
        if (signal?.aborted) throw new KithError(ErrorCode.Aborted, 'operation cancelled');
        throw new TransientError(`answer cut short (${describeNetworkError(e)})`);
      }
    };
    return withRetry(what, attempt, r.retry, signal);
  }
}
