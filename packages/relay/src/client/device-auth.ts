/**
 * @module client/device-auth
 * The auth provider a relay remote makes from the key its vault lends it
 * (`Remote.useDeviceKey`): it asks the relay for a challenge, checks that
 * the challenge names this vault and this signer, signs it, and trades it
 * for a bearer token, which it reuses until shortly before it expires or
 * the relay refuses it.
 */
import { ErrorCode, KithError, fromBase64url, toBase64url, type RemoteDeviceKey } from '@kith/core/adapter';
import { API_PREFIX, decodeChallenge, personOfSigner, type ChallengeAnswer, type TokenAnswer, type TokenRequest } from '../protocol.js';
import { describeNetworkError, failure, readJson } from './answers.js';
import type { RelayLocation } from './relay-url.js';
import { TransientError } from './retry.js';

/** Supplies auth headers and WebSocket sub-protocols (see `relayDeviceAuth`). */
export interface RelayAuthProvider {
  /** Headers for one request (e.g. `authorization: Bearer ...`), fetching a token if needed. */
  headers(signal?: AbortSignal): Promise<Record<string, string>>;
  /** The relay refused the token: forget it so the next call fetches a new one. */
  invalidate(): void;
}

/** Renew this long before the relay's expiry (at most a quarter of the lifetime). */
const RENEW_EARLY_MS = 60_000;

/**
 * A {@link RelayAuthProvider} that proves possession of `key`.
 *
 * @example
 * const remote = openRelayRemote(url, { auth: relayDeviceAuth(parseRelayUrl(url), remoteDeviceKey(vaultId, deviceId, seed)) });
 */
export function relayDeviceAuth(location: RelayLocation, key: RemoteDeviceKey, o: { timeoutMs?: number } = {}): RelayAuthProvider {
  let token: { value: string; renewAt: number } | undefined;
  let fetching: Promise<string> | undefined;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const base = `${location.base}${API_PREFIX}/${location.vault}/auth`;

  // Not cancelled by one caller's signal: concurrent requests share one token fetch (bounded by its timeout).
  const post = async (path: string, body: object): Promise<unknown> => {
    const timeout = AbortSignal.timeout(timeoutMs);
    let res: Response;
    try {
      res = await fetch(`${base}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: timeout });
    } catch (e) {
      throw new TransientError(`auth ${path}: ${timeout.aborted ? 'timed out' : describeNetworkError(e)}`);
    }
    if (res.status >= 500 || res.status === 429) {
      await res.body?.cancel().catch(() => {});
      throw new TransientError(`auth ${path}: HTTP ${res.status}`);
    }
    if (res.status !== 200) throw await failure(res);
    return readJson(res);
  };

  const fetchToken = async (): Promise<string> => {
    const { challenge } = (await post('challenge', { signer: key.signer })) as ChallengeAnswer;
    const bytes = fromBase64url(String(challenge));
    const fields = decodeChallenge(bytes);
    // Sign only what names this vault and this signer: a relay cannot collect signatures for anything else.
    if (fields.vault !== location.vault || fields.signer !== key.signer)
      throw new KithError(ErrorCode.RemoteAuth, 'the relay sent a challenge for another vault or signer');
    const signature = toBase64url(await key.sign(bytes));
    // A person names its key: the founder of a space signs in before the entry that names it exists.
    const request: TokenRequest =
      personOfSigner(key.signer) === undefined ? { challenge, signature } : { challenge, signature, signPub: toBase64url(key.signPub) };
    const answer = (await post('token', request)) as TokenAnswer;
    const lifetime = Number(answer.expiresInMs);
    token = { value: String(answer.token), renewAt: Date.now() + lifetime - Math.min(RENEW_EARLY_MS, lifetime / 4) };
    return token.value;
  };

  return {
    async headers() {
      if (token && Date.now() < token.renewAt) return { authorization: `Bearer ${token.value}` };
      fetching ??= fetchToken().finally(() => (fetching = undefined));
      return { authorization: `Bearer ${await fetching}` };
    },
    invalidate() {
      token = undefined;
    },
  };
}
