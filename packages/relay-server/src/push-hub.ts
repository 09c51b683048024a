/**
 * @module server/push-hub
 * Fan-out of "this key changed" to the watch sockets of a vault. A socket
 * that asked for bodies also gets the bytes of a small write (a head) with
 * the notice, so a told device need not read it back over HTTP: of the
 * requests a change causes, those reads were most. Larger objects and
 * deletes go out as keys only. A socket that reads `batch` frames gets the
 * notices of a short window in one frame: per notice, a socket write (a
 * loopback send, most of the fan-out's cost) was most of the relay's work.
 */
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import { toBase64url } from '@kith/core/relay';
import { PUSH_BATCH_MS, PUSH_BODY_MAX, type PushMessage, type WatchRequest } from '@kith/relay/protocol';
import { etagOf, MISSED_CHANGES } from './relay-storage.js';

interface Subscriber {
  readonly socket: WebSocket;
  readonly vault: string;
  prefixes: readonly string[];
  /** It asked for bodies with its notices (protocol `watch` with `bodies`). */
  bodies: boolean;
  /** It reads `batch` frames (protocol `watch` with `batch`). */
  batch: boolean;
  /** Notices waiting for the batch window: the key alone, and with the bytes when the socket may have them. */
  readonly queue: { plain: Buffer; full: Buffer | undefined }[];
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
  /** Sockets with queued notices, all sent when the window's timer fires. */
  readonly #due = new Set<Subscriber>();
  #timer: NodeJS.Timeout | NodeJS.Immediate | undefined;

  /** `batchMs`: how long a batching socket's notices wait to share a frame (0: until the end of this turn of the event loop). */
  constructor(batchMs: number = PUSH_BATCH_MS) {
    this.#batchMs = batchMs;
  }

  /** Registers a socket for `vault`; it is told its connection id and removed when it closes. */
  add(vault: string, socket: WebSocket): void {
    const id = randomBytes(12).toString('base64url');
    let subs = this.#byVault.get(vault);
    if (!subs) this.#byVault.set(vault, (subs = new Map()));
    const sub: Subscriber = { socket, vault, prefixes: [], bodies: false, batch: false, queue: [] };
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
        send(socket, {
          type: 'watching',
          prefixes: sub.prefixes,
          ...(sub.bodies ? { bodies: true as const } : {}),
          ...(sub.batch ? { batch: true as const } : {}),
        });
      } else socket.close(1008, 'bad watch request');
    });
    socket.on('close', () => {
      subs.delete(id);
      this.#due.delete(sub);
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
        if (sub.queue.length >= MAX_BATCH) this.#flush(sub);
        else this.#due.add(sub);
      }
    }
    if (this.#due.size > 0 && this.#timer === undefined) {
      const fire = (): void => {
        this.#timer = undefined;
        for (const sub of this.#due) this.#flush(sub);
      };
      this.#timer = this.#batchMs > 0 ? setTimeout(fire, this.#batchMs) : setImmediate(fire);
    }
  }

  /**
   * Sends a socket's queued notices, one frame for all. Bytes go only if its
   * vault's registry is not moving now: a notice queued before a revocation
   * was noticed does not reach a revoked device after it.
   */
  #flush(sub: Subscriber): void {
    this.#due.delete(sub);
    const queue = sub.queue.splice(0);
    if (queue.length === 0) return;
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
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer as NodeJS.Timeout);
      clearImmediate(this.#timer as NodeJS.Immediate);
      this.#timer = undefined;
    }
    this.#due.clear();
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
    return { type: 'watch', prefixes: v.prefixes, bodies: v.bodies === true, batch: v.batch === true };
  } catch {
    return null;
  }
}
