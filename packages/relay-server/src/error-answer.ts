/**
 * @module error-answer
 * What the relay answers a failed request with: the status from the
 * protocol's table (`RELAY_ERROR_STATUSES`), the JSON body, and whether the
 * failure is the relay's own (logged; its message is not shown).
 */
import { ErrorCode, KithError } from '@kith/core';
import { defaultRelayStatus } from '@kith/relay/protocol';
import { RelayError } from './auth/access.js';

/** An error answer, ready to send. */
export interface ErrorAnswer {
  readonly status: number;
  readonly body: { readonly code: string; readonly message: string; readonly hint?: string };
  /** For 429: when to come back (the `retry-after` header). */
  readonly retryAfterMs?: number;
  /** A failure of the relay itself, not of the request: worth a log line. */
  readonly internal: boolean;
}

/** Maps what a route threw (a RelayError, a KithError, Fastify's own errors, a bug) to its answer. */
export function errorAnswer(e: unknown): ErrorAnswer {
  const kith = KithError.is(e) ? e : undefined;
  const fst = e as { statusCode?: number; message?: string };
  const status = e instanceof RelayError ? e.status : kith ? defaultRelayStatus(kith.code) : (fst.statusCode ?? 500);
  // Fastify's own refusals (body too large, bad content) carry a status but no Kith code.
  const code = kith?.code ?? (status === 413 ? ErrorCode.TooLarge : status < 500 ? ErrorCode.BadInput : ErrorCode.Internal);
  const message = kith?.message ?? (status < 500 ? String(fst.message ?? 'bad request') : 'internal relay error');
  return {
    status,
    body: { code, message, ...(kith?.hint ? { hint: kith.hint } : {}) },
    ...(e instanceof RelayError && e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
    internal: status >= 500 && !(e instanceof RelayError),
  };
}
