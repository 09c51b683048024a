/**
 * @module client/listed-bodies
 * The bytes of heads that came with a listing of `heads/`, each kept for
 * one read that names the listed etag (`ListedGetOptions.listed`): a pull
 * reads the heads that moved right after listing them, so this spares it
 * one round trip per moved head. Reads without `listed` always ask the relay.
 */

/** How long a listed head's bytes may answer such a read. */
export const LISTED_BODY_MS = 1000;

export class ListedBodies {
  readonly #bodies = new Map<string, { etag: string; body: Uint8Array; until: number }>();

  /** A new listing replaces what the last one brought. */
  clear(): void {
    this.#bodies.clear();
  }

  /** Keeps `body` of `key` as listed with `etag` until `until` (ms). */
  keep(key: string, etag: string, body: Uint8Array, until: number): void {
    this.#bodies.set(key, { etag, body, until });
  }

  /** This client writes `key`: its listed bytes no longer hold (the relay does not tell a writer of its own writes). */
  forget(key: string): void {
    this.#bodies.delete(key);
  }

  /** The kept bytes of `key` if they are the version listed with `etag`. */
  bodyOf(key: string, etag: string): Uint8Array | undefined {
    const b = this.#bodies.get(key);
    return b?.etag === etag ? b.body : undefined;
  }

  /**
   * Answers a read of `key` that names the etag its listing gave (`listed`),
   * once: the bytes if they are that version and still fresh at `now`.
   * Kept bytes go at the first such read whatever it gets.
   */
  take(key: string, listed: string, now: number): Uint8Array | undefined {
    const b = this.#bodies.get(key);
    if (!b) return undefined;
    this.#bodies.delete(key);
    return b.etag === listed && now < b.until ? b.body : undefined;
  }
}
