/**
 * @module client/relay-remote
 * The {@link Remote} over a Kith relay: HTTP for objects (with retries),
 * a WebSocket for push (push-channel.ts), and a batched read for
 * bootstrap. Isomorphic apart from the `ws` fallback on Node < 22.
 */
import { ErrorCode, KithError } from '@kith/core';
import {
  assertRemoteKey,
  assertRemotePrefix,
  bytesEqual,
  fromBase64url,
  remoteKeys,
  throwIfAborted,
  TrafficReports,
  type BatchGetRemote,
  type DeviceKeyRemote,
  type ListedGetOptions,
  type ListedReadRemote,
  type ListOptions,
  type PutOptions,
  type RemoteCallOptions,
  type RemoteDeviceKey,
  type RemoteObjectInfo,
  type RemoteTraffic,
  type TrafficReportingRemote,
  type WatchableRemote,
} from '@kith/core/adapter';
import {
  API_PREFIX,
  BEARER_PROTOCOL_PREFIX,
  CONNECTION_HEADER,
  decodeBatch,
  FIRST_MEMBERSHIP_KEY,
  INVITE_HEADER,
  MAX_PAGE,
  objectPath,
  SIZE_HEADER,
  WS_PROTOCOL,
} from '../protocol.js';
import { describeNetworkError, failure, readBody, readJson } from './answers.js';
import { relayDeviceAuth, type RelayAuthProvider } from './device-auth.js';
import { parseRelayUrl, type RelayLocation } from './relay-url.js';
import { DEFAULT_RELAY_RETRY, TransientError, withRetry, type RelayRetryPolicy } from './retry.js';
import { PushChannel, type WebSocketFactory, type WebSocketLike } from './push-channel.js';
import { PushedListing } from './pushed-listing.js';
import { PushedObjects } from './pushed-objects.js';

export type { RelayAuthProvider } from './device-auth.js';

/** Options of {@link openRelayRemote}; all have defaults. */
export interface RelayRemoteOptions {
  /** Overrides for the retry policy ({@link DEFAULT_RELAY_RETRY}). */
  readonly retry?: Partial<RelayRetryPolicy>;
  /** A request with no answer for this long is abandoned and retried (default 30 s). */
  readonly requestTimeoutMs?: number;
  /** Polling interval while push is down (default 5 s). */
  readonly pollMs?: number;
  /** First and largest reconnect backoff ceilings (defaults 200 ms and 15 s). */
  readonly reconnectMs?: { readonly base?: number; readonly max?: number };
  /**
   * How to authenticate. Usually left out: the vault lends its key through
   * {@link RelayRemote.useDeviceKey} and the remote makes a
   * `relayDeviceAuth` provider of it. When given, it is used as is.
   */
  readonly auth?: RelayAuthProvider;
  /** The operator's invite token, sent when this remote creates a vault on a relay that wants one. */
  readonly inviteToken?: string;
  /** WebSocket constructor; default the global one, else the `ws` package. */
  readonly webSocket?: WebSocketFactory;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/**
 * How long "nothing new in the registry" from a listing may answer the
 * same question again while the push socket vouches for it. Short: it
 * bounds how stale the answer gets if the relay loses a notice.
 */
const REGISTRY_QUIET_MS = 1000;
/**
 * How long a head's bytes that came with a listing of `heads/` can answer
 * a read that names the listed etag (`ListedGetOptions.listed`): a pull reads
 * the heads that moved right after listing them, so this spares it one
 * round trip per moved head. Reads without `listed` always ask the relay.
 */
const LISTED_BODY_MS = 1000;
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
/** Segments are never rewritten: their pushed bytes answer one read each, within this long and this many bytes. */
const SEGMENTS = 'segments/';
const PUSHED_SEGMENTS = { ms: 30_000, bytes: 8 * 1024 * 1024 } as const;

/**
 * The relay {@link Remote}. Beyond the contract it offers
 * {@link RelayRemote.getMany}, many reads in one round trip.
 */
export class RelayRemote implements BatchGetRemote, WatchableRemote, DeviceKeyRemote, ListedReadRemote, TrafficReportingRemote {
  readonly url: string;
  readonly location: RelayLocation;
  readonly capabilities = { putIfAbsent: true, watch: true, listedReads: true } as const;
  readonly #traffic = new TrafficReports();
  readonly #retry: RelayRetryPolicy;
  readonly #timeoutMs: number;
  readonly #explicitAuth: boolean;
  readonly #inviteToken: string | undefined;
  #auth: RelayAuthProvider | undefined;
  #key: RemoteDeviceKey | undefined;
  readonly #push: PushChannel;
  #closed = false;
  /** A registry listing after `after` came back empty under push stamp `stamp` (see {@link PushChannel.quietStamp}). */
  #registryQuiet: { after: string; stamp: number; until: number } | undefined;
  /** Bytes of heads from the last listing of `heads/`, for one read that names their etag (see {@link LISTED_BODY_MS}). */
  #listedBodies = new Map<string, { etag: string; body: Uint8Array; until: number }>();
  /** `heads/` as the relay last listed it, moved on by what the push socket brought since. */
  readonly #pushedHeads = new PushedListing(remoteKeys.headsPrefix, PUSHED_HEADS_MS);
  /** Segments other devices wrote, as the push socket brought them (a pull reads them next). */
  readonly #pushedSegments = new PushedObjects(SEGMENTS, PUSHED_SEGMENTS.ms, PUSHED_SEGMENTS.bytes);

  constructor(url: string, o: RelayRemoteOptions = {}) {
    this.location = parseRelayUrl(url);
    this.url = this.location.display;
    this.#retry = { ...DEFAULT_RELAY_RETRY, ...o.retry };
    this.#timeoutMs = o.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#auth = o.auth;
    this.#explicitAuth = o.auth !== undefined;
    this.#inviteToken = o.inviteToken;
    const wsUrl = `${this.location.base.replace(/^http/, 'ws')}${API_PREFIX}/${this.location.vault}/watch`;
    this.#push = new PushChannel({
      url: wsUrl,
      connect: async () => o.webSocket ?? (await defaultWebSocket()),
      protocols: async () => {
        const h = (await this.#auth?.headers())?.['authorization'];
        return h ? [WS_PROTOCOL, `${BEARER_PROTOCOL_PREFIX}${h.replace(/^Bearer /, '')}`] : [WS_PROTOCOL];
      },
      list: (prefix) => this.list(prefix),
      pollMs: o.pollMs ?? 5000,
      reconnectBaseMs: o.reconnectMs?.base ?? 200,
      reconnectMaxMs: o.reconnectMs?.max ?? 15_000,
      vouchFor: remoteKeys.registryPrefix,
      onPushed: (key, pushed) => {
        this.#pushedHeads.changed(key, pushed);
        this.#pushedSegments.changed(key, pushed?.body, Date.now());
      },
      withBodies: [SEGMENTS],
    });
  }

  /**
   * Authenticates as `key` from the next request on (a new key drops the
   * old token). Ignored when the remote was opened with an explicit `auth`.
   */
  useDeviceKey(key: RemoteDeviceKey): void {
    if (this.#explicitAuth) return;
    const k = this.#key;
    if (k && k.vaultId === key.vaultId && k.signer === key.signer && bytesEqual(k.signPub, key.signPub)) return;
    this.#key = key;
    this.#auth = relayDeviceAuth(this.location, key, { timeoutMs: this.#timeoutMs });
  }

  /** True while the push socket is connected (for tests and status displays). */
  get pushLive(): boolean {
    return this.#push.live;
  }

  async put(key: string, bytes: Uint8Array, o: PutOptions = {}): Promise<void> {
    assertRemoteKey(key);
    throwIfAborted(o.signal);
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (o.ifAbsent) headers['if-none-match'] = '*';
    // Creating a vault, or a space (its first membership entry), is what a gated relay asks the invite token for.
    if ((key === remoteKeys.vault || key === FIRST_MEMBERSHIP_KEY) && this.#inviteToken !== undefined) headers[INVITE_HEADER] = this.#inviteToken;
    const connection = this.#push.connection;
    if (connection) headers[CONNECTION_HEADER] = connection;
    // The relay does not tell us of our own writes: forget what we vouched for.
    if (key.startsWith(remoteKeys.registryPrefix)) this.#registryQuiet = undefined;
    this.#listedBodies.delete(key);
    // The pushed view of heads/ learns this write from the relay's answer (its etag), as it is not told of it.
    const wrote = this.#pushedHeads.writing(key);
    let etag: string | undefined;
    try {
      await this.#call(
        `PUT ${key}`,
        'PUT',
        objectPath(this.location.vault, key),
        o.signal,
        { headers, body: bytes as Uint8Array<ArrayBuffer> },
        async (res) => {
          this.#traffic.report({ request: 'put', bytesSent: bytes.length });
          if (res.status === 204 || res.status === 200) etag = res.headers.get('etag')?.replace(/"/g, '') || undefined;
          // 412: the object exists, which is all put-if-absent asks.
          if (res.status === 204 || res.status === 200 || (o.ifAbsent && res.status === 412)) return;
          throw await failure(res);
        },
      );
    } finally {
      this.#listedBodies.delete(key);
      wrote(etag === undefined ? undefined : { etag, body: bytes.slice() });
    }
  }

  async get(key: string, o: ListedGetOptions = {}): Promise<Uint8Array | null> {
    assertRemoteKey(key);
    throwIfAborted(o.signal);
    const listed = this.#listedBodies.get(key);
    if (listed && o.listed !== undefined) {
      this.#listedBodies.delete(key);
      // The caller asks for the version its listing named (or newer): this is it, read with that listing.
      if (!o.range && listed.etag === o.listed && Date.now() < listed.until) return listed.body;
    }
    const pushed = o.range ? undefined : this.#pushedSegments.take(key, Date.now());
    if (pushed) return pushed;
    const headers: Record<string, string> = {};
    if (o.range) {
      // HTTP cannot ask for zero bytes; whether the object exists still decides between empty and null.
      if (o.range.length <= 0) return (await this.head(key, o)) ? new Uint8Array(0) : null;
      headers['range'] = `bytes=${o.range.offset}-${o.range.offset + o.range.length - 1}`;
    }
    return this.#call(`GET ${key}`, 'GET', objectPath(this.location.vault, key), o.signal, { headers }, async (res) => {
      this.#traffic.report({ request: 'get' });
      if (res.status === 404) return null;
      if (res.status !== 200 && res.status !== 206) throw await failure(res);
      const bytes = await readBody(res);
      this.#traffic.report({ bytesReceived: bytes.length });
      return bytes;
    });
  }

  async head(key: string, o: RemoteCallOptions = {}): Promise<RemoteObjectInfo | null> {
    assertRemoteKey(key);
    throwIfAborted(o.signal);
    return this.#call(`HEAD ${key}`, 'HEAD', objectPath(this.location.vault, key), o.signal, {}, async (res) => {
      this.#traffic.report({ request: 'head' });
      if (res.status === 404) return null;
      if (res.status !== 200) throw await failure(res);
      const size = Number(res.headers.get(SIZE_HEADER));
      const etag = (res.headers.get('etag') ?? '').replace(/"/g, '');
      return { key, size, etag };
    });
  }

  /**
   * Lists `prefix`. A device lists the registry after its last entry before
   * every push (to learn of revocations first); while the push socket is
   * open and has told of no registry change since such a listing came back
   * empty, the same question is answered from it for a second without a
   * round trip.
   */
  async list(prefix: string, o: ListOptions = {}): Promise<RemoteObjectInfo[]> {
    assertRemotePrefix(prefix);
    throwIfAborted(o.signal);
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
      for (const i of pushed) if (i.body) this.#listedBodies.set(i.key, { etag: i.etag, body: i.body, until });
      return pushed.map(({ key, size, etag }) => ({ key, size, etag }));
    }
    const mark = heads.mark(this.#push.bodiesStamp(heads.prefix));
    const out = await this.#list(heads.prefix, o, true);
    heads.seed(
      mark,
      this.#push.bodiesStamp(heads.prefix),
      out.map((i) => ({ ...i, ...(this.#listedBodies.get(i.key)?.etag === i.etag ? { body: this.#listedBodies.get(i.key)!.body } : {}) })),
      Date.now(),
    );
    return out;
  }

  /** This client writes `key`: what it knew of the key's bytes no longer holds (the relay does not tell a writer of its own writes). */
  #forget(key: string): void {
    this.#listedBodies.delete(key);
    if (key.startsWith(this.#pushedHeads.prefix)) this.#pushedHeads.drop();
  }

  /** Lists page by page; with `bodies`, small objects' bytes come along and answer their next read. */
  async #list(prefix: string, o: ListOptions, bodies = false): Promise<RemoteObjectInfo[]> {
    const out: RemoteObjectInfo[] = [];
    let after = o.after ?? '';
    const want = o.limit ?? Infinity;
    if (bodies) this.#listedBodies.clear();
    const until = Date.now() + LISTED_BODY_MS;
    while (out.length < want) {
      const q = new URLSearchParams({ prefix, after, limit: String(Math.min(MAX_PAGE, want - out.length)), ...(bodies ? { bodies: '1' } : {}) });
      const page = await this.#call(`LIST ${prefix}`, 'GET', `${API_PREFIX}/${this.location.vault}/list?${q}`, o.signal, {}, async (res) => {
        this.#traffic.report({ request: 'list' });
        if (res.status !== 200) throw await failure(res);
        return (await readJson(res)) as { items: (RemoteObjectInfo & { body?: string })[]; next?: string };
      });
      for (const i of page.items) {
        // A body that does not decode to the listed size is not kept (the read then asks the relay).
        const body = bodies && typeof i.body === 'string' ? decodeBody(i.body) : undefined;
        if (body?.length === i.size) this.#listedBodies.set(i.key, { etag: i.etag, body, until });
      }
      out.push(...page.items.map((i) => ({ key: i.key, size: i.size, etag: i.etag })));
      if (page.next === undefined || page.items.length === 0) break;
      after = page.next;
    }
    return out;
  }

  async delete(key: string, o: RemoteCallOptions = {}): Promise<void> {
    assertRemoteKey(key);
    throwIfAborted(o.signal);
    const headers: Record<string, string> = {};
    const connection = this.#push.connection;
    if (connection) headers[CONNECTION_HEADER] = connection;
    this.#forget(key);
    try {
      await this.#call(`DELETE ${key}`, 'DELETE', objectPath(this.location.vault, key), o.signal, { headers }, async (res) => {
        this.#traffic.report({ request: 'delete' });
        if (res.status !== 204 && res.status !== 200) throw await failure(res);
      });
    } finally {
      this.#forget(key);
    }
  }

  /**
   * Reads many objects in as few round trips as possible (1,000 keys a
   * request): the bootstrap path, and a pull's segments. Missing keys map
   * to null; segments the push socket brought are answered from it.
   */
  async getMany(keys: readonly string[], o: RemoteCallOptions = {}): Promise<Map<string, Uint8Array | null>> {
    keys.forEach(assertRemoteKey);
    throwIfAborted(o.signal);
    const out = new Map<string, Uint8Array | null>();
    // Segments the push socket brought need no request (a pull reads the ones a pushed head names).
    const now = Date.now();
    const asked: string[] = [];
    for (const k of keys) {
      const pushed = this.#pushedSegments.take(k, now);
      if (pushed) out.set(k, pushed);
      else asked.push(k);
    }
    for (let i = 0; i < asked.length; i += MAX_PAGE) {
      const batch = asked.slice(i, i + MAX_PAGE);
      const body = JSON.stringify({ keys: batch });
      const got = await this.#call(
        'batch-get',
        'POST',
        `${API_PREFIX}/${this.location.vault}/batch-get`,
        o.signal,
        { headers: { 'content-type': 'application/json' }, body },
        async (res) => {
          this.#traffic.report({ request: 'get' });
          if (res.status !== 200) throw await failure(res);
          const bytes = await readBody(res);
          this.#traffic.report({ bytesReceived: bytes.length });
          return decodeBatch(bytes);
        },
      );
      for (const k of batch) out.set(k, got.get(k) ?? null);
    }
    // In the order asked, as before.
    return new Map(keys.map((k) => [k, out.get(k) ?? null]));
  }

  watch(prefix: string, onChange: () => void): () => void {
    assertRemotePrefix(prefix);
    if (this.#closed) return () => {};
    return this.#push.watch(prefix, onChange);
  }

  /** Reports every HTTP request (retries, pages and batches each count) for `countingRemote`. */
  onTraffic(listener: (t: RemoteTraffic) => void): () => void {
    return this.#traffic.on(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#push.close();
  }

  /**
   * One logical request with retries. `handle` runs on every answer and
   * either returns the result or throws (TransientError to retry).
   */
  #call<T>(
    what: string,
    method: string,
    path: string,
    signal: AbortSignal | undefined,
    init: { headers?: Record<string, string>; body?: BodyInit },
    handle: (res: Response) => Promise<T>,
  ): Promise<T> {
    let renewed = false;
    const attempt = async (): Promise<T> => {
      const timeout = AbortSignal.timeout(this.#timeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
      let res: Response;
      try {
        const auth = (await this.#auth?.headers(signal)) ?? {};
        res = await fetch(this.location.base + path, {
          method,
          headers: { ...init.headers, ...auth },
          ...(init.body !== undefined ? { body: init.body } : {}),
          signal: combined,
        });
      } catch (e) {
        if (signal?.aborted) throw new KithError(ErrorCode.Aborted, 'operation cancelled');
        if (e instanceof KithError) throw e;
        throw new TransientError(timeout.aborted ? 'timed out' : describeNetworkError(e));
      }
      // A refused token (expired, or the relay restarted with a new secret) is renewed once; a second refusal is final.
      if (res.status === 401 && this.#auth && !renewed) {
        renewed = true;
        this.#auth.invalidate();
        await res.body?.cancel().catch(() => {});
        throw new TransientError('token refused (fetching a new one)');
      }
      // 507: the vault's quota is full, which waiting does not change.
      if ((res.status >= 500 && res.status !== 507) || res.status === 429) {
        await res.body?.cancel().catch(() => {});
        throw new TransientError(
          res.status === 429 ? 'HTTP 429 (too many requests)' : `HTTP ${res.status}`,
          res.status === 429 ? ErrorCode.RateLimited : undefined,
        );
      }
      try {
        return await handle(res);
      } catch (e) {
        if (e instanceof KithError || e instanceof TransientError) throw e;
        if (signal?.aborted) throw new KithError(ErrorCode.Aborted, 'operation cancelled');
        throw new TransientError(`answer cut short (${describeNetworkError(e)})`);
      }
    };
    return withRetry(what, attempt, this.#retry, signal);
  }
}

/**
 * Opens the remote for a relay URL `http(s)://host:port/<vault>`.
 *
 * @example
 * const remote = openRelayRemote('http://127.0.0.1:8787/family');
 * const { vault } = await Vault.create({ store, remote, remoteUrl: remote.url }); // lends the remote its key
 */
export function openRelayRemote(url: string, options: RelayRemoteOptions = {}): RelayRemote {
  return new RelayRemote(url, options);
}

async function defaultWebSocket(): Promise<WebSocketFactory> {
  const G = (globalThis as { WebSocket?: new (url: string, protocols?: string[]) => WebSocketLike }).WebSocket;
  if (G) return (url, protocols) => new G(url, protocols);
  const { WebSocket } = await import('ws');
  return (url, protocols) => new WebSocket(url, protocols) as unknown as WebSocketLike;
}

function decodeBody(s: string): Uint8Array | undefined {
  try {
    return fromBase64url(s);
  } catch {
    return undefined;
  }
}
