/**
 * @module client/answers
 * Reading the relay's answers: bodies, JSON, and final (4xx) answers as a
 * KithError with the relay's own code and hint where it gave them. Shared
 * by the remote and the auth provider.
 */
import { ErrorCode, KithError } from '@kith/core/adapter';
import { relayAnswerCode } from '../protocol.js';
import { TransientError } from './retry.js';

export async function readBody(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

export async function readJson(res: Response): Promise<unknown> {
  try {
    return JSON.parse(await res.text());
  } catch (e) {
    throw new TransientError(`unreadable answer (${describeNetworkError(e)})`);
  }
}

/** Maps a final answer to a KithError with the relay's code (and hint) where it gave one. */
export async function failure(res: Response): Promise<KithError> {
  let body: { code?: string; message?: string; hint?: string } = {};
  try {
    body = JSON.parse(await res.text()) as typeof body;
  } catch {
    // not JSON: the status says enough
  }
  const message = `relay answered HTTP ${res.status}${body.message ? `: ${body.message}` : ''}`;
  const hint = typeof body.hint === 'string' ? body.hint : undefined;
  const code = relayAnswerCode(res.status, body.code);
  if (hint === undefined && (res.status === 401 || res.status === 403)) {
    const why =
      res.status === 401
        ? 'this device is not (or no longer) registered in the vault on this relay'
        : code === ErrorCode.Revoked
          ? 'this device was revoked from the vault'
          : 'the relay does not let this device do that';
    return new KithError(code, message, { hint: why });
  }
  return new KithError(code, message, hint === undefined ? {} : { hint });
}

export function describeNetworkError(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  return String(cause?.code ?? cause?.message ?? (e as Error)?.message ?? e).split('\n')[0] ?? 'network error';
}
