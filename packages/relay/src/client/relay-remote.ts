/**
 * @module client/relay-remote
 * The {@link Remote} over a Kith relay: HTTP for objects (with retries,
 * relay-requests.ts), listings that the push socket can answer
 * (relay-listings.ts), a WebSocket for push (push-channel.ts), and a
 * batched read for bootstrap. Isomorphic apart from the `ws` fallback on
 * Node < 22.
 */
import {
  assertRemoteKey,
  assertRemotePrefix,
  bytesEqual,
  remoteKeys,
  throwIfAborted,
  TrafficReports,
  type BatchGetRemote,
  type DeviceKeyRemote,
  type ListedGetOptions,
  type ListedReadRemote,
  type ListOptions,
  type PutOptions,
  type PutOutcome,
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
import { failure, readBody, readJson } from './answers.js';
import { relayDeviceAuth, type RelayAuthProvider } from './device-auth.js';
import { RelayListings, type ListingPage } from './relay-listings.js';
import { parseRelayUrl, type RelayLocation } from './relay-url.js';
import { RelayRequests } from './relay-requests.js';
import { DEFAULT_RELAY_RETRY, type RelayRetryPolicy } from './retry.js';
import { PushChannel, type WebSocketFactory, type WebSocketLike } from './push-channel.js';
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
  readonly #requests: RelayRequests;
  readonly #timeoutMs: number;
  readonly #explicitAuth: boolean;
  readonly #inviteToken: string | undefined;
  #auth: RelayAuthProvider | undefined;
  #key: RemoteDeviceKey | undefined;
  readonly #push: PushChannel;
  readonly #listings: RelayListings;
  #closed = false;
  /** Segments other devices wrote, as the push socket brought them (a pull reads them next). */
  readonly #pushedSegments = new PushedObjects(SEGMENTS, PUSHED_SEGMENTS.ms, PUSHED_SEGMENTS.bytes);

  constructor(url: string, o: RelayRemoteOptions = {}) {
    this.location = parseRelayUrl(url);
    this.url = this.location.display;
    this.#timeoutMs = o.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#requests = new RelayRequests({
      base: this.location.base,
      timeoutMs: this.#timeoutMs,
      retry: { ...DEFAULT_RELAY_RETRY, ...o.retry },
      auth: () => this.#auth,
    });
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
        this.#listings.pushed(key, pushed);
        this.#pushedSegments.changed(key, pushed?.body, Date.now());
      },
      withBodies: [SEGMENTS],
    });
    this.#listings = new RelayListings(this.#push, (prefix, after, limit, bodies, signal) => this.#listPage(prefix, after, limit, bodies, signal));
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

  async put(key: string, bytes: Uint8Array, o: PutOptions = {}): Promise<void | PutOutcome> {
    assertRemoteKey(key);
    throwIfAborted(o.signal);
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (o.ifAbsent) headers['if-none-match'] = '*';
    // Creating a vault, or a space (its first membership entry), is what a gated relay asks the invite token for.
    if ((key === remoteKeys.vault || key === FIRST_MEMBERSHIP_KEY) && this.#inviteToken !== undefined) headers[INVITE_HEADER] = this.#inviteToken;
    const connection = this.#push.connection;
    if (connection) headers[CONNECTION_HEADER] = connection;
    // The relay does not tell us of our own writes: what we vouched for or kept of the key goes, and the pushed view learns the etag from the answer.
    const wrote = this.#listings.writing(key);
    let etag: string | undefined;
    let stored = false;
    try {
      await this.#requests.call(
        `PUT ${key}`,
        'PUT',
        objectPath(this.location.vault, key),
        o.signal,
        { headers, body: bytes as Uint8Array<ArrayBuffer> },
        async (res) => {
          this.#traffic.report({ request: 'put', bytesSent: bytes.length });
          if (res.status === 204 || res.status === 200) etag = res.headers.get('etag')?.replace(/"/g, '') || undefined;
          // 412: the object exists, which is all put-if-absent asks (and says nothing of whose bytes it holds: a
          // retried write may have landed the first time). A 2xx to If-None-Match: * created it: the key holds ours.
          stored = o.ifAbsent === true && (res.status === 204 || res.status === 200);
          if (res.status === 204 || res.status === 200 || (o.ifAbsent && res.status === 412)) return;
          throw await failure(res);
        },
      );
    } finally {
      wrote(etag === undefined ? undefined : { etag, body: bytes.slice() });
    }
    return stored ? { stored: true } : undefined;
  }

  async get(key: string, o: ListedGetOptions = {}): Promise<Uint8Array | null> {
    assertRemoteKey(key);
    throwIfAborted(o.signal);
    if (o.listed !== undefined) {
      // The caller asks for the version its listing named (or newer): this is it, read with that listing.
      const listed = this.#listings.takeListed(key, o.listed);
      if (listed && !o.range) return listed;
    }
    const pushed = o.range ? undefined : this.#pushedSegments.take(key, Date.now());
    if (pushed) return pushed;
    const headers: Record<string, string> = {};
    if (o.range) {
      // HTTP cannot ask for zero bytes; whether the object exists still decides between empty and null.
      if (o.range.length <= 0) return (await this.head(key, o)) ? new Uint8Array(0) : null;
      headers['range'] = `bytes=${o.range.offset}-${o.range.offset + o.range.length - 1}`;
    }
    return this.#requests.call(`GET ${key}`, 'GET', objectPath(this.location.vault, key), o.signal, { headers }, async (res) => {
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
    return this.#requests.call(`HEAD ${key}`, 'HEAD', objectPath(this.location.vault, key), o.signal, {}, async (res) => {
      this.#traffic.report({ request: 'head' });
      if (res.status === 404) return null;
      if (res.status !== 200) throw await failure(res);
      const size = Number(res.headers.get(SIZE_HEADER));
      const etag = (res.headers.get('etag') ?? '').replace(/"/g, '');
      return { key, size, etag };
    });
  }

  /** Lists `prefix` (see {@link RelayListings.list}: some listings are answered from what the push socket told). */
  async list(prefix: string, o: ListOptions = {}): Promise<RemoteObjectInfo[]> {
    assertRemotePrefix(prefix);
    throwIfAborted(o.signal);
    return this.#listings.list(prefix, o);
  }

  /** One page of a listing from the relay. */
  #listPage(prefix: string, after: string, limit: number, bodies: boolean, signal: AbortSignal | undefined): Promise<ListingPage> {
    const q = new URLSearchParams({ prefix, after, limit: String(limit), ...(bodies ? { bodies: '1' } : {}) });
    return this.#requests.call(`LIST ${prefix}`, 'GET', `${API_PREFIX}/${this.location.vault}/list?${q}`, signal, {}, async (res) => {
      this.#traffic.report({ request: 'list' });
      if (res.status !== 200) throw await failure(res);
      return (await readJson(res)) as ListingPage;
    });
  }

  async delete(key: string, o: RemoteCallOptions = {}): Promise<void> {
    assertRemoteKey(key);
    throwIfAborted(o.signal);
    const headers: Record<string, string> = {};
    const connection = this.#push.connection;
    if (connection) headers[CONNECTION_HEADER] = connection;
    this.#listings.forget(key);
    try {
      await this.#requests.call(`DELETE ${key}`, 'DELETE', objectPath(this.location.vault, key), o.signal, { headers }, async (res) => {
        this.#traffic.report({ request: 'delete' });
        if (res.status !== 204 && res.status !== 200) throw await failure(res);
      });
    } finally {
      this.#listings.forget(key);
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
      const got = await this.#requests.call(
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
