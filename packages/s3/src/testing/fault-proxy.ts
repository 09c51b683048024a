/**
 * @module testing/fault-proxy
 * A real HTTP proxy on loopback in front of an S3 server or a Kith relay
 * that injects the faults of a real network: dropped connections (before
 * or after the server saw the request), 500/503 SlowDown bursts, slow
 * responses, bodies cut off mid-way, requests delivered twice, and bodies
 * with a flipped byte (same length). It also counts requests by method.
 * WebSocket upgrades are not proxied: clients fall back to polling.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One injected fault. */
export type Fault =
  /** Close the connection without forwarding: the server never sees the request. */
  | { readonly kind: 'drop-before' }
  /** Forward, then close the connection instead of answering: the server acted, the client cannot know. */
  | { readonly kind: 'drop-after' }
  /** Answer this status with an S3 XML error (503 → SlowDown, 403 → AccessDenied, 412 → PreconditionFailed, else InternalError). */
  | { readonly kind: 'status'; readonly status: number }
  /** Wait this long before forwarding. */
  | { readonly kind: 'slow'; readonly ms: number }
  /** Send the headers and half the body, then cut the connection. */
  | { readonly kind: 'truncate' }
  /** Send the whole body with one byte flipped (Content-Length still right). */
  | { readonly kind: 'corrupt' }
  /** Forward the request twice (a retransmission the client never sent) and answer with the second response. */
  | { readonly kind: 'duplicate' };

/** Decides the fault (or none) for each request; `n` counts requests from 1. */
export type FaultPlan = (req: { method: string; path: string; n: number }) => Fault | undefined;

/** A running fault proxy (see {@link startFaultProxy}). */
export interface FaultProxy {
  /** http://127.0.0.1:PORT, to use as the S3 endpoint. */
  readonly url: string;
  /** Sets the plan for the requests that follow (undefined: forward everything untouched). */
  setFaults(plan: FaultPlan | undefined): void;
  /** Requests seen, by method, and faults injected. */
  readonly counts: { total: number; byMethod: Record<string, number>; faults: number };
  /** Zeroes `counts`. */
  resetCounts(): void;
  stop(): Promise<void>;
}

/**
 * The faults a real network shows. Not `corrupt`: TCP and TLS make a
 * silently altered byte rare, and nothing but an object's ETag could
 * catch it in a listing.
 */
export const NETWORK_FAULTS: readonly Fault['kind'][] = ['drop-before', 'drop-after', 'status', 'slow', 'truncate'];

/** A seeded plan that injects each fault kind with probability `rate` (deterministic given the seed). */
export function randomFaults(seed: number, rate: number, kinds: readonly Fault['kind'][] = NETWORK_FAULTS): FaultPlan {
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

/** Options of {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** The body and content type of an injected error status (default: S3's XML error). */
  readonly errorBody?: (status: number) => { readonly type: string; readonly body: string };
}

/** The S3 error code a real service sends with each status. */
const ERROR_CODES: Record<number, string> = { 403: 'AccessDenied', 404: 'NoSuchKey', 412: 'PreconditionFailed', 429: 'SlowDown', 503: 'SlowDown' };
const errorXml = (status: number): string => {
  const code = ERROR_CODES[status] ?? 'InternalError';
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected ${status} ${code}</Message></Error>`;
};

/**
 * Starts the proxy on a free loopback port in front of `target` (an
 * http:// S3 endpoint). It buffers each request and response whole, which
 * is what lets it cut or alter them precisely.
 *
 * @example
 * const proxy = await startFaultProxy(s3.endpoint);
 * proxy.setFaults(randomFaults(42, 0.1)); // 10% of requests fail somehow
 */
export async function startFaultProxy(target: string, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const t = new URL(target);
  const errorBody = options.errorBody ?? ((status: number) => ({ type: 'application/xml', body: errorXml(status) }));
  let plan: FaultPlan | undefined;
  const counts = { total: 0, byMethod: {} as Record<string, number>, faults: 0 };
  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse, fault: Fault | undefined): void => {
    const up = request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } }, (upRes) => {
      const chunks: Buffer[] = [];
      upRes.on('data', (c: Buffer) => chunks.push(c));
      upRes.on('end', () => {
        const full = Buffer.concat(chunks);
        if (fault?.kind === 'drop-after') {
          res.socket?.destroy();
          return;
        }
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (fault?.kind === 'corrupt' && full.length > 0) {
          const i = Math.floor(full.length / 2);
          full[i] = full[i]! ^ 0xff;
        }
        if (fault?.kind === 'truncate' && full.length > 1) {
          res.write(full.subarray(0, Math.floor(full.length / 2)));
          setTimeout(() => res.socket?.destroy(), 5);
          return;
        }
        res.end(full);
      });
    });
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
        const { type, body: text } = errorBody(fault.status);
        res.writeHead(fault.status, { 'content-type': type });
        res.end(text);
        return;
      }
      if (fault?.kind === 'slow') {
        setTimeout(() => forward(req, body, res, undefined), fault.ms);
        return;
      }
      if (fault?.kind === 'duplicate') {
        // The first copy's answer is thrown away, as a retransmitted request's would be.
        const sink = request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } }, (r) => {
          r.resume();
          r.on('end', () => forward(req, body, res, undefined));
        });
        sink.on('error', () => forward(req, body, res, undefined));
        sink.end(body);
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
