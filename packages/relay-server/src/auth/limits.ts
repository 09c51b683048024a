/**
 * @module server/auth/limits
 * Bounds on what one client can take: a token bucket per device (or per
 * address for requests without a token), and stored bytes per vault. Both
 * are counted per relay process; see the README for what that means in
 * scale-out.
 */
import { ErrorCode } from '@kith/core/adapter';
import type { RelayStorage } from '../relay-storage.js';
import { MAX_PAGE } from '@kith/relay/protocol';
import { RelayError } from './access.js';

/** A sustained rate and a burst. */
export interface Rate {
  readonly perSecond: number;
  readonly burst: number;
}

/** Request rates: per registered signer, and per client address for requests without a token. */
export interface RelayRateLimits {
  readonly device: Rate;
  readonly anonymous: Rate;
}

/** Defaults: a device may sync a large vault flat out; an address without a token gets enough to bootstrap. */
export const DEFAULT_RATE_LIMITS: RelayRateLimits = { device: { perSecond: 200, burst: 1000 }, anonymous: { perSecond: 10, burst: 100 } };

/** Keys the buckets remember at most (idle ones go first). */
const MAX_BUCKETS = 100_000;

/** Token buckets by key. */
export class RateLimiter {
  readonly #rate: Rate;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(rate: Rate, now: () => number = Date.now) {
    this.#rate = rate;
    this.#now = now;
  }

  /** Takes one token for `key`: 0 when allowed, else the ms to wait before the next one. */
  take(key: string): number {
    const now = this.#now();
    const b = this.#buckets.get(key) ?? { tokens: this.#rate.burst, at: now };
    this.#buckets.delete(key); // re-inserted last: the map stays in order of use
    b.tokens = Math.min(this.#rate.burst, b.tokens + ((now - b.at) / 1000) * this.#rate.perSecond);
    b.at = now;
    const wait = b.tokens >= 1 ? 0 : Math.ceil(((1 - b.tokens) / this.#rate.perSecond) * 1000);
    if (wait === 0) b.tokens -= 1;
    this.#buckets.set(key, b);
    if (this.#buckets.size > MAX_BUCKETS) this.#buckets.delete(this.#buckets.keys().next().value!);
    return wait;
  }
}

/** Vaults whose usage stays in memory; others are measured again when next written. */
const MAX_METERED = 10_000;

/** Default quota: stored bytes per vault. */
export const DEFAULT_QUOTA_BYTES = 10 * 1024 ** 3;

/**
 * Stored bytes per vault, against a quota. A vault is measured once (a
 * listing of all its objects) the first time this process writes to it,
 * then kept up to date by this process's own puts and deletes; with other
 * processes writing too, it is measured again after `remeasureMs`.
 */
export class QuotaMeter {
  readonly #db: RelayStorage;
  readonly #quota: number;
  readonly #remeasureMs: number;
  readonly #now: () => number;
  readonly #usage = new Map<string, { bytes: number; at: number }>();
  readonly #measuring = new Map<string, Promise<{ bytes: number; at: number }>>();

  constructor(db: RelayStorage, quotaBytes: number, remeasureMs: number, now: () => number = Date.now) {
    this.#db = db;
    this.#quota = quotaBytes;
    this.#remeasureMs = remeasureMs;
    this.#now = now;
  }

  /** False when there is no quota (nothing is measured). */
  get enabled(): boolean {
    return Number.isFinite(this.#quota);
  }

  /** The bytes an object holds now (0 when missing): what overwriting or deleting it frees. */
  async sizeOf(vault: string, key: string): Promise<number> {
    return this.enabled ? ((await this.#db.head(vault, key))?.size ?? 0) : 0;
  }

  /**
   * Throws 507 KITH_QUOTA_EXCEEDED when adding `delta` bytes would pass the
   * quota; `freed` (what the write replaces) is asked for only then.
   */
  async check(vault: string, delta: number, freed?: () => Promise<number>): Promise<void> {
    if (!this.enabled || delta <= 0) return;
    const used = (await this.#measured(vault)).bytes;
    if (used + delta > this.#quota && freed) delta -= await freed();
    if (delta > 0 && used + delta > this.#quota) {
      throw new RelayError(
        507,
        ErrorCode.QuotaExceeded,
        `this vault's storage quota on the relay is full (${mib(used)} of ${mib(this.#quota)} used; this write needs ${mib(delta)} more)`,
        {
          hint: 'delete attachments you no longer need, or ask the relay operator for a larger quota',
        },
      );
    }
  }

  /** Records that `delta` bytes were stored (negative: freed). */
  async add(vault: string, delta: number): Promise<void> {
    if (!this.enabled || delta === 0) return;
    const m = await this.#measured(vault);
    m.bytes = Math.max(0, m.bytes + delta);
  }

  async #measured(vault: string): Promise<{ bytes: number; at: number }> {
    const known = this.#usage.get(vault);
    if (known && this.#now() - known.at <= this.#remeasureMs) return known;
    let measuring = this.#measuring.get(vault);
    if (!measuring) {
      measuring = this.#measure(vault).finally(() => this.#measuring.delete(vault));
      this.#measuring.set(vault, measuring);
      measuring.then(
        (m) => {
          this.#usage.delete(vault);
          this.#usage.set(vault, m);
          if (this.#usage.size > MAX_METERED) this.#usage.delete(this.#usage.keys().next().value!);
        },
        () => undefined,
      );
    }
    // A stale figure serves while it is measured again; a vault never measured waits.
    return known ?? measuring;
  }

  async #measure(vault: string): Promise<{ bytes: number; at: number }> {
    const at = this.#now();
    let bytes = 0;
    let after = '';
    for (;;) {
      const page = await this.#db.list(vault, '', after, MAX_PAGE);
      for (const i of page.items) bytes += i.size;
      if (page.next === undefined || page.items.length === 0) break;
      after = page.next;
    }
    return { bytes, at };
  }
}

function mib(n: number): string {
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}
