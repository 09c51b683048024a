/**
 * @module soak/env
 * The remote under soak and its fault handles: a folder (on the run's
 * tmpfs when there is one), s3rver behind the fault proxy, a relay process
 * behind the fault proxy, or two scale-out relay processes (each behind
 * its own proxy) on PostgreSQL and s3rver. Reuses the repository's
 * harnesses; nothing here is product code.
 */
import { join } from 'node:path';
import type { Remote } from '@kith/core';
import { openFolderRemote } from '@kith/folder';
import { openRelayRemote } from '@kith/relay';
import { spawnRelayProcess, startScaleOutServices, type RelayProcess, type ScaleOutServices } from '@kith/relay-server/testing';
import { openS3Remote } from '@kith/s3';
import {
  startFaultProxy,
  startS3rver,
  useS3rverCredentials,
  type Fault as ProxyFault,
  type FaultPlan,
  type FaultProxy,
  type S3rverProcess,
} from '@kith/s3/testing';
import type { RemoteKind } from './plan.js';
import { Rng } from './prng.js';

/** The remote of one run, with its fault handles. */
export interface SoakEnv {
  readonly kind: RemoteKind;
  /** The URL device number `i` uses (scale-out: alternate relay processes). */
  url(i: number): string;
  /** A library client for device number `i`, with short retries. */
  open(i: number): Promise<Remote>;
  /** An honest client of the remote's own storage, as its operator (folder and S3 only). */
  operator(): Promise<Remote | undefined>;
  /** The proxies misbehave in the way `sub` names until calm() (no-op on a folder). */
  network(sub: string, x: number): void;
  calm(): void;
  /** kill -9 of the relay (scale-out: process `sub`), started again on the same port after `downMs`. */
  killRelay(sub: string | undefined, downMs: number): Promise<void>;
  /** PostgreSQL (scale-out) shut down (`fast`) or killed (`kill9`), started again after `downMs`. */
  restartPostgres(how: 'fast' | 'kill9', downMs: number): Promise<void>;
  /** Requests the proxies saw and faults they injected. */
  proxyCounts(): { requests: number; faults: number };
  stop(): Promise<void>;
}

const LIB_RETRY = { maxAttempts: 8, baseDelayMs: 20, maxDelayMs: 400, deadlineMs: 30_000 };
const RELAY_SECRET = 'the soak relay processes share this secret (32+ bytes)';

/** A per-request plan for one network fault kind, seeded by x. */
function networkPlan(sub: string, x: number): FaultPlan {
  const rng = new Rng(Math.floor(x * 2 ** 32));
  let burst = 1 + Math.floor(x * 5); // a burst of 5xx: the first few requests
  return (): ProxyFault | undefined => {
    if (sub === 'status') return burst-- > 0 ? { kind: 'status', status: rng.chance(0.5) ? 500 : 503 } : undefined;
    if (!rng.chance(0.3)) return undefined;
    if (sub === 'slow') return { kind: 'slow', ms: 50 + rng.int(400) };
    return { kind: sub as 'drop-before' | 'drop-after' | 'truncate' | 'duplicate' };
  };
}

const relayError = (status: number) => ({ type: 'application/json', body: JSON.stringify({ error: { code: 'INJECTED', message: `injected ${status}` } }) });

/** Starts the remote of `kind`; `dir` is where a folder remote and relay data live. */
export async function startEnv(kind: RemoteKind, dir: string): Promise<SoakEnv> {
  const proxies: FaultProxy[] = [];
  const counts = () => ({ requests: proxies.reduce((s, p) => s + p.counts.total, 0), faults: proxies.reduce((s, p) => s + p.counts.faults, 0) });
  const base = {
    kind,
    network(sub: string, x: number) {
      for (const p of proxies) p.setFaults(networkPlan(sub, x));
    },
    calm() {
      for (const p of proxies) p.setFaults(undefined);
    },
    async killRelay() {},
    async restartPostgres() {},
    proxyCounts: counts,
    async operator(): Promise<Remote | undefined> {
      return undefined;
    },
  };
  if (kind === 'folder') {
    const path = join(dir, 'remote');
    return {
      ...base,
      url: () => path,
      open: () => openFolderRemote(path, { create: true }),
      operator: () => openFolderRemote(path, { create: true }),
      async stop() {},
    };
  }
  if (kind === 's3') {
    useS3rverCredentials();
    const s3: S3rverProcess = await startS3rver();
    const bucket = await s3.bucket();
    proxies.push(await startFaultProxy(s3.endpoint));
    const url = s3.url(bucket, 'soak', proxies[0]!.url);
    return {
      ...base,
      url: () => url,
      open: () => openS3Remote(url, { retry: { ...LIB_RETRY, budget: 10_000 } }),
      operator: () => openS3Remote(s3.url(bucket, 'soak')),
      async stop() {
        await proxies[0]!.stop();
        await s3.stop();
      },
    };
  }
  // Relay, embedded or scale-out: processes that can be killed and started again on their port.
  let services: ScaleOutServices | undefined;
  const targets: Parameters<typeof spawnRelayProcess>[0][] = [];
  if (kind === 'relay') targets.push(join(dir, 'relay-data'));
  else {
    // Crash-safe: the soak kills PostgreSQL with SIGKILL, and a relay's acknowledged put must survive that.
    services = await startScaleOutServices({ crashSafe: true });
    const t = { ...(await services.fresh()), authSecret: RELAY_SECRET };
    targets.push(t, t);
  }
  const relays: RelayProcess[] = [];
  for (const t of targets) relays.push(await spawnRelayProcess(t));
  for (const r of relays) proxies.push(await startFaultProxy(r.url, { errorBody: relayError }));
  const restarts = new Set<Promise<void>>();
  const urlOf = (i: number): string => `${proxies[i % proxies.length]!.url}/soak`;
  return {
    ...base,
    url: urlOf,
    open: async (i) => openRelayRemote(urlOf(i), { retry: LIB_RETRY, pollMs: 60_000 }),
    async killRelay(sub, downMs) {
      const i = sub === 'process-1' ? 1 : 0;
      const r = relays[i]!;
      await r.kill9();
      const again = (async () => {
        await new Promise((res) => setTimeout(res, downMs));
        // On a loaded machine a relay can miss spawnRelayProcess's 10 s start window (seed 5000): try again.
        for (let attempt = 1; ; attempt++) {
          try {
            relays[i] = await spawnRelayProcess(targets[i]!, r.port);
            break;
          } catch (err) {
            if (attempt >= 3) throw err;
          }
        }
      })();
      restarts.add(again);
      await again.finally(() => restarts.delete(again));
    },
    async restartPostgres(how, downMs) {
      await services?.postgres.restart(downMs, how);
    },
    async stop() {
      await Promise.allSettled([...restarts]);
      await Promise.all(proxies.map((p) => p.stop()));
      await Promise.all(relays.map((r) => r.stop()));
      await services?.stop();
    },
  };
}
