/**
 * @module server/scale-out/pg-change-bus
 * Change fan-out across relay processes with PostgreSQL LISTEN/NOTIFY.
 * Each process keeps one dedicated connection that LISTENs on the channel
 * and also sends its NOTIFYs. A change is delivered to this process's own
 * sockets at once and to the others through PostgreSQL; a process skips
 * its own notices when they come back. When the connection drops, the bus
 * reconnects with backoff and then delivers {@link MISSED_CHANGES}, since
 * notices sent meanwhile are lost; a periodic ping finds a connection that
 * died silently.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { abortableSleep, ErrorCode, fromBase64url, KithError, toBase64url } from '@kith/core/adapter';
import { MISSED_CHANGES, type ChangeBus, type KeyChange } from '../relay-storage.js';
import { silentLogger, type RelayLogger } from '../relay-log.js';
import { BUS_APPLICATION_NAME, parsePostgresUrl, postgresError, type PostgresTarget } from './pg-connect.js';

/** Options of {@link openPgChangeBus}. */
export interface PgChangeBusOptions {
  /** `postgres://USER@HOST:PORT/DATABASE`: every process of a deployment names the same database. */
  readonly postgres: string;
  /** The NOTIFY channel (default `kith_relay`): deployments sharing a database use different ones. */
  readonly channel?: string;
  /** Reconnect backoff after a lost connection: full jitter from `base` up to `max` ms (default 100 → 5,000). */
  readonly reconnectMs?: { readonly base: number; readonly max: number };
  /** How often the connection is checked with a query (default 15 s), so a silently dead one is noticed. */
  readonly pingMs?: number;
  readonly logger?: RelayLogger;
}

/** PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more. */
export const NOTIFY_PAYLOAD_LIMIT = 7999;

const CHANNEL_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Connects the bus; fails in one line when PostgreSQL cannot be reached
 * (later losses are repaired by reconnecting).
 *
 * @example
 * const bus = await openPgChangeBus({ postgres: 'postgres://kith@db/kith' });
 * const relay = await startRelay({ storage, bus });
 */
export async function openPgChangeBus(o: PgChangeBusOptions): Promise<PgChangeBus> {
  const bus = new PgChangeBus(parsePostgresUrl(o.postgres), o);
  await bus.connected();
  return bus;
}

/** {@link ChangeBus} over LISTEN/NOTIFY. Open it with {@link openPgChangeBus}. */
export class PgChangeBus implements ChangeBus {
  readonly #target: PostgresTarget;
  readonly #channel: string;
  readonly #log: RelayLogger;
  readonly #base: number;
  readonly #max: number;
  readonly #pingMs: number;
  /** Tags this process's notices, so it skips them when PostgreSQL echoes them back. */
  readonly #origin = randomBytes(6).toString('base64url');
  readonly #subs = new Set<(change: KeyChange) => void>();
  readonly #stop = new AbortController();
  #client: pg.Client | undefined;
  #connecting: Promise<void>;
  #ping: ReturnType<typeof setInterval> | undefined;
  #reconnects = 0;
  /** A notice of ours could not be sent: once back, tell the other processes they may have missed some. */
  #dropped = false;
  /** NOTIFYs in flight (awaited on close). */
  readonly #sending = new Set<Promise<void>>();

  /** Prefer {@link openPgChangeBus}, which waits for the first connection. */
  constructor(target: PostgresTarget, o: Omit<PgChangeBusOptions, 'postgres'> = {}) {
    const channel = o.channel ?? 'kith_relay';
    if (!CHANNEL_RE.test(channel))
      throw new KithError(ErrorCode.BadInput, `invalid NOTIFY channel name ${JSON.stringify(channel)}`, { hint: 'use lowercase letters, digits and "_"' });
    this.#target = target;
    this.#channel = channel;
    this.#log = o.logger ?? silentLogger;
    this.#base = o.reconnectMs?.base ?? 100;
    this.#max = o.reconnectMs?.max ?? 5000;
    this.#pingMs = o.pingMs ?? 15_000;
    this.#connecting = this.#connect();
    this.#connecting.catch(() => undefined); // connected() reports it
  }

  /** Resolves once the first connection listens; rejects (one line) if it could not be made. */
  async connected(): Promise<void> {
    try {
      await this.#connecting;
    } catch (e) {
      await this.close();
      throw postgresError(e, this.#target);
    }
  }

  /** True while the LISTEN connection is up. */
  get listening(): boolean {
    return this.#client !== undefined;
  }

  /** How many times the connection was lost and made again. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Changes with every reconnection (notices sent meanwhile were lost); undefined while down. */
  continuity(): number | undefined {
    return this.#client ? this.#reconnects : undefined;
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ ...this.#target.config, application_name: BUS_APPLICATION_NAME, connectionTimeoutMillis: 10_000, query_timeout: 10_000 });
    client.on('notification', (n) => {
      if (n.channel === this.#channel && n.payload !== undefined) this.#received(n.payload);
    });
    // 'error' comes before 'end' on a broken connection; 'end' alone on a clean close by the server.
    client.on('error', (e) => this.#lost(client, e));
    client.on('end', () => this.#lost(client, new Error('connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${this.#channel}`);
    } catch (e) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw e;
    }
    this.#client = client;
    this.#ping = setInterval(() => void client.query('SELECT 1').catch((e: unknown) => this.#lost(client, e)), this.#pingMs);
    this.#ping.unref();
  }

  #lost(client: pg.Client, e: unknown): void {
    if (this.#client !== client || this.#stop.signal.aborted) return;
    this.#client = undefined;
    clearInterval(this.#ping);
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    this.#log({
      level: 'warn',
      msg: 'change bus lost its PostgreSQL connection; reconnecting',
      error: String((e as { code?: string }).code ?? 'connection lost'),
    });
    this.#connecting = this.#reconnect();
  }

  async #reconnect(): Promise<void> {
    for (let attempt = 1; !this.#stop.signal.aborted; attempt++) {
      try {
        await abortableSleep(Math.random() * Math.min(this.#max, this.#base * 2 ** (attempt - 1)), this.#stop.signal);
        await this.#connect();
        this.#reconnects++;
        this.#log({ level: 'info', msg: 'change bus reconnected', attempts: attempt });
        // Notices sent while we were away are lost: tell every subscriber anything may have moved.
        this.#deliver(MISSED_CHANGES);
        if (this.#dropped) {
          this.#dropped = false;
          await this.#notify(MISSED_CHANGES);
        }
        return;
      } catch {
        // Still down (or closing): back off and try again.
      }
    }
  }

  #received(payload: string): void {
    let change: KeyChange;
    try {
      const [origin, vault, key, writer, body] = JSON.parse(payload) as [string, string, string, string | null, string | undefined];
      if (origin === this.#origin) return;
      change = { vault, key, writer: writer ?? undefined, ...(typeof body === 'string' ? { body: fromBase64url(body) } : {}) };
    } catch {
      return; // not ours: someone else NOTIFYing on the channel
    }
    this.#deliver(change);
  }

  #deliver(change: KeyChange): void {
    for (const deliver of this.#subs) deliver(change);
  }

  /**
   * Delivers here at once and NOTIFYs the other processes in the
   * background: a write never waits for (or fails by) the bus, and a lost
   * notice is logged, never thrown.
   */
  publish(change: KeyChange): Promise<void> {
    this.#deliver(change);
    const sending = this.#notify(change);
    this.#sending.add(sending);
    void sending.finally(() => this.#sending.delete(sending));
    return Promise.resolve();
  }

  async #notify(change: KeyChange): Promise<void> {
    const head = [this.#origin, change.vault, change.key, change.writer ?? null];
    // A small write's bytes ride along (a fifth element, which processes older than bodies ignore) when they fit NOTIFY.
    const withBody = change.body ? JSON.stringify([...head, toBase64url(change.body)]) : undefined;
    const payload = withBody !== undefined && Buffer.byteLength(withBody) <= NOTIFY_PAYLOAD_LIMIT ? withBody : JSON.stringify(head);
    // Vault names (≤ 128) and keys (≤ 512 bytes) are checked before a write, so this never trips.
    if (Buffer.byteLength(payload) > NOTIFY_PAYLOAD_LIMIT) {
      this.#log({ level: 'error', msg: 'change notice too large for NOTIFY; other processes rely on polling' });
      return;
    }
    const client = this.#client;
    if (!client) {
      this.#dropped = true; // reconnecting: the others hear MISSED_CHANGES once we are back
      return;
    }
    try {
      await client.query('SELECT pg_notify($1, $2)', [this.#channel, payload]);
    } catch (e) {
      this.#dropped = true;
      this.#log({ level: 'warn', msg: 'change notice lost', error: String((e as { code?: string }).code ?? 'error') });
    }
  }

  subscribe(deliver: (change: KeyChange) => void): () => void {
    this.#subs.add(deliver);
    return () => this.#subs.delete(deliver);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#sending]);
    this.#stop.abort();
    clearInterval(this.#ping);
    this.#subs.clear();
    await this.#connecting.catch(() => undefined);
    const client = this.#client;
    this.#client = undefined;
    if (client) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
    }
  }
}
