/**
 * @module server/relay-server
 * The relay in embedded mode: Fastify over HTTP, objects in SQLite
 * (object-db.ts), push over WebSocket (push-hub.ts). The relay never sees
 * plaintext: it stores what devices give it and tells the other devices
 * of a vault which keys moved.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import { assertRemoteKey, assertRemotePrefix, ErrorCode, KithError } from '@kith/core';
import { ObjectDb, type Durability } from './object-db.js';
import { PushHub } from './push-hub.js';
import { LocalChangeBus, type ChangeBus, type RelayStorage } from './relay-storage.js';
import { silentLogger, type RelayLogger } from './relay-log.js';
import { API_PREFIX, assertVaultName, CONNECTION_HEADER, encodeBatch, MAX_PAGE, SIZE_HEADER } from '../protocol.js';

/** Options of {@link startRelay}. */
export interface RelayOptions {
  /** Where the SQLite database lives (created if missing); unused when `storage` is given. */
  readonly dataDir?: string;
  /** TCP port; 0 (default) picks a free one. */
  readonly port?: number;
  /** Interface to listen on (default `127.0.0.1`). */
  readonly host?: string;
  /** Largest request body in bytes (default 80 MiB). */
  readonly bodyLimit?: number;
  /** `full` (default) fsyncs every write before answering; `normal` survives a process crash but not a power cut. */
  readonly durability?: Durability;
  /** Structured log sink (default: silent). See `jsonLineLogger`. */
  readonly logger?: RelayLogger;
  /** Where objects live instead of SQLite under `dataDir` (scale-out); closed with the relay. */
  readonly storage?: RelayStorage;
  /** How changes reach the other relay processes (scale-out); default: this process only. Closed with the relay. */
  readonly bus?: ChangeBus;
}

/** A running relay. */
export interface RunningRelay {
  /** `http://host:port` (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** Open watch sockets, across vaults. */
  readonly connections: () => number;
  /** Stops accepting, finishes requests in flight, closes sockets and the database. */
  close(): Promise<void>;
}

/** Default request size limit: 80 MiB (blob chunks and segments are far smaller). */
export const DEFAULT_BODY_LIMIT = 80 * 1024 * 1024;

interface VaultParams {
  vault: string;
}
interface ObjectParams extends VaultParams {
  '*': string;
}

const STATUS: Partial<Record<string, number>> = {
  [ErrorCode.BadName]: 400,
  [ErrorCode.BadInput]: 400,
  [ErrorCode.TooLarge]: 413,
  [ErrorCode.RemoteAuth]: 401,
  [ErrorCode.Revoked]: 403,
};

/**
 * Starts a relay that keeps its data under `dataDir`.
 *
 * @example
 * const relay = await startRelay({ dataDir: '/var/lib/kith-relay', port: 8787 });
 * // devices use the remote URL `${relay.url}/my-vault`
 * await relay.close();
 */
export async function startRelay(options: RelayOptions): Promise<RunningRelay> {
  const log = options.logger ?? silentLogger;
  const db = options.storage ?? new ObjectDb(requireDataDir(options), options.durability);
  const bus = options.bus ?? new LocalChangeBus();
  const hub = new PushHub();
  const unsubscribe = bus.subscribe((c) => hub.changed(c.vault, c.key, c.writer));
  const app = Fastify({ logger: false, bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT, exposeHeadRoutes: false, return503OnClosing: true });
  let closing: Promise<void> | undefined;
  // While closing, answers end their connection, so keep-alive sockets do not hold shutdown open.
  app.addHook('onSend', async (_req, reply) => {
    if (closing) void reply.header('connection', 'close');
  });
  try {
    await buildRoutes(app, db, bus, hub, log);
    await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  } catch (e) {
    await app.close().catch(() => {});
    unsubscribe();
    await Promise.allSettled([bus.close(), db.close()]);
    throw e;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (options.port ?? 0);
  const host = options.host ?? '127.0.0.1';
  log({ level: 'info', msg: 'relay listening', port });
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    connections: () => hub.size,
    close: () =>
      (closing ??= (async () => {
        hub.closeAll();
        await app.close();
        unsubscribe();
        await bus.close();
        await db.close();
        log({ level: 'info', msg: 'relay stopped' });
      })()),
  };
}

function requireDataDir(options: RelayOptions): string {
  if (options.dataDir === undefined) throw new KithError(ErrorCode.Usage, 'the relay needs a data directory or a storage');
  return options.dataDir;
}

async function buildRoutes(app: FastifyInstance, db: RelayStorage, bus: ChangeBus, hub: PushHub, log: RelayLogger): Promise<void> {
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });

  // Bodies are opaque bytes whatever the client calls them; JSON only where a route asks.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(new KithError(ErrorCode.BadInput, 'request body is not valid JSON'), undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((e: unknown, req, reply) => {
    const kith = KithError.is(e) ? e : undefined;
    const fst = e as { statusCode?: number; code?: string; message?: string };
    const status = kith ? (STATUS[kith.code] ?? 500) : (fst.statusCode ?? 500);
    const code = kith?.code ?? (status === 413 ? ErrorCode.TooLarge : status < 500 ? ErrorCode.BadInput : ErrorCode.Internal);
    const message = kith?.message ?? (status < 500 ? String(fst.message ?? 'bad request') : 'internal relay error');
    if (status >= 500) log({ level: 'error', msg: 'request failed', route: req.routeOptions.url, error: String(fst.code ?? fst.message ?? e) });
    void reply.code(status).send({ code, message });
  });

  app.addHook('onResponse', (req, reply, done) => {
    log({ level: 'info', msg: 'request', method: req.method, route: req.routeOptions.url ?? 'unknown', status: reply.statusCode, ms: Math.round(reply.elapsedTime) });
    done();
  });

  app.get('/health', async () => ({ ok: true }));

  const vaultOf = (req: FastifyRequest<{ Params: VaultParams }>): string => {
    assertVaultName(req.params.vault);
    return req.params.vault;
  };
  const target = (req: FastifyRequest<{ Params: ObjectParams }>): { vault: string; key: string } => {
    const vault = vaultOf(req);
    // The key as sent, not as decoded: valid keys never need escaping, so `a%2Fb` or `%2e%2e` is refused, not reinterpreted.
    const rawPath = req.url.split('?', 1)[0]!;
    const key = rawPath.slice(rawPath.indexOf('/objects/') + '/objects/'.length);
    assertRemoteKey(key);
    return { vault, key };
  };
  const writer = (req: FastifyRequest): string | undefined => {
    const h = req.headers[CONNECTION_HEADER];
    return typeof h === 'string' ? h : undefined;
  };

  const objectRoute = `${API_PREFIX}/:vault/objects/*`;

  app.put<{ Params: ObjectParams; Body: Buffer }>(objectRoute, async (req, reply) => {
    const { vault, key } = target(req);
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const ifAbsent = req.headers['if-none-match'] === '*';
    const wrote = await db.put(vault, key, body, ifAbsent);
    if (!wrote) return reply.code(412).send({ code: ErrorCode.RemoteInUse, message: 'an object already exists under this key' });
    await bus.publish({ vault, key, writer: writer(req) });
    return reply.code(204).send();
  });

  app.get<{ Params: ObjectParams }>(objectRoute, async (req, reply) => {
    const { vault, key } = target(req);
    const range = parseRange(req.headers.range);
    const bytes = await db.get(vault, key, range);
    if (!bytes) return reply.code(404).send({ code: ErrorCode.NotFound, message: 'no such object' });
    return reply
      .code(range ? 206 : 200)
      .type('application/octet-stream')
      .send(bytes);
  });

  app.head<{ Params: ObjectParams }>(objectRoute, async (req, reply) => {
    const { vault, key } = target(req);
    const info = await db.head(vault, key);
    if (!info) return reply.code(404).send();
    return reply.code(200).header(SIZE_HEADER, String(info.size)).header('etag', `"${info.etag}"`).send();
  });

  app.delete<{ Params: ObjectParams }>(objectRoute, async (req, reply) => {
    const { vault, key } = target(req);
    if (await db.delete(vault, key)) await bus.publish({ vault, key, writer: writer(req) });
    return reply.code(204).send();
  });

  app.get<{ Params: VaultParams; Querystring: { prefix?: string; after?: string; limit?: string } }>(`${API_PREFIX}/:vault/list`, async (req) => {
    const vault = vaultOf(req);
    const { prefix = '', after = '', limit } = req.query;
    assertRemotePrefix(prefix);
    if (typeof after !== 'string' || after.length > 1024) throw new KithError(ErrorCode.BadInput, 'bad "after"');
    const n = limit === undefined ? MAX_PAGE : Number(limit);
    if (!Number.isInteger(n) || n < 1) throw new KithError(ErrorCode.BadInput, 'bad "limit"');
    return await db.list(vault, prefix, after, Math.min(n, MAX_PAGE));
  });

  app.post<{ Params: VaultParams; Body: unknown }>(`${API_PREFIX}/:vault/batch-get`, async (req, reply) => {
    const vault = vaultOf(req);
    const keys = (req.body as { keys?: unknown } | undefined)?.keys;
    if (!Array.isArray(keys) || keys.length > MAX_PAGE || !keys.every((k): k is string => typeof k === 'string')) {
      throw new KithError(ErrorCode.BadInput, `batch-get wants { "keys": [...] } with at most ${MAX_PAGE} keys`);
    }
    keys.forEach(assertRemoteKey);
    const found = await db.getMany(vault, keys);
    const body = encodeBatch(keys.map((k, i) => [k, found[i] ?? null] as const));
    return reply.type('application/octet-stream').send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  });

  app.get<{ Params: VaultParams }>(`${API_PREFIX}/:vault/watch`, { websocket: true }, (socket, req) => {
    try {
      hub.add(vaultOf(req), socket);
    } catch {
      socket.close(1008, 'bad vault name');
    }
  });

  app.setNotFoundHandler((_req, reply: FastifyReply) => void reply.code(404).send({ code: ErrorCode.NotFound, message: 'no such route' }));
}

/** `bytes=a-b` (inclusive) → offset/length; anything else → whole object. */
function parseRange(h: string | undefined): { offset: number; length: number } | undefined {
  const m = h === undefined ? null : /^bytes=(\d{1,15})-(\d{1,15})$/.exec(h);
  if (!m) return undefined;
  const offset = Number(m[1]);
  const end = Number(m[2]);
  if (end < offset) throw new KithError(ErrorCode.BadInput, 'bad Range header');
  return { offset, length: end - offset + 1 };
}
