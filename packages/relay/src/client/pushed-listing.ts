/**
 * @module client/pushed-listing
 * A listing of one prefix (`heads/`) kept current by the push socket: seeded
 * by a listing from the relay, then moved by every `changed` message that
 * brings the object's etag and bytes. While it holds, listing the prefix
 * and reading what moved need no request: a device told of a new head reads
 * only the segments it names. This client's own writes, which the relay
 * does not push back, come in with the etag the relay answered them with.
 * Anything it cannot follow exactly (a change without bytes, a gap in the
 * socket's subscription, an own write answered without an etag, two own
 * writes of one key at once) drops it until the next listing;
 * and it answers only for a while after the listing that seeded it, which
 * bounds how stale it gets if the relay loses a notice.
 */
import type { RemoteObjectInfo } from '@kith/core/adapter';

/** A listed object with its bytes. */
export interface PushedObject extends RemoteObjectInfo {
  readonly body?: Uint8Array;
}

/** Where a listing started (see {@link PushedListing.mark}). */
export interface ListingMark {
  readonly stamp: number;
  readonly changes: number;
}

/** The pushed view of one prefix; the push channel's stamp says whether its subscription held. */
export class PushedListing {
  readonly prefix: string;
  readonly #trustMs: number;
  #entries: Map<string, PushedObject> | undefined;
  /** The push stamp it was seeded under, and until when it answers. */
  #stamp = 0;
  #until = 0;
  /** Changes under the prefix told so far (a listing during which one came is not used to seed). */
  #changes = 0;
  /** This client's writes by key: how many began (a later one makes an earlier one's answer moot). */
  readonly #writes = new Map<string, number>();

  constructor(prefix: string, trustMs: number) {
    this.prefix = prefix;
    this.#trustMs = trustMs;
  }

  /** Taken before a listing of the prefix, under push stamp `stamp` (undefined: the socket does not follow the prefix). */
  mark(stamp: number | undefined): ListingMark | undefined {
    return stamp === undefined ? undefined : { stamp, changes: this.#changes };
  }

  /** The listing started at `mark` came back as `items`: it seeds the view if the socket held and told of nothing meanwhile. */
  seed(mark: ListingMark | undefined, stamp: number | undefined, items: readonly PushedObject[], now: number): void {
    if (mark === undefined || stamp !== mark.stamp || this.#changes !== mark.changes) return;
    this.#entries = new Map(items.map((i) => [i.key, i]));
    this.#stamp = stamp;
    this.#until = now + this.#trustMs;
  }

  /** A `changed` message for `key`: its etag and bytes when the relay sent them. */
  changed(key: string, pushed: { etag: string; body: Uint8Array } | undefined): void {
    if (!key.startsWith(this.prefix)) return;
    this.#changes++;
    if (pushed) this.#entries?.set(key, { key, size: pushed.body.length, etag: pushed.etag, body: pushed.body });
    else this.#entries = undefined;
  }

  /** Something moved that this view cannot follow (this client's own write, before it is sent and once answered). */
  drop(): void {
    this.#changes++;
    this.#entries = undefined;
  }

  /**
   * This client is writing `key`: a listing in flight no longer seeds the
   * view (it may show the key before or after). Returns the function to
   * call with the outcome: the etag the relay answered (a relay older than
   * push bodies names none) and the bytes, or undefined when the write
   * failed; without an etag, or when another write of the key began
   * meanwhile, the view is dropped.
   */
  writing(key: string): (done: { etag: string; body: Uint8Array } | undefined) => void {
    if (!key.startsWith(this.prefix)) return () => undefined;
    this.#changes++;
    const n = (this.#writes.get(key) ?? 0) + 1;
    this.#writes.set(key, n);
    return (done) => {
      const alone = this.#writes.get(key) === n;
      if (alone) this.#writes.delete(key);
      this.#changes++;
      if (done && alone) this.#entries?.set(key, { key, size: done.body.length, etag: done.etag, body: done.body });
      else this.#entries = undefined;
    };
  }

  /** The listing, in key order, while the view holds under push stamp `stamp`; else undefined. */
  answer(stamp: number | undefined, now: number): PushedObject[] | undefined {
    if (!this.#entries || stamp !== this.#stamp || now >= this.#until) return undefined;
    return [...this.#entries.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}
