/**
 * @module server/relay-routes
 * The relay's HTTP and WebSocket routes (docs/RELAY.md): body parsing,
 * error answers, the request log, CORS, who asks (decided before a body is
 * read), objects, listings, batched reads, the watch socket, device
 * authentication, and the web app for any other path.
 */
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { assertRemoteKey, assertRemotePrefix, ErrorCode, KithError } from '@kith/core/adapter';
import { toBase64url } from '@kith/core/relay';
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
import type { RouteKind } from './auth/access.js';
import type { Principal, RelayAuth } from './auth/relay-auth.js';
import type { GuardedWrites } from './auth/writes.js';
import { installCors } from './cors.js';
import { errorAnswer } from './error-answer.js';
import type { PushHub } from './push-hub.js';
import { silentLogger, type RelayLogger } from './relay-log.js';
import { etagOf, type ChangeBus, type RelayStorage } from './relay-storage.js';
import type { StaticApp } from './static-app.js';

interface VaultParams {
  vault: string;
}
interface ObjectParams extends VaultParams {
  '*': string;
}

/** What the routes use: the relay's storage, change bus, push hub, log, auth and guarded writes, and what it serves to pages. */
export interface RouteDeps {
  readonly db: RelayStorage;
  readonly bus: ChangeBus;
  readonly hub: PushHub;
  readonly log: RelayLogger;
  readonly auth: RelayAuth;
  readonly writes: GuardedWrites;
  readonly allowed: ReadonlySet<string>;
  readonly site: StaticApp | undefined;
}

/** Installs the relay's routes, hooks and parsers on `app` (see docs/RELAY.md for the protocol). */
export async function buildRoutes(app: FastifyInstance, { db, bus, hub, log, auth, writes, allowed, site }: RouteDeps): Promise<void> {
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
