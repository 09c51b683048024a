/**
 * @module testing/fault-proxy
 * A real HTTP proxy on loopback in front of an S3 server that injects the
 * faults of a real network: dropped connections (before or after the
 * server saw the request), 500/503 SlowDown bursts, slow responses, and
 * bodies cut off mid-way. It also counts requests by method.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  | { readonly kind: 'drop-before' }
  | { readonly kind: 'drop-after' }
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'slow'; readonly ms: number }
  | { readonly kind: 'truncate' };

/** Decides the fault (or none) for each request. */
export type FaultPlan = (req: { method: string; path: string; n: number }) => Fault | undefined;

export interface FaultProxy {
  readonly url: string;
  setFaults(plan: FaultPlan | undefined): void;
  /** Requests seen, by method, and faults injected. */
  readonly counts: { total: number; byMethod: Record<string, number>; faults: number };
  resetCounts(): void;
  stop(): Promise<void>;
}

/** A seeded plan that injects each fault kind with probability `rate` (deterministic given the seed). */
export function randomFaults(seed: number, rate: number, kinds: readonly Fault['kind'][] = ['drop-before', 'drop-after', 'status', 'slow', 'truncate']): FaultPlan {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  return () => {
    if (next() >= rate) return undefined;
    const kind = kinds[Math.floor(next() * kinds.length)]!;
    if (kind === 'status') return { kind, status: next() < 0.5 ? 500 : 503 };
    if (kind === 'slow') return { kind, ms: 50 + Math.floor(next() * 200) };
    return { kind };
  };
}

const SLOW_DOWN = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';
const ACCESS_DENIED = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';
const INTERNAL = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>';

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const t = new URL(target);
  let plan: FaultPlan | undefined;
  const counts = { total: 0, byMethod: {} as Record<string, number>, faults: 0 };
  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse, fault: Fault | undefined): void => {
    const up = request(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } },
      (upRes) => {
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          const full = Buffer.concat(chunks);
          if (fault?.kind === 'drop-after') {
            res.socket?.destroy();
            return;
          }
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          if (fault?.kind === 'truncate' && full.length > 1) {
            res.write(full.subarray(0, Math.floor(full.length / 2)));
            setTimeout(() => res.socket?.destroy(), 5);
            return;
          }
          res.end(full);
        });
      },
    );
    up.on('error', () => res.socket?.destroy());
    up.end(body);
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      counts.total++;
      const method = req.method ?? 'GET';
      counts.byMethod[method] = (counts.byMethod[method] ?? 0) + 1;
      const fault = plan?.({ method, path: req.url ?? '/', n: counts.total });
      if (fault) counts.faults++;
      const body = Buffer.concat(chunks);
      if (fault?.kind === 'drop-before') {
        req.socket.destroy();
        return;
      }
      if (fault?.kind === 'status') {
        res.writeHead(fault.status, { 'content-type': 'application/xml' });
        res.end(fault.status === 503 ? SLOW_DOWN : fault.status === 403 ? ACCESS_DENIED : INTERNAL);
        return;
      }
      if (fault?.kind === 'slow') {
        setTimeout(() => forward(req, body, res, undefined), fault.ms);
        return;
      }
      forward(req, body, res, fault);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    setFaults: (p) => (plan = p),
    counts,
    resetCounts: () => {
      counts.total = 0;
      counts.faults = 0;
      for (const k of Object.keys(counts.byMethod)) delete counts.byMethod[k];
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
