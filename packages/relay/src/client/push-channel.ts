/**
 * @module client/push-channel
 * The client side of push: one WebSocket per remote, opened on the first
 * `watch` and closed with the last. While the socket is down it reconnects
 * with backoff and polls listings instead, so a change is never missed for
 * longer than the poll interval; coming back it reports a change once,
 * since events may have been lost in between.
 *
 * While open, the socket also watches `vouchFor` (the registry) so the
 * remote can answer "has anything moved under it?" without a listing:
 * see {@link PushChannel.quietStamp}.
 */
import { type RemoteObjectInfo, backoff, fromBase64url } from '@kith/core/adapter';
import type { ChangedMessage, PushMessage } from '../protocol.js';

/** The part of the WebSocket API the channel uses (browser and `ws` alike). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** Opens a socket to `url` (with `protocols`, where the auth token travels). */
export type WebSocketFactory = (url: string, protocols?: string[]) => WebSocketLike;

/** What the channel needs from its remote. */
export interface PushChannelDeps {
  /** `ws(s)://.../watch` of the vault. */
  readonly url: string;
  readonly connect: () => Promise<WebSocketFactory>;
  /** Sub-protocols to offer on connect (the auth token), fetched fresh per attempt. */
  readonly protocols: () => Promise<string[]>;
  /** Lists a prefix (for polling while the socket is down). */
  readonly list: (prefix: string) => Promise<RemoteObjectInfo[]>;
  readonly pollMs: number;
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  /** A prefix watched whenever the socket is open, so {@link PushChannel.quietStamp} can vouch for it. */
  readonly vouchFor?: string;
  /**
   * Told of every `changed` message before any watcher, with the bytes and
   * etag of a small write when the relay sent them (see {@link PushChannel.bodiesStamp}).
   */
  readonly onPushed?: (key: string, pushed: { etag: string; body: Uint8Array } | undefined) => void;
  /**
   * Prefixes watched too once the relay granted bodies (a relay that sends
   * none is not asked, so it does not tell of keys no watcher wants).
   */
  readonly withBodies?: readonly string[];
}

interface Watcher {
  readonly prefix: string;
  readonly onChange: () => void;
}

const unref = (t: ReturnType<typeof setTimeout>): void => void (t as { unref?: () => void }).unref?.();

/** One push subscription per remote client. */
export class PushChannel {
  readonly #deps: PushChannelDeps;
  readonly #watchers = new Set<Watcher>();
  #socket: WebSocketLike | undefined;
  #connection: string | undefined;
  #attempt = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #snapshot = new Map<string, string>();
  #everConnected = false;
  /** The relay confirmed this socket watches `vouchFor`. */
  #vouched = false;
  /** Bumped by every change under `vouchFor` told, and by every connect and disconnect. */
  #moves = 0;
  /** Prefixes the relay confirmed it tells this socket of with bodies (empty: none, or a relay older than bodies). */
  #bodiesFor: readonly string[] = [];
  /** Bumped whenever the socket's subscription may have a gap: connect, disconnect, a new watch request. */
  #epoch = 0;
  /** This connection's relay granted bodies once (so watch requests add `withBodies`). */
  #granted = false;

  constructor(deps: PushChannelDeps) {
    this.#deps = deps;
  }

  /** This client's connection id while pushed to (sent on writes so we are not told of our own). */
  get connection(): string | undefined {
    return this.#connection;
  }

  /** True while the socket is open and subscribed. */
  get live(): boolean {
    return this.#connection !== undefined;
  }

  /**
   * A number that stays the same while nothing under `vouchFor` can have
   * moved without this channel hearing of it: the socket is open, the
   * relay confirmed it watches the prefix, and no change under it came
   * since. Undefined otherwise. A listing of the prefix started with a
   * stamp and answered with the same stamp still holds while it lasts
   * (as far as notices are not lost on the relay's side).
   */
  get quietStamp(): number | undefined {
    return this.live && this.#vouched ? this.#moves : undefined;
  }

  /**
   * A number that stays the same while every change under `prefix` reaches
   * {@link PushChannelDeps.onPushed} in order, with its bytes when small:
   * the socket is open and the relay confirmed it sends bodies for a
   * watched prefix of `prefix`. Undefined otherwise.
   */
  bodiesStamp(prefix: string): number | undefined {
    return this.live && this.#bodiesFor.some((p) => prefix.startsWith(p)) ? this.#epoch : undefined;
  }

  /** Starts telling `onChange` of changes under `prefix`; returns the stop function. */
  watch(prefix: string, onChange: () => void): () => void {
    const w: Watcher = { prefix, onChange };
    this.#watchers.add(w);
    if (this.#socket) this.#subscribe();
    else if (this.#reconnectTimer === undefined) void this.#open();
    return () => {
      this.#watchers.delete(w);
      if (this.#watchers.size === 0) this.close();
      else this.#subscribe();
    };
  }

  /** Closes the socket and stops every timer. */
  close(): void {
    this.#watchers.clear();
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#pollTimer);
    this.#reconnectTimer = this.#pollTimer = undefined;
    const s = this.#socket;
    this.#socket = this.#connection = undefined;
    this.#unvouch();
    if (s) {
      s.onclose = s.onmessage = s.onopen = null;
      // Closing a socket still connecting makes `ws` emit an error; without a listener it would be thrown.
      s.onerror = () => {};
      s.close(1000, 'done');
    }
  }

  async #open(): Promise<void> {
    let socket: WebSocketLike;
    try {
      const [factory, protocols] = await Promise.all([this.#deps.connect(), this.#deps.protocols()]);
      if (this.#watchers.size === 0) return;
      socket = factory(this.#deps.url, protocols);
    } catch {
      if (this.#watchers.size > 0) this.#down();
      return;
    }
    this.#socket = socket;
    socket.onopen = () => this.#subscribe();
    socket.onmessage = (ev) => this.#message(ev.data);
    socket.onerror = () => {}; // a close event follows
    socket.onclose = () => {
      if (this.#socket === socket) this.#down();
    };
  }

  #subscribe(): void {
    const s = this.#socket;
    if (!s || s.readyState !== 1) return;
    const prefixes = new Set([...this.#watchers].map((w) => w.prefix));
    if (this.#deps.vouchFor !== undefined) prefixes.add(this.#deps.vouchFor);
    // Watched only for their bytes (segments): their news may wait for the next other news, the head that names them.
    const lazy = this.#granted ? (this.#deps.withBodies ?? []).filter((p) => !prefixes.has(p)) : [];
    for (const p of lazy) prefixes.add(p);
    // Until the relay answers, the prefixes it tells of (with bodies or not) may be changing.
    this.#noBodies();
    // `batch`: this client reads several notices in one frame (a relay older than batches ignores it, and `lazy`).
    s.send(
      JSON.stringify({
        type: 'watch',
        prefixes: [...prefixes],
        ...(this.#deps.onPushed ? { bodies: true } : {}),
        batch: true,
        ...(lazy.length > 0 ? { lazy } : {}),
      }),
    );
  }

  #message(data: unknown): void {
    let msg: PushMessage;
    try {
      msg = JSON.parse(String(data)) as PushMessage;
    } catch {
      return;
    }
    if (msg.type === 'hello') {
      this.#unvouch();
      this.#connection = msg.connection;
      this.#granted = false;
      this.#attempt = 0;
      clearTimeout(this.#pollTimer);
      this.#pollTimer = undefined;
      // Back after an outage: whatever moved meanwhile was not pushed to us.
      if (this.#everConnected) this.#notify(() => true);
      this.#everConnected = true;
    } else if (msg.type === 'watching' && Array.isArray(msg.prefixes)) {
      const v = this.#deps.vouchFor;
      if (v !== undefined && msg.prefixes.some((p) => typeof p === 'string' && v.startsWith(p))) this.#vouched = true;
      if (msg.bodies === true && this.#deps.onPushed) {
        this.#bodiesFor = msg.prefixes.filter((p) => typeof p === 'string');
        // Once per connection: a relay that keeps fewer prefixes than asked is not asked again and again.
        const first = !this.#granted;
        this.#granted = true;
        if (first && (this.#deps.withBodies ?? []).some((p) => !this.#bodiesFor.includes(p))) this.#subscribe();
      }
    } else if (msg.type === 'changed') this.#changed(msg);
    else if (msg.type === 'batch' && Array.isArray(msg.changes)) for (const c of msg.changes) if (c?.type === 'changed') this.#changed(c);
  }

  #changed(msg: ChangedMessage): void {
    if (typeof msg.key !== 'string') return;
    if (this.#deps.vouchFor !== undefined && msg.key.startsWith(this.#deps.vouchFor)) this.#moves++;
    this.#deps.onPushed?.(msg.key, pushedBody(msg));
    this.#notify((w) => msg.key.startsWith(w.prefix));
  }

  #unvouch(): void {
    this.#vouched = false;
    this.#moves++;
    this.#noBodies();
  }

  #noBodies(): void {
    this.#bodiesFor = [];
    this.#epoch++;
  }

  #notify(match: (w: Watcher) => boolean): void {
    for (const w of [...this.#watchers]) if (match(w)) w.onChange();
  }

  /** The socket is gone: reconnect later, poll meanwhile. */
  #down(): void {
    this.#socket = this.#connection = undefined;
    this.#unvouch();
    if (this.#watchers.size === 0) return;
    this.#attempt++;
    const delay = backoff(this.#attempt, this.#deps.reconnectBaseMs, this.#deps.reconnectMaxMs);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#watchers.size > 0) void this.#open();
    }, delay);
    unref(this.#reconnectTimer);
    if (this.#pollTimer === undefined) this.#schedulePoll(0);
  }

  #schedulePoll(ms: number): void {
    this.#pollTimer = setTimeout(() => void this.#poll(), ms);
    unref(this.#pollTimer);
  }

  async #poll(): Promise<void> {
    const prefixes = [...new Set([...this.#watchers].map((w) => w.prefix))];
    const next = new Map<string, string>();
    try {
      for (const p of prefixes) for (const i of await this.#deps.list(p)) next.set(i.key, i.etag);
      const moved = new Set<string>();
      for (const [k, e] of next) if (this.#snapshot.get(k) !== e) moved.add(k);
      for (const k of this.#snapshot.keys()) if (!next.has(k)) moved.add(k);
      this.#snapshot = next;
      if (moved.size > 0) this.#notify((w) => [...moved].some((k) => k.startsWith(w.prefix)));
    } catch {
      // The relay is down too; try again next round.
    }
    if (this.#pollTimer !== undefined && !this.live && this.#watchers.size > 0) this.#schedulePoll(this.#deps.pollMs);
    else this.#pollTimer = undefined;
  }
}

/** The etag and bytes a `changed` message carries, if well-formed. */
function pushedBody(msg: { etag?: unknown; body?: unknown }): { etag: string; body: Uint8Array } | undefined {
  if (typeof msg.etag !== 'string' || typeof msg.body !== 'string') return undefined;
  try {
    return { etag: msg.etag, body: fromBase64url(msg.body) };
  } catch {
    return undefined;
  }
}
