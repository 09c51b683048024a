/**
 * @module client/relay-listings
 * Listings as the relay client answers them: page by page from the relay,
 * or with no round trip where the push socket vouches for the answer (an
 * empty registry listing asked again within a second; `heads/` as the
 * pushed view holds it, see pushed-listing.ts). The bytes of heads that
 * come with a listing of `heads/` answer the reads that follow it
 * (listed-bodies.ts). The relay does not tell a writer of its own writes,
 * so the remote tells this of each one.
 */
import { fromBase64url, remoteKeys, type ListOptions, type RemoteObjectInfo } from '@kith/core/adapter';
import { MAX_PAGE } from '../protocol.js';
import { LISTED_BODY_MS, ListedBodies } from './listed-bodies.js';
import type { PushChannel } from './push-channel.js';
import { PushedListing } from './pushed-listing.js';

/**
 * How long "nothing new in the registry" from a listing may answer the
 * same question again while the push socket vouches for it. Short: it
 * bounds how stale the answer gets if the relay loses a notice.
 */
const REGISTRY_QUIET_MS = 1000;
/**
 * How long a listing of `heads/` kept current by the push socket (see
 * pushed-listing.ts) answers for after the listing that seeded it: it
 * bounds how stale the answer gets if the relay loses a notice. Every gap
 * the socket knows of (a reconnect, the relay's 1012 when a scale-out
 * process lost its change bus, a new watch request) drops the view at once,
 * so this only guards against a notice lost without one; at 5 s, a thousand
 * told devices listed `heads/` 200 times a second between them.
 */
const PUSHED_HEADS_MS = 30_000;

/** One page of a listing as the relay answers it; with `bodies`, small objects' bytes come along (base64url). */
export interface ListingPage {
  readonly items: readonly (RemoteObjectInfo & { readonly body?: string })[];
  readonly next?: string;
}

/** Asks the relay for one page of `prefix` after `after`. */
export type ListPage = (prefix: string, after: string, limit: number, bodies: boolean, signal: AbortSignal | undefined) => Promise<ListingPage>;

/** What the remote knows of listings beyond the relay's answers, and the listing itself. */
export class RelayListings {
  readonly #push: Pick<PushChannel, 'quietStamp' | 'bodiesStamp'>;
  readonly #page: ListPage;
  /** A registry listing after `after` came back empty under push stamp `stamp` (see {@link PushChannel.quietStamp}). */
  #registryQuiet: { after: string; stamp: number; until: number } | undefined;
  /** Bytes of heads from the last listing of `heads/`, for one read that names their etag. */
  readonly #listedBodies = new ListedBodies();
  /** `heads/` as the relay last listed it, moved on by what the push socket brought since. */
  readonly #pushedHeads = new PushedListing(remoteKeys.headsPrefix, PUSHED_HEADS_MS);

  constructor(push: Pick<PushChannel, 'quietStamp' | 'bodiesStamp'>, page: ListPage) {
    this.#push = push;
    this.#page = page;
  }

  /**
   * Lists `prefix`. A device lists the registry after its last entry before
   * every push (to learn of revocations first); while the push socket is
   * open and has told of no registry change since such a listing came back
   * empty, the same question is answered from it for a second without a
   * round trip.
   */
  async list(prefix: string, o: ListOptions): Promise<RemoteObjectInfo[]> {
    const registry = prefix === remoteKeys.registryPrefix && o.limit === undefined;
    const quiet = this.#registryQuiet;
    if (registry && quiet && (o.after ?? '') >= quiet.after && this.#push.quietStamp === quiet.stamp && Date.now() < quiet.until) return [];
    const stamp = registry ? this.#push.quietStamp : undefined;
    if (prefix === remoteKeys.headsPrefix && o.after === undefined && o.limit === undefined) return this.#listHeads(o);
    const out = await this.#list(prefix, o, prefix === remoteKeys.headsPrefix);
    if (stamp !== undefined && out.length === 0 && this.#push.quietStamp === stamp)
      this.#registryQuiet = { after: o.after ?? '', stamp, until: Date.now() + REGISTRY_QUIET_MS };
    return out;
  }

  /** A read of `key` names the etag its listing gave: the bytes that came with that listing, once, if still fresh. */
  takeListed(key: string, etag: string): Uint8Array | undefined {
    return this.#listedBodies.take(key, etag, Date.now());
  }

  /** The push socket told of a change of `key`, with its etag and bytes when the relay sent them. */
  pushed(key: string, pushed: { etag: string; body: Uint8Array } | undefined): void {
    this.#pushedHeads.changed(key, pushed);
  }

  /** This client starts a write of `key`; call the answer with the etag and bytes the relay took (undefined: unknown, or it failed). */
  writing(key: string): (wrote: { etag: string; body: Uint8Array } | undefined) => void {
    if (key.startsWith(remoteKeys.registryPrefix)) this.#registryQuiet = undefined;
    this.#listedBodies.forget(key);
    // The pushed view of heads/ learns this write from the relay's answer (its etag), as it is not told of it.
    const wrote = this.#pushedHeads.writing(key);
    return (w) => {
      this.#listedBodies.forget(key);
      wrote(w);
    };
  }

  /** This client deletes `key`: what it knew of the key's bytes no longer holds. */
  forget(key: string): void {
    this.#listedBodies.forget(key);
    if (key.startsWith(this.#pushedHeads.prefix)) this.#pushedHeads.drop();
  }

  /**
   * Lists every head: from the pushed view while it holds (its bytes then
   * answer the reads that follow, as a listing's would), else from the
   * relay, seeding the view.
   */
  async #listHeads(o: ListOptions): Promise<RemoteObjectInfo[]> {
    const heads = this.#pushedHeads;
    const pushed = heads.answer(this.#push.bodiesStamp(heads.prefix), Date.now());
    if (pushed) {
      this.#listedBodies.clear();
      const until = Date.now() + LISTED_BODY_MS;
      for (const i of pushed) if (i.body) this.#listedBodies.keep(i.key, i.etag, i.body, until);
      return pushed.map(({ key, size, etag }) => ({ key, size, etag }));
    }
    const mark = heads.mark(this.#push.bodiesStamp(heads.prefix));
    const out = await this.#list(heads.prefix, o, true);
    heads.seed(
      mark,
      this.#push.bodiesStamp(heads.prefix),
      out.map((i) => {
        const body = this.#listedBodies.bodyOf(i.key, i.etag);
        return { ...i, ...(body ? { body } : {}) };
      }),
      Date.now(),
    );
    return out;
  }

  /** Lists page by page; with `bodies`, small objects' bytes come along and answer their next read. */
  async #list(prefix: string, o: ListOptions, bodies = false): Promise<RemoteObjectInfo[]> {
    const out: RemoteObjectInfo[] = [];
    let after = o.after ?? '';
    const want = o.limit ?? Infinity;
    if (bodies) this.#listedBodies.clear();
    const until = Date.now() + LISTED_BODY_MS;
    while (out.length < want) {
      const page = await this.#page(prefix, after, Math.min(MAX_PAGE, want - out.length), bodies, o.signal);
      for (const i of page.items) {
        // A body that does not decode to the listed size is not kept (the read then asks the relay).
        const body = bodies && typeof i.body === 'string' ? decodeBody(i.body) : undefined;
        if (body?.length === i.size) this.#listedBodies.keep(i.key, i.etag, body, until);
      }
      out.push(...page.items.map((i) => ({ key: i.key, size: i.size, etag: i.etag })));
      if (page.next === undefined || page.items.length === 0) break;
      after = page.next;
    }
    return out;
  }
}

function decodeBody(s: string): Uint8Array | undefined {
  try {
    return fromBase64url(s);
  } catch {
    return undefined;
  }
}
