/**
 * @module server/auth/relay-auth
 * Device authentication for the relay: a device signs a challenge with the
 * key the vault's registry holds for it and gets a short-lived bearer
 * token; every request is then checked against the registry as storage
 * holds it at that moment, so a revocation counts for the next request and
 * closes the device's watch socket. Also the per-signer and per-address
 * rate limits. The write rules for the few keys with meaning to the relay
 * live in writes.ts.
 */
import { ErrorCode, KithError } from '@kith/core/adapter';
import { fromBase64url, verifyRemoteAuth, type RegistryReplay } from '@kith/core/relay';
import type { WebSocket } from 'ws';
import { assertSigner, type ChallengeAnswer, type TokenAnswer } from '@kith/relay/protocol';
import type { RelayLogger } from '../relay-log.js';
import type { RelayStorage } from '../relay-storage.js';
import { ANONYMOUS_BODY_LIMIT, openWithoutToken, RelayError, type RouteKind } from './access.js';
import { DEFAULT_RATE_LIMITS, RateLimiter, type RelayRateLimits } from './limits.js';
import { RegistryCache, type RegistryTrust } from './registry-cache.js';
import { AuthTokens, type Refusal } from './tokens.js';
import { Watchers } from './watchers.js';

/** Who a request comes from, once its token checked out. */
export interface Principal {
  readonly vault: string;
  readonly vaultId: string;
  /** A deviceId, `recovery` or `password`. */
  readonly signer: string;
}

/** What the relay knows of a request before its body. */
export interface RequestFacts {
  readonly kind: RouteKind;
  readonly method: string;
  readonly vault: string;
  readonly key?: string;
  readonly prefix?: string;
  /** The bearer token, if one came. */
  readonly token?: string;
  /** The client's address (the rate-limit key without a token). */
  readonly client: string;
  readonly contentLength?: number;
}

export interface RelayAuthOptions {
  readonly secret: Uint8Array;
  readonly tokenTtlMs?: number;
  readonly rateLimit?: Partial<RelayRateLimits>;
  /** How often vaults with open watch sockets are checked for a revocation the change bus did not bring. */
  readonly sweepMs?: number;
  /** How long a registry check that found nothing new is trusted while the change bus is up (see RegistryCache). */
  readonly registryTrust?: RegistryTrust;
  readonly now?: () => number;
}

const REFUSED: Record<Refusal, string> = {
  malformed: 'the token is malformed',
  forged: 'the token was not issued by this relay (or its secret changed)',
  expired: 'the token expired',
  'other-vault': 'the token belongs to another vault',
  replayed: 'the challenge was already answered',
};

/** Authentication and rate limits of one relay process. */
export class RelayAuth {
  readonly registries: RegistryCache;
  readonly #tokens: AuthTokens;
  readonly #log: RelayLogger;
  readonly #watchers = new Watchers();
  readonly #device: RateLimiter;
  readonly #anonymous: RateLimiter;
  readonly #sweep: ReturnType<typeof setInterval>;

  constructor(db: RelayStorage, log: RelayLogger, o: RelayAuthOptions) {
    this.#log = log;
    this.#tokens = new AuthTokens(o.secret, { ...(o.tokenTtlMs !== undefined ? { tokenTtlMs: o.tokenTtlMs } : {}), ...(o.now ? { now: o.now } : {}) });
    this.registries = new RegistryCache(db, log, (vault, replay) => this.#registryMoved(vault, replay), o.registryTrust);
    this.#device = new RateLimiter(o.rateLimit?.device ?? DEFAULT_RATE_LIMITS.device, o.now);
    this.#anonymous = new RateLimiter(o.rateLimit?.anonymous ?? DEFAULT_RATE_LIMITS.anonymous, o.now);
    this.#sweep = setInterval(() => {
      for (const vault of this.#watchers.vaults()) void this.registries.current(vault).catch(() => undefined);
    }, o.sweepMs ?? 30_000);
    this.#sweep.unref();
  }

  /**
   * Decides a request before its body is read: the principal its token
   * names, or undefined for a request without one that may go ahead
   * without. Throws a {@link RelayError} (401, 403, 413, 429) otherwise.
   */
  async admit(f: RequestFacts): Promise<Principal | undefined> {
    if (f.token === undefined) {
      this.#limit(this.#anonymous, f.client);
      if (!openWithoutToken(f.kind, f.method, f.key, f.prefix)) {
        throw this.#refuse(401, 'no token', 'this request needs a device token', 'the relay serves only registered devices of the vault');
      }
      if ((f.contentLength ?? 0) > ANONYMOUS_BODY_LIMIT)
        throw new RelayError(413, ErrorCode.TooLarge, `a request without a token may send at most ${ANONYMOUS_BODY_LIMIT} bytes`);
      return undefined;
    }
    const claims = this.#tokens.verify(f.token, f.vault);
    if (typeof claims === 'string') {
      this.#limit(this.#anonymous, f.client);
      throw this.#refuse(401, claims, REFUSED[claims]);
    }
    this.#limit(this.#device, `${f.vault}/${claims.signer}`);
    const replay = await this.registries.current(f.vault);
    if (!replay || replay.vaultId !== claims.vaultId)
      throw this.#refuse(401, 'vault replaced', 'the token belongs to a vault that no longer exists under this name');
    this.#admitted(replay, claims.signer);
    return { vault: f.vault, vaultId: claims.vaultId, signer: claims.signer };
  }

  /** `POST .../auth/challenge`: a challenge for the signer named in `body`. */
  challenge(vault: string, body: unknown): ChallengeAnswer {
    const signer = (body as { signer?: unknown } | undefined)?.signer;
    assertSigner(signer);
    return { challenge: Buffer.from(this.#tokens.challenge(vault, signer)).toString('base64url') };
  }

  /** `POST .../auth/token`: a token for a challenge signed by a key the registry admits now. */
  async token(vault: string, body: unknown): Promise<TokenAnswer> {
    const b = body as { challenge?: unknown; signature?: unknown } | undefined;
    if (typeof b?.challenge !== 'string' || typeof b.signature !== 'string' || b.challenge.length > 1024 || b.signature.length > 128) {
      throw new KithError(ErrorCode.BadInput, 'a token request wants { "challenge": ..., "signature": ... } in base64url');
    }
    let challenge: Uint8Array;
    let signature: Uint8Array;
    try {
      challenge = fromBase64url(b.challenge);
      signature = fromBase64url(b.signature);
    } catch {
      throw new KithError(ErrorCode.BadInput, 'challenge and signature must be base64url');
    }
    const fields = this.#tokens.spendChallenge(challenge, vault);
    if (typeof fields === 'string')
      throw this.#refuse(401, fields, fields === 'replayed' ? REFUSED.replayed : `the challenge is ${fields === 'expired' ? 'expired' : 'not valid here'}`);
    const replay = await this.registries.current(vault);
    if (!replay)
      throw new RelayError(404, ErrorCode.RemoteEmpty, 'there is no vault under this name', {
        hint: 'check the remote URL, or create the vault with `kith init`',
      });
    const pub = this.#admitted(replay, fields.signer);
    if (!(await verifyRemoteAuth(replay.vaultId, pub, challenge, signature)))
      throw this.#refuse(401, 'bad signature', 'the challenge signature does not verify');
    return this.#tokens.issue({ vault, vaultId: replay.vaultId, signer: fields.signer });
  }

  /** Tracks a watch socket opened by `p`, to close it if the registry stops admitting its signer. */
  watching(p: Principal, socket: WebSocket): void {
    this.#watchers.track(p.vault, p.signer, socket);
  }

  /**
   * A `registry/*` key of `vault` moved (maybe in another process): catch up
   * if anyone here cares (a cached registry, or sockets, which are closed if
   * their signer is refused). Resolves once that is done.
   */
  registryChanged(vault: string): Promise<unknown> {
    this.registries.distrust(vault);
    if (!this.registries.has(vault) && !this.#watchers.has(vault)) return Promise.resolve();
    const settled = this.registries.current(vault);
    settled.catch(() => undefined);
    return settled;
  }

  /** The change bus may have lost notices: no cached registry is trusted until checked again. */
  changesMissed(): void {
    this.registries.distrustAll();
  }

  close(): void {
    clearInterval(this.#sweep);
  }

  /** The signer's key if the registry admits it now; else a 403 (KITH_REVOKED for a revoked device). */
  #admitted(replay: RegistryReplay, signer: string): Uint8Array {
    const pub = replay.signPubOf(signer);
    if (pub) return pub;
    if (replay.revoked(signer))
      throw this.#refuse(
        403,
        'revoked',
        'this device was revoked from the vault',
        'it can no longer sync this vault; join again from another device',
        ErrorCode.Revoked,
      );
    throw this.#refuse(
      403,
      'not registered',
      'this key is not registered in the vault',
      'a device joins with `kith pair` on a registered device, or restores with the recovery code',
    );
  }

  #registryMoved(vault: string, replay: RegistryReplay): void {
    const closed = this.#watchers.closeRefused(vault, (signer) => replay.signPubOf(signer) !== undefined);
    if (closed > 0) this.#log({ level: 'info', msg: 'watch sockets closed', reason: 'revoked', sockets: closed });
  }

  #limit(limiter: RateLimiter, key: string): void {
    const wait = limiter.take(key);
    if (wait > 0) {
      this.#log({ level: 'info', msg: 'rate limited', waitMs: wait });
      throw new RelayError(429, ErrorCode.RateLimited, 'too many requests; slow down', { retryAfterMs: wait });
    }
  }

  /** Logs a refusal by its reason only (never the token, the key or the vault) and makes its error. */
  #refuse(status: number, reason: string, message: string, hint?: string, code: ErrorCode = ErrorCode.RemoteAuth): RelayError {
    this.#log({ level: 'warn', msg: 'auth refused', reason, status });
    return new RelayError(status, code, message, hint === undefined ? {} : { hint });
  }
}
