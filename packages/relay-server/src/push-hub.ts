/**
 * @module server/push-hub
 * Fan-out of "this key changed" to the watch sockets of a vault. Only keys
 * go out, never bytes; a client that wants the object reads it over HTTP.
 */
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { PushMessage, WatchRequest } from '@kith/relay/protocol';
import { MISSED_CHANGES } from './relay-storage.js';

interface Subscriber {
  readonly socket: WebSocket;
  prefixes: readonly string[];
}

/** Most prefixes one socket may watch: a bound on per-message work. */
const MAX_PREFIXES = 16;

/** The watch sockets of every vault of one relay process. */
export class PushHub {
  readonly #byVault = new Map<string, Map<string, Subscriber>>();

  /** Registers a socket for `vault`; it is told its connection id and removed when it closes. */
  add(vault: string, socket: WebSocket): void {
    const id = randomBytes(12).toString('base64url');
    let subs = this.#byVault.get(vault);
    if (!subs) this.#byVault.set(vault, (subs = new Map()));
    const sub: Subscriber = { socket, prefixes: [] };
    subs.set(id, sub);
    socket.on('message', (data, isBinary) => {
      // Text frames arrive as a Buffer (or fragments); anything else is not a watch request.
      const raw = !isBinary && Buffer.isBuffer(data) ? data.toString('utf8') : '';
      const req = parseWatchRequest(raw);
      if (req) {
        sub.prefixes = req.prefixes.slice(0, MAX_PREFIXES);
        send(socket, { type: 'watching', prefixes: sub.prefixes });
      } else socket.close(1008, 'bad watch request');
    });
    socket.on('close', () => {
      subs.delete(id);
      if (subs.size === 0 && this.#byVault.get(vault) === subs) this.#byVault.delete(vault);
    });
    send(socket, { type: 'hello', connection: id });
  }

  /**
   * Tells every socket of `vault` watching a prefix of `key`, except the
   * writer's own. {@link MISSED_CHANGES} (the bus lost notices) closes every
   * socket with 1012: clients reconnect, and a client coming back reports a
   * change once, so nothing missed stays unseen until its next poll.
   */
  changed(vault: string, key: string, writer: string | undefined): void {
    if (vault === MISSED_CHANGES.vault) {
      for (const subs of this.#byVault.values()) for (const sub of subs.values()) sub.socket.close(1012, 'changes may have been missed; reconnect');
      return;
    }
    const subs = this.#byVault.get(vault);
    if (!subs) return;
    // Encoded once for every socket told, not once per socket.
    let frame: Buffer | undefined;
    for (const [id, sub] of subs) {
      if (id !== writer && sub.prefixes.some((p) => key.startsWith(p))) send(sub.socket, (frame ??= encode({ type: 'changed', key })));
    }
  }

  /** Number of open sockets (for tests and health). */
  get size(): number {
    let n = 0;
    for (const subs of this.#byVault.values()) n += subs.size;
    return n;
  }

  /** Closes every socket (shutdown): clients reconnect elsewhere or poll. */
  closeAll(): void {
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
    return { type: 'watch', prefixes: v.prefixes };
  } catch {
    return null;
  }
}
