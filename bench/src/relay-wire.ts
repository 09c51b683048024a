/**
 * The relay protocol as the load generator (relay-load.ts) speaks it: its
 * routes and headers, one device's HTTP requests from its own loopback
 * address, signing in, copying a vault's first objects, and the watch
 * socket (see packages/relay/src/protocol.ts).
 * @module
 */
import http from 'node:http';
import WebSocket from 'ws';
import type { RemoteDeviceKey } from '@kith/core/adapter';
import type { DeviceTemplate } from './relay-devices.js';

/** Routes, header and socket sub-protocols of the relay protocol (packages/relay/src/protocol.ts). */
export const API = '/v1/vaults';
export const CONNECTION_HEADER = 'x-kith-connection';
const WS_PROTOCOL = 'kith.v1';
const BEARER_PROTOCOL_PREFIX = 'kith.bearer.';

export interface Device {
  /** The relay process it talks to (`http://host:port`). */
  readonly base: string;
  readonly vault: string;
  readonly key: RemoteDeviceKey;
  /**
   * Its own loopback address: the relay limits requests without a token
   * per client address, and a thousand real devices would have a thousand.
   */
  readonly address: string;
  /** Its HTTP headers: the bearer token, once signed in. */
  headers: Record<string, string>;
  socket?: WebSocket;
  /** Its watch connection id (sent with its writes so it is not told of them). */
  connection?: string;
  /** Notifications seen per head key: the n-th is that writer's n-th change (one socket keeps order, a writer one change at a time). */
  readonly seen: Map<string, number>;
  /** The relay confirmed bodies on this socket. */
  bodies?: boolean;
  /** The relay confirmed batch frames on this socket. */
  batch?: boolean;
  /** Until when its view of `heads/` (from a listing, moved by pushed bodies) answers; 0 until a listing seeds it. */
  viewUntil: number;
  /** Segments whose bytes a notice brought, not yet read. */
  readonly pushed: Set<string>;
}

/** One HTTP request on a keep-alive agent from `d`'s address; resolves with the status and body. */
export function request(
  agent: http.Agent,
  d: Device,
  url: URL,
  method: string,
  headers: Record<string, string>,
  body?: Uint8Array,
): Promise<{ status: number; body: Buffer }> {
  const sent = body ? { 'content-type': 'application/octet-stream', ...headers, 'content-length': String(body.length) } : headers;
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, localAddress: d.address, headers: sent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `request`, failing unless the relay answered `want`. */
async function expect(want: number, ...args: Parameters<typeof request>): Promise<Buffer> {
  const res = await request(...args);
  if (res.status !== want) throw new Error(`relay load: ${args[3]} ${args[2].pathname} answered ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`);
  return res.body;
}

/**
 * Signs `d` in as `key` (its own, or the recovery key while it stores a
 * registry): the relay's challenge, signed, traded for a bearer token.
 * The one place the load generator authenticates.
 */
export async function signIn(agent: http.Agent, d: Device, key: RemoteDeviceKey): Promise<Record<string, string>> {
  const post = async (what: string, body: object): Promise<Record<string, unknown>> =>
    JSON.parse(
      (
        await expect(
          200,
          agent,
          d,
          new URL(`${d.base}${API}/${d.vault}/auth/${what}`),
          'POST',
          { 'content-type': 'application/json' },
          Buffer.from(JSON.stringify(body)),
        )
      ).toString('utf8'),
    ) as Record<string, unknown>;
  const { challenge } = await post('challenge', { signer: key.signer });
  const signature = Buffer.from(await key.sign(Buffer.from(String(challenge), 'base64url'))).toString('base64url');
  const { token } = await post('token', { challenge, signature });
  return { authorization: `Bearer ${String(token)}` };
}

/** Stores the template's header and registry under `d`'s vault (the first device of each copy does it). */
export async function copyVault(agent: http.Agent, d: Device, t: DeviceTemplate): Promise<void> {
  const [vault, ...registry] = t.objects;
  const url = (key: string): URL => new URL(`${d.base}${API}/${d.vault}/objects/${key}`);
  await expect(204, agent, d, url('vault'), 'PUT', { 'if-none-match': '*' }, vault![1]);
  const headers = await signIn(agent, d, t.recovery);
  for (const [key, bytes] of registry) await expect(204, agent, d, url(key), 'PUT', { ...headers, 'if-none-match': '*' }, bytes);
}

/** Opens `d`'s watch socket and resolves once the relay said hello and got the watch request. */
export function connect(
  d: Device,
  ask: { bodies: boolean; batch: boolean },
  onChanged: (d: Device, key: string, body: string | undefined) => void,
): Promise<void> {
  const token = d.headers['authorization']?.replace(/^Bearer /, '');
  const url = `${d.base.replace(/^http/, 'ws')}${API}/${d.vault}/watch`;
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, token ? [WS_PROTOCOL, `${BEARER_PROTOCOL_PREFIX}${token}`] : [WS_PROTOCOL], {
      perMessageDeflate: false,
      localAddress: d.address,
    });
    d.socket = socket;
    socket.once('error', reject);
    const changed = (msg: { key?: string; body?: string }): void => {
      if (msg.key?.startsWith('segments/')) {
        if (msg.body !== undefined) d.pushed.add(msg.key);
      } else if (msg.key) onChanged(d, msg.key, msg.body);
    };
    // As the client does, segments (watched for their bytes alone) are lazy: their notices come in the head's frame.
    const watch = (prefixes: string[], lazy: string[] = []): void =>
      socket.send(
        JSON.stringify({
          type: 'watch',
          prefixes,
          ...(ask.bodies ? { bodies: true } : {}),
          ...(ask.batch ? { batch: true, ...(lazy.length > 0 ? { lazy } : {}) } : {}),
        }),
      );
    socket.on('message', (data: Buffer) => {
      type Changed = { key?: string; body?: string };
      const msg = JSON.parse(data.toString('utf8')) as Changed & { type: string; connection?: string; bodies?: boolean; batch?: boolean; changes?: Changed[] };
      if (msg.type === 'hello') {
        if (msg.connection) d.connection = msg.connection;
        watch(['heads/']);
      } else if (msg.type === 'watching') {
        // As the client does: once bodies are granted, segments are watched too (bytes of what a pull reads next).
        if (msg.bodies === true && !d.bodies) watch(['heads/', 'segments/'], ['segments/']);
        else resolve();
        d.bodies = msg.bodies === true;
        d.batch = msg.batch === true;
      } else if (msg.type === 'changed') changed(msg);
      else if (msg.type === 'batch') msg.changes?.forEach(changed);
    });
  });
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function pooled<T>(items: readonly T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** The loopback address of device `i`: 127.77.0.0/16, one each. */
export const addressOf = (i: number): string => `127.77.${(i >> 8) & 255}.${i & 255}`;
