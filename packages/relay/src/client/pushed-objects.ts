/**
 * @module client/pushed-objects
 * Bytes of immutable objects (segments) that the push socket brought, kept
 * for the read that follows: a device told of a new head then reads the
 * segments it names without a request. Only keys that are never rewritten
 * (docs/FORMAT.md, "Remote layout") are kept, so a kept copy is the object;
 * each is used once, for a while, within a memory bound.
 */

interface Kept {
  readonly body: Uint8Array;
  readonly until: number;
}

/** Pushed bytes of write-once objects, oldest dropped first. */
export class PushedObjects {
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #maxBytes: number;
  readonly #kept = new Map<string, Kept>();
  #bytes = 0;

  constructor(prefix: string, ttlMs: number, maxBytes: number) {
    this.#prefix = prefix;
    this.#ttlMs = ttlMs;
    this.#maxBytes = maxBytes;
  }

  /** A `changed` message: its bytes are kept when the key is one of this prefix's. */
  changed(key: string, body: Uint8Array | undefined, now: number): void {
    if (!key.startsWith(this.#prefix)) return;
    this.#remove(key);
    if (!body || body.length > this.#maxBytes) return;
    this.#kept.set(key, { body, until: now + this.#ttlMs });
    this.#bytes += body.length;
    for (const [k, v] of this.#kept) {
      if (this.#bytes <= this.#maxBytes && v.until > now) break;
      this.#remove(k);
    }
  }

  /** The pushed bytes of `key`, once, if still kept. */
  take(key: string, now: number): Uint8Array | undefined {
    const k = this.#kept.get(key);
    if (!k) return undefined;
    this.#remove(key);
    return k.until > now ? k.body : undefined;
  }

  #remove(key: string): void {
    const k = this.#kept.get(key);
    if (!k) return;
    this.#kept.delete(key);
    this.#bytes -= k.body.length;
  }
}
