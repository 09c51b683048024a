/**
 * @module server/push-hub
 * Fan-out of "this key changed" to the watch sockets of a vault. A socket
 * that asked for bodies also gets the bytes of a small write (a head) with
 * the notice, so a told device need not read it back over HTTP: of the
 * requests a change causes, those reads were most. Larger objects and
 * deletes go out as keys only. Per notice, a socket write (on loopback, most
 * of the fan-out's cost) was most of the relay's work: a socket that reads
 * `batch` frames may name `lazy` prefixes (the segments a head names) whose
 * notices wait for its next other notice (at most PUSH_LAZY_MS) and share
 * its frame, so a change costs one frame per told device, not two. Other
 * notices go at once (or after the operator's window, `batchMs`).
 */
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import { toBase64url } from '@kith/core/relay';
import { PUSH_BATCH_MS, PUSH_BODY_MAX, PUSH_LAZY_MS, type PushMessage, type WatchRequest } from '@kith/relay/protocol';
import { etagOf, MISSED_CHANGES } from './relay-storage.js';

interface Subscriber {
  readonly socket: WebSocket;
  readonly vault: string;
  prefixes: readonly string[];
  /** It asked for bodies with its notices (protocol `watch` with `bodies`). */
  bodies: boolean;
  /** It reads `batch` frames (protocol `watch` with `batch`). */
  batch: boolean;
  /** Prefixes whose notices wait for this socket's next other notice (protocol `watch` with `lazy`; only with `batch`). */
  lazy: readonly string[];
  /** Notices waiting (lazy ones, or for the window): the key alone, and with the bytes when the socket may have them. */
  queue: { plain: Buffer; full: Buffer | undefined }[];
}

/** Most prefixes one socket may watch: a bound on per-message work. */
const MAX_PREFIXES = 16;
/** Most notices in one batch frame (about 1.5 MB with bodies): a socket that has more gets them in several. */
const MAX_BATCH = 256;
const BATCH_OPEN = Buffer.from('{"type":"batch","changes":[');
const BATCH_CLOSE = Buffer.from(']}');
const COMMA = Buffer.from(',');

/** The watch sockets of every vault of one relay process. */
export class PushHub {
  readonly #byVault = new Map<string, Map<string, Subscriber>>();
  /**
   * Vaults whose registry moved and is being read again: until the relay
   * has closed the sockets of signers it no longer admits, their notices
   * carry no bodies (a revoked device may still be listening; a read it
   * makes over HTTP is checked against the registry on its own).
   */
  readonly #held = new Map<string, Promise<unknown>>();
  readonly #batchMs: number;
  /** Sockets with queued notices, all sent when the window's timer fires (with `batchMs`). */
  readonly #due = new Set<Subscriber>();
  #timer: NodeJS.Timeout | undefined;
  /** Sockets holding only lazy notices, all sent when the lazy timer fires (unless another notice sent them first). */
  readonly #lazy = new Set<Subscriber>();
  #lazyTimer: NodeJS.Timeout | undefined;

  /** `batchMs`: how long a batching socket's notices wait to share a frame (0: none waits but those under its lazy prefixes). */
  constructor(batchMs: number = PUSH_BATCH_MS) {
    this.#batchMs = batchMs;
  }

  /** Registers a socket for `vault`; it is told its connection id and removed when it closes. */
  add(vault: string, socket: WebSocket): void {
    const id = randomBytes(12).toString('base64url');
    let subs = this.#byVault.get(vault);
    if (!subs) this.#byVault.set(vault, (subs = new Map()));
    const sub: Subscriber = { socket, vault, prefixes: [], bodies: false, batch: false, lazy: [], queue: [] };
    subs.set(id, sub);
    socket.on('message', (data, isBinary) => {
      // Text frames arrive as a Buffer (or fragments); anything else is not a watch request.
      const raw = !isBinary && Buffer.isBuffer(data) ? data.toString('utf8') : '';
      const req = parseWatchRequest(raw);
      if (req) {
        // What was told under the last request goes out before the answer to this one.
        this.#flush(sub);
        sub.prefixes = req.prefixes.slice(0, MAX_PREFIXES);
        sub.bodies = req.bodies === true;
        sub.batch = req.batch === true;
        sub.lazy = sub.batch ? sub.prefixes.filter((p) => req.lazy?.includes(p)) : [];
        send(socket, {
          type: 'watching',
          prefixes: sub.prefixes,
          ...(sub.bodies ? { bodies: true as const } : {}),
          ...(sub.batch ? { batch: true as const } : {}),
          ...(sub.lazy.length > 0 ? { lazy: sub.lazy } : {}),
        });
      } else socket.close(1008, 'bad watch request');
    });
    socket.on('close', () => {
      subs.delete(id);
      this.#due.delete(sub);
      this.#lazy.delete(sub);
      sub.queue.length = 0;
      if (subs.size === 0 && this.#byVault.get(vault) === subs) this.#byVault.delete(vault);
    });
    send(socket, { type: 'hello', connection: id });
  }

  /**
   * Sends no bodies to `vault`'s sockets until `settled` resolves (the
   * registry read again, the sockets of signers it refuses closed). A later
   * hold replaces an earlier one; a hold whose look failed stays until one
   * succeeds.
   */
  holdBodies(vault: string, settled: Promise<unknown>): void {
    this.#held.set(vault, settled);
    settled.then(
      () => {
        if (this.#held.get(vault) === settled) this.#held.delete(vault);
      },
      () => undefined,
    );
  }

  /**
   * Tells every socket of `vault` watching a prefix of `key`, except the
   * writer's own; `body` is what a write stored, sent along to sockets that
   * asked for bodies when it is small and no registry change is pending.
   * {@link MISSED_CHANGES} (the bus lost notices) closes every
   * socket with 1012: clients reconnect, and a client coming back reports a
   * change once, so nothing missed stays unseen until its next poll.
   */
  changed(vault: string, key: string, writer: string | undefined, body?: Uint8Array): void {
    if (vault === MISSED_CHANGES.vault) {
      for (const subs of this.#byVault.values()) for (const sub of subs.values()) sub.socket.close(1012, 'changes may have been missed; reconnect');
      return;
    }
    const subs = this.#byVault.get(vault);
    if (!subs) return;
    const carry = body !== undefined && body.length <= PUSH_BODY_MAX && !this.#held.has(vault);
    // Encoded once for every socket told, not once per socket.
    let plain: Buffer | undefined;
    let full: Buffer | undefined;
    for (const [id, sub] of subs) {
      if (id === writer || !sub.prefixes.some((p) => key.startsWith(p))) continue;
      plain ??= encode({ type: 'changed', key });
      const withBody = carry && sub.bodies ? (full ??= encode({ type: 'changed', key, etag: etagOf(body), body: toBase64url(body) })) : undefined;
      if (!sub.batch) send(sub.socket, withBody ?? plain);
      else {
        sub.queue.push({ plain, full: withBody });
        const full = sub.queue.length >= MAX_BATCH;
        if (!full && sub.lazy.some((p) => key.startsWith(p))) {
          if (!this.#due.has(sub)) this.#lazy.add(sub);
        } else if (!full && this.#batchMs > 0) this.#due.add(sub);
        // Sent now, before the writer's answer: what a client reads after its write was acknowledged is already on its way.
        else this.#flush(sub);
      }
    }
    // A writer's segments come just before its head: held, they go in the head's frame.
    if (this.#lazy.size > 0 && this.#lazyTimer === undefined) {
      this.#lazyTimer = setTimeout(() => {
        this.#lazyTimer = undefined;
        for (const sub of this.#lazy) this.#flush(sub);
      }, PUSH_LAZY_MS);
    }
    if (this.#due.size > 0 && this.#timer === undefined) {
      const fire = (): void => {
        this.#timer = undefined;
        for (const sub of this.#due) this.#flush(sub);
      };
      this.#timer = setTimeout(fire, this.#batchMs);
    }
  }

  /**
   * Sends a socket's queued notices, one frame for all. Bytes go only if its
   * vault's registry is not moving now: a notice queued before a revocation
   * was noticed does not reach a revoked device after it.
   */
  #flush(sub: Subscriber): void {
    this.#due.delete(sub);
    this.#lazy.delete(sub);
    const queue = sub.queue;
    if (queue.length === 0) return;
    sub.queue = [];
    const held = this.#held.has(sub.vault);
    const frames = queue.map((n) => (held ? n.plain : (n.full ?? n.plain)));
    if (frames.length === 1) return send(sub.socket, frames[0]!);
    const parts: Buffer[] = [BATCH_OPEN];
    frames.forEach((f, i) => parts.push(...(i > 0 ? [COMMA, f] : [f])));
    parts.push(BATCH_CLOSE);
    send(sub.socket, Buffer.concat(parts));
  }

  /** Number of open sockets (for tests and health). */
  get size(): number {
    let n = 0;
    for (const subs of this.#byVault.values()) n += subs.size;
    return n;
  }

  /** Closes every socket (shutdown): clients reconnect elsewhere or poll. */
  closeAll(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#due.clear();
    clearTimeout(this.#lazyTimer);
    this.#lazyTimer = undefined;
    this.#lazy.clear();
    for (const subs of this.#byVault.values()) for (const sub of subs.values()) sub.socket.close(1001, 'relay shutting down');
  }
}

const encode = (msg: PushMessage): Buffer => Buffer.from(JSON.stringify(msg));

/** Sends a message (or its encoding) as a text frame, if the socket is still open. */
function send(socket: WebSocket, msg: PushMessage | Buffer): void {
  if (socket.readyState === socket.OPEN) socket.send(Buffer.isBuffer(msg) ? msg : encode(msg), { binary: false });
}

function parseWatchRequest(raw: string): WatchRequest | null {
  try {
    const v = JSON.parse(raw) as Partial<WatchRequest>;
    if (v?.type !== 'watch' || !Array.isArray(v.prefixes) || !v.prefixes.every((p) => typeof p === 'string' && p.length <= 512)) return null;
    const lazy = Array.isArray(v.lazy) ? v.lazy.filter((p): p is string => typeof p === 'string') : [];
    return { type: 'watch', prefixes: v.prefixes, bodies: v.bodies === true, batch: v.batch === true, lazy };
  } catch {
    return null;
  }
}
