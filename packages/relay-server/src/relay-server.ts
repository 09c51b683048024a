/**
 * @module server/relay-server
 * The relay in embedded mode: Fastify over HTTP, objects in SQLite
 * (object-db.ts), push over WebSocket (push-hub.ts), device authentication
 * (auth/). The relay never sees plaintext: it stores what registered
 * devices give it and tells the other devices of a vault which keys moved.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import { assertRemoteKey, assertRemotePrefix, ErrorCode, KithError } from '@kith/core/adapter';
import { toBase64url } from '@kith/core/relay';
import { ObjectDb, type Durability } from './object-db.js';
import { PushHub } from './push-hub.js';
import { etagOf, LocalChangeBus, MISSED_CHANGES, type ChangeBus, type RelayStorage } from './relay-storage.js';
import { silentLogger, type RelayLogger } from './relay-log.js';
import { assertFetchablePort } from '@kith/relay';
import type { RouteKind } from './auth/access.js';
import { errorAnswer } from './error-answer.js';
import { installCors, parseAllowedOrigins } from './cors.js';
import { openStaticApp, type StaticApp } from './static-app.js';
import { DEFAULT_QUOTA_BYTES, QuotaMeter, type RelayRateLimits } from './auth/limits.js';
import { RelayAuth, type Principal } from './auth/relay-auth.js';
import { GuardedWrites } from './auth/writes.js';
import { movesSpaceState } from './auth/space-cache.js';
import {
  API_PREFIX,
  assertVaultName,
  BEARER_PROTOCOL_PREFIX,
  CONNECTION_HEADER,
  encodeBatch,
  INVITE_HEADER,
  LIST_BODY_MAX,
  MAX_PAGE,
  PUSH_BODY_MAX,
  SIZE_HEADER,
  WS_PROTOCOL,
} from '@kith/relay/protocol';

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
  /**
   * Key of the challenges and tokens (HMAC-SHA256), at least 32 bytes; every
   * process of a deployment must share it. Default: random per process, so
   * tokens die with the process and clients sign a new challenge.
   */
  readonly authSecret?: Uint8Array;
  /** When set, creating a vault needs this token (header `x-kith-invite`); otherwise anyone may create one. */
  readonly inviteToken?: string;
  /** Lifetime of a bearer token (default 15 min). */
  readonly tokenTtlMs?: number;
  /** Requests per second and burst, per registered signer and per address without a token (see `DEFAULT_RATE_LIMITS`). */
  readonly rateLimit?: Partial<RelayRateLimits>;
  /** Stored bytes per vault (default 10 GiB; `Infinity` for none). A write past it gets 507 `KITH_QUOTA_EXCEEDED`. */
  readonly quotaBytes?: number;
  /**
   * How long a request may rely on a registry that storage showed
   * unchanged, instead of asking storage again, while the change bus is up
   * (it brings other processes' registry entries at once and ends the
   * trust). Default: 0 (ask for every request, a point lookup in SQLite shared by the requests of one turn of the event loop)
   * for the embedded relay; {@link DEFAULT_SCALE_OUT_REGISTRY_TRUST_MS}
   * with a bus that reports its continuity (scale-out, where asking is a
   * database round trip). It bounds how late a revocation counts when a
   * notice is lost.
   */
  readonly registryTrustMs?: number;
  /**
   * Origins of web apps that may use the relay from a page
   * (`scheme://host[:port]`): they get CORS answers and may open the watch
   * socket. The relay's own origin always may; other pages get no CORS
   * headers and their watch sockets are refused (see cors.ts).
   */
  readonly allowOrigins?: readonly string[];
  /** How long notices to a socket that reads batches wait to share one frame (default `PUSH_BATCH_MS`: 0, none waits but those under the socket's lazy prefixes). */
  readonly pushBatchMs?: number;
  /** A built web app to serve at `/` (GET and HEAD outside `/v1/` and `/health`; see static-app.ts); it must hold `index.html`. */
  readonly staticDir?: string;
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

/** Scale-out default of `registryTrustMs`. */
export const DEFAULT_SCALE_OUT_REGISTRY_TRUST_MS = 1000;

/** Stored bytes are counted again this often when other processes write too (scale-out). */
const REMEASURE_MS = 5 * 60_000;

/**
 * Starts a relay that keeps its data under `dataDir`.
 *
 * @example
 * const relay = await startRelay({ dataDir: '/var/lib/kith-relay', port: 8787 });
 * // devices use the remote URL `${relay.url}/my-vault`
 * await relay.close();
 */
export async function startRelay(options: RelayOptions): Promise<RunningRelay> {
  if (options.port !== undefined) assertFetchablePort(options.port, ErrorCode.Usage, 'a relay');
  const allowed = parseAllowedOrigins(options.allowOrigins ?? []);
  const site = options.staticDir === undefined ? undefined : await openSite(options.staticDir);
  const log = options.logger ?? silentLogger;
  const secret = options.authSecret ?? randomBytes(32);
  if (secret.length < 32) throw new KithError(ErrorCode.Usage, 'the relay auth secret must be at least 32 bytes');
  const db = options.storage ?? new ObjectDb(requireDataDir(options), options.durability);
  const bus = options.bus ?? new LocalChangeBus();
  const hub = new PushHub(options.pushBatchMs);
  const continuity = bus.continuity?.bind(bus);
  const trustMs = options.registryTrustMs ?? (options.bus && continuity ? DEFAULT_SCALE_OUT_REGISTRY_TRUST_MS : 0);
  const auth = new RelayAuth(db, log, {
    secret,
    ...(options.tokenTtlMs !== undefined ? { tokenTtlMs: options.tokenTtlMs } : {}),
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
    ...(continuity && trustMs > 0 ? { registryTrust: { ms: trustMs, continuity } } : {}),
  });
  const quota = new QuotaMeter(db, options.quotaBytes ?? DEFAULT_QUOTA_BYTES, options.bus ? REMEASURE_MS : Infinity);
  const writes = new GuardedWrites(db, auth.registries, auth.spaces, quota, options.inviteToken);
  const unsubscribe = bus.subscribe((c) => {
    if (c.vault === MISSED_CHANGES.vault) auth.changesMissed();
    // Before the notice goes out: no bodies to this vault's sockets until revoked signers' sockets are closed.
    else if (c.key.startsWith('registry/')) hub.holdBodies(c.vault, auth.registryChanged(c.vault));
    // Likewise for a space: a removal or a dropped device closes sockets before the next notice goes out.
    else if (movesSpaceState(c.key)) hub.holdBodies(c.vault, auth.spaceChanged(c.vault));
    hub.changed(c.vault, c.key, c.writer, c.body);
  });
  const app = Fastify({ logger: false, bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT, exposeHeadRoutes: false, return503OnClosing: true });
  let closing: Promise<void> | undefined;
  // While closing, answers end their connection, so keep-alive sockets do not hold shutdown open.
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });
  try {
    await buildRoutes(app, { db, bus, hub, log, auth, writes, allowed, site });
    await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  } catch (e) {
    await app.close().catch(() => {});
    auth.close();
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
        auth.close();
        unsubscribe();
        await bus.close();
        await db.close();
        log({ level: 'info', msg: 'relay stopped' });
      })()),
  };
}

async function openSite(dir: string): Promise<StaticApp> {
  try {
    return await openStaticApp(dir);
  } catch {
    throw new KithError(ErrorCode.Usage, `no web app to serve in ${dir}`, { hint: 'give the folder of a built app (it must hold index.html)' });
  }
}

function requireDataDir(options: RelayOptions): string {
  if (options.dataDir === undefined) throw new KithError(ErrorCode.Usage, 'the relay needs a data directory or a storage');
  return options.dataDir;
}

interface RouteDeps {
  readonly db: RelayStorage;
  readonly bus: ChangeBus;
  readonly hub: PushHub;
  readonly log: RelayLogger;
  readonly auth: RelayAuth;
  readonly writes: GuardedWrites;
  readonly allowed: ReadonlySet<string>;
  readonly site: StaticApp | undefined;
}

async function buildRoutes(app: FastifyInstance, { db, bus, hub, log, auth, writes, allowed, site }: RouteDeps): Promise<void> {
  // The relay answers with its own sub-protocol; the bearer token a client offers beside it is never echoed.
  await app.register(websocket, { options: { maxPayload: 64 * 1024, handleProtocols: (offered) => (offered.has(WS_PROTOCOL) ? WS_PROTOCOL : false) } });

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
    const answer = errorAnswer(e);
    if (answer.internal) {
      const fst = e as { code?: string; message?: string };
      log({ level: 'error', msg: 'request failed', route: req.routeOptions.url, error: String(fst.code ?? fst.message ?? e) });
    }
    if (answer.retryAfterMs !== undefined) void reply.header('retry-after', String(Math.ceil(answer.retryAfterMs / 1000)));
    void reply.code(answer.status).send(answer.body);
  });

  // Only when someone listens: a hook costs every request, and a busy relay answers thousands a second.
  if (log !== silentLogger) {
    app.addHook('onResponse', (req, reply, done) => {
      log({
        level: 'info',
        msg: 'request',
        method: req.method,
        route: req.routeOptions.url ?? 'unknown',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      });
      done();
    });
  }

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
  const header = (req: FastifyRequest, name: string): string | undefined => {
    const h = req.headers[name];
    return typeof h === 'string' ? h : undefined;
  };
  const writer = (req: FastifyRequest): string | undefined => header(req, CONNECTION_HEADER);

  // Before auth: a preflight carries no token, and a foreign page's watch socket is refused first.
  installCors(app, allowed);

  // Who asks, decided before the body is read (an unauthenticated client cannot make the relay buffer a large one).
  const principals = new WeakMap<FastifyRequest, Principal>();
  app.addHook('onRequest', async (req: FastifyRequest<{ Params: Partial<ObjectParams>; Querystring: { prefix?: unknown } }>) => {
    const kind = (req.routeOptions.config as { kind?: RouteKind }).kind;
    if (!kind) return;
    const vault = vaultOf(req as FastifyRequest<{ Params: VaultParams }>);
    const key = kind === 'object' ? target(req as FastifyRequest<{ Params: ObjectParams }>).key : undefined;
    const prefix = kind === 'list' && typeof req.query.prefix === 'string' ? req.query.prefix : undefined;
    const length = header(req, 'content-length');
    const who = await auth.admit({
      kind,
      method: req.method,
      vault,
      client: req.ip,
      ...(key !== undefined ? { key } : {}),
      ...(prefix !== undefined ? { prefix } : {}),
      ...bearerOf(req, kind),
      // A streamed body of unknown length counts as too large for a request without a token.
      ...(length !== undefined ? { contentLength: Number(length) } : req.headers['transfer-encoding'] ? { contentLength: Infinity } : {}),
    });
    if (who) principals.set(req, who);
  });

  const objectRoute = `${API_PREFIX}/:vault/objects/*`;
  const object = { config: { kind: 'object' satisfies RouteKind } };

  app.put<{ Params: ObjectParams; Body: Buffer }>(objectRoute, object, async (req, reply) => {
    const { vault, key } = target(req);
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const ifAbsent = req.headers['if-none-match'] === '*';
    const outcome = await writes.put(vault, key, body, { ifAbsent, who: principals.get(req), invite: header(req, INVITE_HEADER) });
    if (outcome === 'exists') return reply.code(412).send({ code: ErrorCode.RemoteInUse, message: 'an object already exists under this key' });
    const small = body.length <= PUSH_BODY_MAX;
    await bus.publish({ vault, key, writer: writer(req), ...(small ? { body } : {}) });
    // A small object's etag, so a client that keeps a pushed view of it (its own head) knows what it wrote.
    if (small) void reply.header('etag', `"${etagOf(body)}"`);
    return reply.code(204).send();
  });

  app.get<{ Params: ObjectParams }>(objectRoute, object, async (req, reply) => {
    const { vault, key } = target(req);
    const range = parseRange(req.headers.range);
    const bytes = await db.get(vault, key, range);
    if (!bytes) return reply.code(404).send({ code: ErrorCode.NotFound, message: 'no such object' });
    return reply
      .code(range ? 206 : 200)
      .type('application/octet-stream')
      .send(bytes);
  });

  app.head<{ Params: ObjectParams }>(objectRoute, object, async (req, reply) => {
    const { vault, key } = target(req);
    const info = await db.head(vault, key);
    if (!info) return reply.code(404).send();
    return reply.code(200).header(SIZE_HEADER, String(info.size)).header('etag', `"${info.etag}"`).send();
  });

  app.delete<{ Params: ObjectParams }>(objectRoute, object, async (req, reply) => {
    const { vault, key } = target(req);
    if (await writes.delete(vault, key, principals.get(req))) await bus.publish({ vault, key, writer: writer(req) });
    return reply.code(204).send();
  });

  app.get<{ Params: VaultParams; Querystring: { prefix?: string; after?: string; limit?: string; bodies?: string } }>(
    `${API_PREFIX}/:vault/list`,
    { config: { kind: 'list' satisfies RouteKind } },
    async (req) => {
      const vault = vaultOf(req);
      const { prefix = '', after = '', limit, bodies } = req.query;
      assertRemotePrefix(prefix);
      if (typeof after !== 'string' || after.length > 1024) throw new KithError(ErrorCode.BadInput, 'bad "after"');
      const n = limit === undefined ? MAX_PAGE : Number(limit);
      if (!Number.isInteger(n) || n < 1) throw new KithError(ErrorCode.BadInput, 'bad "limit"');
      const page = await db.list(vault, prefix, after, Math.min(n, MAX_PAGE), bodies === '1' ? LIST_BODY_MAX : undefined);
      if (bodies !== '1') return page;
      return { ...page, items: page.items.map(({ body, ...info }) => (body ? { ...info, body: toBase64url(body) } : info)) };
    },
  );

  app.post<{ Params: VaultParams; Body: unknown }>(`${API_PREFIX}/:vault/batch-get`, { config: { kind: 'batch' satisfies RouteKind } }, async (req, reply) => {
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

  app.get<{ Params: VaultParams }>(`${API_PREFIX}/:vault/watch`, { websocket: true, config: { kind: 'watch' satisfies RouteKind } }, (socket, req) => {
    // onRequest admitted only a registered signer of this vault.
    const who = principals.get(req)!;
    hub.add(who.vault, socket);
    auth.watching(who, socket);
  });

  const authRoute = { config: { kind: 'auth' satisfies RouteKind } };
  app.post<{ Params: VaultParams; Body: unknown }>(`${API_PREFIX}/:vault/auth/challenge`, authRoute, async (req) => auth.challenge(vaultOf(req), req.body));
  app.post<{ Params: VaultParams; Body: unknown }>(`${API_PREFIX}/:vault/auth/token`, authRoute, async (req) => auth.token(vaultOf(req), req.body));

  app.setNotFoundHandler(async (req, reply: FastifyReply) => {
    if (site && (await site.serve(req, reply))) return reply;
    return reply.code(404).send({ code: ErrorCode.NotFound, message: 'no such route' });
  });
}

/** The bearer token of a request: the `authorization` header, or for the watch socket the sub-protocol that carries it. */
function bearerOf(req: FastifyRequest, kind: RouteKind): { token?: string } {
  const h = req.headers.authorization;
  if (typeof h === 'string' && h.startsWith('Bearer ')) return { token: h.slice('Bearer '.length) };
  if (kind !== 'watch') return {};
  const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim());
  const bearer = offered.find((p) => p.startsWith(BEARER_PROTOCOL_PREFIX));
  return bearer === undefined ? {} : { token: bearer.slice(BEARER_PROTOCOL_PREFIX.length) };
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
