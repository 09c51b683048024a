/**
 * @module server/auth/tokens
 * Challenges and bearer tokens, stateless under one secret (HMAC-SHA256):
 * every relay process that shares the secret accepts what any of them
 * issued, and a new secret (a restart without a configured one) voids them
 * all, which clients answer by signing a fresh challenge.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { fromBase64url, toBase64url } from '@kith/core/relay';
import { CHALLENGE_NONCE_BYTES, challengeBody, decodeChallenge, type ChallengeFields, type TokenAnswer } from '@kith/relay/protocol';

/** How long a challenge may be answered. */
export const CHALLENGE_TTL_MS = 60_000;
/** Default token lifetime: short, so a leaked token soon dies; clients renew silently. */
export const DEFAULT_TOKEN_TTL_MS = 15 * 60_000;
/** Most challenges remembered as used (per process); at ~10 k/s that is beyond a minute's worth. */
const MAX_USED = 500_000;

/** What a token says. `vaultId` pins the vault behind the name, so a vault made anew under it voids old tokens. */
export interface TokenClaims {
  readonly vault: string;
  readonly vaultId: string;
  readonly signer: string;
  /** In a space: the person the signer acts for (its own id for `person:<personId>`, the certifying person for a device). */
  readonly person?: string;
  readonly expiresAt: number;
}

/** Why a challenge or token was refused (logged; never the token itself). */
export type Refusal = 'malformed' | 'forged' | 'expired' | 'other-vault' | 'replayed';

const TOKEN_RE = /^v1\.([A-Za-z0-9_-]{1,1024})\.([A-Za-z0-9_-]{43})$/;

/** Verified tokens remembered per process (oldest dropped first): a few MB at most. */
const MAX_VERIFIED = 10_000;

/** Mints and checks challenges and tokens for one relay deployment. */
export class AuthTokens {
  readonly #challengeKey: Buffer;
  readonly #tokenKey: Buffer;
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** Challenges answered in this process (nonce → expiry): single use here; across processes, until expiry. */
  readonly #used = new Map<string, number>();
  /**
   * Tokens whose tag already checked out, with their claims: a device sends
   * the same token on every request for 15 minutes, and decoding plus an
   * HMAC per request was a tenth of a busy relay's CPU. Vault and expiry
   * are still checked on every use.
   */
  readonly #verified = new Map<string, TokenClaims>();

  constructor(secret: Uint8Array, o: { tokenTtlMs?: number; now?: () => number } = {}) {
    // One key per purpose, so a challenge's tag can never pass as a token's.
    this.#challengeKey = hmac(secret, 'kith/v1/relay-challenge');
    this.#tokenKey = hmac(secret, 'kith/v1/relay-token');
    this.#ttlMs = o.tokenTtlMs ?? DEFAULT_TOKEN_TTL_MS;
    this.#now = o.now ?? Date.now;
  }

  /** A fresh challenge for `signer` of `vault`. */
  challenge(vault: string, signer: string): Uint8Array {
    const body = challengeBody({ vault, signer, expiresAt: this.#now() + CHALLENGE_TTL_MS, nonce: randomBytes(CHALLENGE_NONCE_BYTES) });
    return Buffer.concat([body, hmac(this.#challengeKey, body)]);
  }

  /** Checks a challenge sent back for `vault` and spends it; the fields, or why not. */
  spendChallenge(bytes: Uint8Array, vault: string): ChallengeFields | Refusal {
    let c: ReturnType<typeof decodeChallenge>;
    try {
      c = decodeChallenge(bytes);
    } catch {
      return 'malformed';
    }
    if (!equal(hmac(this.#challengeKey, c.body), c.tag)) return 'forged';
    if (c.vault !== vault) return 'other-vault';
    const now = this.#now();
    if (c.expiresAt <= now) return 'expired';
    const id = Buffer.from(c.nonce).toString('hex');
    if (this.#used.has(id)) return 'replayed';
    if (this.#used.size >= MAX_USED) for (const [k, exp] of this.#used) if (exp <= now || this.#used.size >= MAX_USED) this.#used.delete(k);
    this.#used.set(id, c.expiresAt);
    return c;
  }

  /** A token for `claims`, valid for the configured lifetime. */
  issue(claims: Omit<TokenClaims, 'expiresAt'>): TokenAnswer {
    const expiresAt = this.#now() + this.#ttlMs;
    const payload = Buffer.from(
      JSON.stringify({
        vault: claims.vault,
        vaultId: claims.vaultId,
        signer: claims.signer,
        ...(claims.person !== undefined ? { person: claims.person } : {}),
        expiresAt,
      }),
    );
    return { token: `v1.${toBase64url(payload)}.${toBase64url(hmac(this.#tokenKey, payload))}`, expiresAt, expiresInMs: this.#ttlMs };
  }

  /** The claims of a token presented for `vault`, or why it is refused. */
  verify(token: string, vault: string): TokenClaims | Refusal {
    const claims = this.#verified.get(token) ?? this.#checkTag(token);
    if (typeof claims === 'string') return claims;
    if (claims.vault !== vault) return 'other-vault';
    if (!(claims.expiresAt > this.#now())) {
      this.#verified.delete(token);
      return 'expired';
    }
    return claims;
  }

  /** Decodes a token and checks its tag; remembers it when it checks out. */
  #checkTag(token: string): TokenClaims | Refusal {
    const m = TOKEN_RE.exec(token);
    if (!m) return 'malformed';
    let payload: Uint8Array;
    let tag: Uint8Array;
    try {
      payload = fromBase64url(m[1]!);
      tag = fromBase64url(m[2]!);
    } catch {
      return 'malformed';
    }
    if (!equal(hmac(this.#tokenKey, payload), tag)) return 'forged';
    const claims = JSON.parse(Buffer.from(payload).toString('utf8')) as TokenClaims;
    if (this.#verified.size >= MAX_VERIFIED) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(token, claims);
    return claims;
  }
}

function hmac(key: Uint8Array, data: Uint8Array | string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
