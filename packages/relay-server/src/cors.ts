/**
 * @module cors
 * Cross-origin access for web apps: the relay answers CORS for the origins
 * its operator allows (`allowOrigins`, `kith relay serve --allow-origin`)
 * and for its own origin, and refuses watch sockets opened from any other
 * origin. Requests without an `Origin` header (the CLI, Node apps) are not
 * concerned: CORS is a browser's rule, and the bearer token, not the
 * origin, is what guards a vault's objects.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, KithError } from '@kith/core/adapter';
import { CONNECTION_HEADER, INVITE_HEADER, SIZE_HEADER } from '@kith/relay/protocol';
import { RelayError } from './auth/access.js';

/** Every method the relay client uses. */
export const CORS_METHODS = ['GET', 'HEAD', 'PUT', 'DELETE', 'POST'] as const;
/** Request headers a page may send: the client's (the bearer token, put-if-absent, ranges, the relay's own). */
export const CORS_REQUEST_HEADERS = ['authorization', 'content-type', 'if-none-match', 'range', CONNECTION_HEADER, INVITE_HEADER] as const;
/** Answer headers a page may read beyond the CORS-safelisted ones. */
export const CORS_EXPOSED_HEADERS = ['etag', SIZE_HEADER, 'retry-after', 'content-range', 'content-length'] as const;
/** How long a browser may reuse a preflight answer (Chromium caps it at 2 h). */
const PREFLIGHT_MAX_AGE_S = 7200;

/**
 * Checks that every entry is a serialized origin (`scheme://host[:port]`,
 * nothing after) and returns them as a set; throws KITH_USAGE otherwise.
 */
export function parseAllowedOrigins(origins: readonly string[]): ReadonlySet<string> {
  const out = new Set<string>();
  for (const o of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(o);
    } catch {
      parsed = undefined;
    }
    // A browser sends the origin exactly in this serialized form, so anything else could never match.
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.origin !== o) {
      throw new KithError(ErrorCode.Usage, `allowed origin ${JSON.stringify(o)} is not an origin`, {
        hint: 'write it as a browser sends it: scheme://host[:port], no path or trailing slash (e.g. https://app.example.com)',
      });
    }
    out.add(o);
  }
  return out;
}

/** True when `origin` may use the relay from a page: allowed by the operator, or the relay's own (the `Host` it was reached at). */
export function originAllowed(allowed: ReadonlySet<string>, origin: string, host: string | undefined): boolean {
  if (allowed.has(origin)) return true;
  // Behind a TLS proxy the page's origin is https with the same Host.
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}

/**
 * Adds the CORS hook to `app`; register it before the auth hook, so a
 * preflight (which carries no token) is answered before auth looks at it
 * and a refused watch socket is refused before anything else.
 */
export function installCors(app: FastifyInstance, allowed: ReadonlySet<string>): void {
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const origin = req.headers.origin;
    if (typeof origin !== 'string') return undefined;
    const ok = originAllowed(allowed, origin, req.headers.host);
    // The answer depends on the Origin: caches must not hand one origin's answer to another.
    void reply.header('vary', 'origin');
    if (req.headers.upgrade?.toLowerCase() === 'websocket' && !ok) {
      // A WebSocket is not subject to CORS: the relay itself must refuse a foreign page's.
      throw new RelayError(403, ErrorCode.RemoteAuth, `origin ${origin} may not open the watch socket`, {
        hint: 'the relay operator can allow it with --allow-origin',
      });
    }
    if (!ok) return undefined;
    void reply.header('access-control-allow-origin', origin);
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (!preflight) {
      void reply.header('access-control-expose-headers', CORS_EXPOSED_HEADERS.join(', '));
      return undefined;
    }
    void reply
      .header('access-control-allow-methods', CORS_METHODS.join(', '))
      .header('access-control-allow-headers', CORS_REQUEST_HEADERS.join(', '))
      .header('access-control-max-age', String(PREFLIGHT_MAX_AGE_S));
    return reply.code(204).send();
  });
}
