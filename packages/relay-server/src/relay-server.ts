/**
 * @module server/relay-server
 * The relay in embedded mode: Fastify over HTTP (the routes in
 * relay-routes.ts), objects in SQLite (object-db.ts), push over WebSocket
 * (push-hub.ts), device authentication (auth/); this module starts and
 * stops it. The relay never sees plaintext: it stores what registered
 * devices give it and tells the other devices of a vault which keys moved.
 */
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import { ErrorCode, KithError } from '@kith/core/adapter';
import { ObjectDb, type Durability } from './object-db.js';
import { PushHub } from './push-hub.js';
import { LocalChangeBus, MISSED_CHANGES, type ChangeBus, type RelayStorage } from './relay-storage.js';
import { silentLogger, type RelayLogger } from './relay-log.js';
import { assertFetchablePort } from '@kith/relay';
import { parseAllowedOrigins } from './cors.js';
import { openStaticApp, type StaticApp } from './static-app.js';
import { DEFAULT_QUOTA_BYTES, QuotaMeter, type RelayRateLimits } from './auth/limits.js';
import { RelayAuth } from './auth/relay-auth.js';
import { GuardedWrites } from './auth/writes.js';
import { movesSpaceState } from './auth/space-cache.js';
import { buildRoutes } from './relay-routes.js';

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
