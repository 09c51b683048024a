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
import { personIdOf, type SpaceState } from '@kith/core/spaces';
import type { WebSocket } from 'ws';
import { assertSigner, FIRST_MEMBERSHIP_KEY, personOfSigner, type ChallengeAnswer, type TokenAnswer } from '@kith/relay/protocol';
import type { RelayLogger } from '../relay-log.js';
import type { RelayStorage } from '../relay-storage.js';
import { ANONYMOUS_BODY_LIMIT, inviteMessage, openWithoutToken, RelayError, type RouteKind } from './access.js';
import { DEFAULT_RATE_LIMITS, RateLimiter, type RelayRateLimits } from './limits.js';
import { RegistryCache } from './registry-cache.js';
import type { RegistryTrust } from './checked-cache.js';
import { SpaceCache } from './space-cache.js';
import { assertSpaceAdmits, spaceAdmits, spaceSignerKeys } from './space-access.js';
import { AuthTokens, type Refusal, type TokenClaims } from './tokens.js';
import { Watchers } from './watchers.js';

/** Who a request comes from, once its token checked out. */
export interface Principal {
  readonly vault: string;
  readonly vaultId: string;
  /** A deviceId, `recovery` or `password`; in a space, a deviceId or `person:<personId>`. */
  readonly signer: string;
  /** In a space: the person the signer acts for. */
  readonly person?: string;
  /** In a space: its state as checked for this request (undefined while a founder's person signs in before entry 1 exists). */
  readonly space?: SpaceState;
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

const noVault = (): RelayError =>
  new RelayError(404, ErrorCode.RemoteEmpty, 'there is no vault under this name', {
    hint: 'check the remote URL, or create the vault with `kith init`',
  });

/** A public key sent as base64url, or undefined when it is not 32 bytes of it. */
function decodeKey(text: string): Uint8Array | undefined {
  try {
    const key = fromBase64url(text);
    return key.length === 32 ? key : undefined;
  } catch {
    return undefined;
  }
}

/** True for a read of a membership entry up to the one that ended `person`'s membership. */
function readsOwnRemoval(space: SpaceState, person: string, f: RequestFacts): boolean {
  const gone = space.m.removal(person);
  const seq = f.key === undefined ? undefined : /^members\/(\d{12})$/.exec(f.key)?.[1];
  return gone !== undefined && f.kind === 'object' && (f.method === 'GET' || f.method === 'HEAD') && seq !== undefined && Number(seq) <= gone.seq;
}

/** Authentication and rate limits of one relay process. */
export class RelayAuth {
  readonly registries: RegistryCache;
  readonly spaces: SpaceCache;
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
    this.spaces = new SpaceCache(db, log, (vault, state) => this.#spaceMoved(vault, state), o.registryTrust);
    this.#device = new RateLimiter(o.rateLimit?.device ?? DEFAULT_RATE_LIMITS.device, o.now);
    this.#anonymous = new RateLimiter(o.rateLimit?.anonymous ?? DEFAULT_RATE_LIMITS.anonymous, o.now);
    this.#sweep = setInterval(() => {
      for (const vault of this.#watchers.vaults()) void this.#recheck(vault).catch(() => undefined);
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
      // Invites are a space's: elsewhere the key is as closed as any other.
      if (f.key !== undefined && inviteMessage(f.key) !== undefined && !(await this.spaces.current(f.vault)))
        throw this.#refuse(401, 'no token', 'this request needs a device token');
      return undefined;
    }
    const claims = this.#tokens.verify(f.token, f.vault);
    if (typeof claims === 'string') {
      this.#limit(this.#anonymous, f.client);
      throw this.#refuse(401, claims, REFUSED[claims]);
    }
    this.#limit(this.#device, `${f.vault}/${claims.signer}`);
    if (claims.person !== undefined) return this.#admitToSpace(f, claims);
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
    const b = body as { challenge?: unknown; signature?: unknown; signPub?: unknown } | undefined;
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
    const replay = this.spaces.has(vault) ? null : await this.registries.current(vault);
    if (!replay) return this.#spaceToken(vault, fields.signer, challenge, signature, b.signPub);
    const pub = this.#admitted(replay, fields.signer);
    if (!(await verifyRemoteAuth(replay.vaultId, pub, challenge, signature)))
      throw this.#refuse(401, 'bad signature', 'the challenge signature does not verify');
    return this.#tokens.issue({ vault, vaultId: replay.vaultId, signer: fields.signer });
  }

  /**
   * A token for a space vault: a device of a current member's newest
   * certificate, or a current member's person; or the founder's person
   * before entry 1 exists, proving the key it sends (the only key entry 1
   * may name for it, as the personId is derived from it).
   */
  async #spaceToken(vault: string, signer: string, challenge: Uint8Array, signature: Uint8Array, signPub: unknown): Promise<TokenAnswer> {
    const space = await this.spaces.current(vault);
    const person = personOfSigner(signer);
    if (!space) {
      const pub = typeof signPub === 'string' && signPub.length <= 64 ? decodeKey(signPub) : undefined;
      if (person === undefined || !/^[0-9a-f]{32}$/.test(vault) || !pub) throw noVault();
      if (personIdOf(pub) !== person) throw this.#refuse(401, 'bad signature', 'the key sent is not the person’s');
      if (!(await verifyRemoteAuth(vault, pub, challenge, signature))) throw this.#refuse(401, 'bad signature', 'the challenge signature does not verify');
      return this.#tokens.issue({ vault, vaultId: vault, signer, person });
    }
    let keys: { person: string; signPub: Uint8Array }[];
    try {
      keys = spaceSignerKeys(space, signer);
    } catch (e) {
      throw this.#logged(e);
    }
    for (const k of keys) {
      if (await verifyRemoteAuth(space.spaceId, k.signPub, challenge, signature))
        return this.#tokens.issue({ vault, vaultId: space.spaceId, signer, person: k.person });
    }
    throw this.#refuse(401, 'bad signature', 'the challenge signature does not verify');
  }

  /** A space token's request: its signer admitted by the space's state now (or a founder's before the space exists). */
  async #admitToSpace(f: RequestFacts, claims: TokenClaims): Promise<Principal> {
    const person = claims.person!;
    const space = await this.spaces.current(f.vault);
    const who = { vault: f.vault, vaultId: claims.vaultId, signer: claims.signer, person };
    if (!space) {
      // The founder's person, before entry 1: entry 1 is all it may touch (whatever else the name may come to hold, a vault above all).
      const founding = f.kind === 'object' && f.key === FIRST_MEMBERSHIP_KEY && ['PUT', 'GET', 'HEAD'].includes(f.method);
      if (claims.vaultId !== f.vault || personOfSigner(claims.signer) !== person)
        throw this.#refuse(401, 'vault replaced', 'the token belongs to a vault that no longer exists under this name');
      if (!founding) throw this.#refuse(403, 'no space yet', 'the space does not exist yet: its founder writes its first membership entry first');
      return who;
    }
    if (space.spaceId !== claims.vaultId) throw this.#refuse(401, 'vault replaced', 'the token belongs to a vault that no longer exists under this name');
    try {
      assertSpaceAdmits(space, { person, device: personOfSigner(claims.signer) === undefined ? claims.signer : undefined });
    } catch (e) {
      // Someone just gone still reads the entries up to the one that ended their membership (a leave's read-back, who removed them).
      if (!readsOwnRemoval(space, person, f)) throw this.#logged(e);
    }
    return { ...who, space };
  }

  /** Logs a space refusal by its code and hands it on. */
  #logged(e: unknown): unknown {
    if (e instanceof RelayError) this.#log({ level: 'warn', msg: 'auth refused', reason: e.code, status: e.status });
    return e;
  }

  /** Tracks a watch socket opened by `p`, to close it if the registry (or the space) stops admitting its signer. */
  watching(p: Principal, socket: WebSocket): void {
    this.#watchers.track(p.vault, p.person === undefined ? p.signer : `${p.person} ${p.signer}`, socket);
  }

  /**
   * A `members/`, `people/` or `epochs/` key of `vault` moved (maybe in
   * another process): as {@link registryChanged}, for a space.
   */
  spaceChanged(vault: string): Promise<unknown> {
    return this.#changed(this.spaces, vault);
  }

  /**
   * A `registry/*` key of `vault` moved (maybe in another process): catch up
   * if anyone here cares (a cached registry, or sockets, which are closed if
   * their signer is refused). Resolves once that is done.
   */
  registryChanged(vault: string): Promise<unknown> {
    return this.#changed(this.registries, vault);
  }

  #changed(cache: RegistryCache | SpaceCache, vault: string): Promise<unknown> {
    cache.distrust(vault);
    if (!cache.has(vault) && !this.#watchers.has(vault)) return Promise.resolve();
    const settled = cache.current(vault);
    settled.catch(() => undefined);
    return settled;
  }

  /** The change bus may have lost notices: no cached registry is trusted until checked again. */
  changesMissed(): void {
    this.registries.distrustAll();
    this.spaces.distrustAll();
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

  /** Catches up whichever cache serves `vault` (a space dropped from its cache is found again behind the registry's miss). */
  async #recheck(vault: string): Promise<void> {
    if (this.spaces.has(vault) || !(await this.registries.current(vault))) await this.spaces.current(vault);
  }

  #spaceMoved(vault: string, state: SpaceState): void {
    const closed = this.#watchers.closeRefused(vault, (key) => {
      const [person, signer] = key.split(' ');
      return signer !== undefined && spaceAdmits(state, { person: person!, device: personOfSigner(signer) === undefined ? signer : undefined });
    });
    if (closed > 0) this.#log({ level: 'info', msg: 'watch sockets closed', reason: 'removed', sockets: closed });
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
