/**
 * @module static-app
 * The relay serves a web app (the built `@kith/web`, or any single-page
 * app) from a folder at `/`, so a page reaches the relay at its own origin:
 * no CORS to configure, and the relay's address is the page's.
 *
 * Only GET and HEAD requests that no relay route answered come here; the API
 * (`/v1/…`) and `/health` are never served from the folder, and an unknown
 * `/v1/…` path stays the relay's JSON 404. A path without a file extension
 * that names no file gets `index.html` (the app routes itself); a missing
 * file with an extension is a 404, so a stale asset name fails visibly
 * instead of loading HTML as a script. Nothing outside the folder is served:
 * paths are resolved, symbolic links followed, and the result must still be
 * inside; dotfiles are not served.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Content types by extension; anything else is `application/octet-stream`. */
const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.gif': 'image/gif',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
};

/** Hashed build output (Vite's `assets/`): its name changes with its content, so it may be cached for good. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Everything else is revalidated on every load: `index.html` and `sw.js` name the current assets. */
const REVALIDATE = 'no-cache';

/** Paths the relay owns; never answered from the folder. */
function isRelayPath(path: string): boolean {
  return path === '/v1' || path.startsWith('/v1/') || path === '/health';
}

export interface StaticApp {
  /** The folder served (its real path). */
  readonly dir: string;
  /** Answers `req` from the folder and returns true, or returns false when the folder has nothing for it (the caller answers 404). */
  serve(req: FastifyRequest, reply: FastifyReply): Promise<boolean>;
}

/** A server of the folder `dir` (which must hold `index.html`); rejects when it does not exist. */
export async function openStaticApp(dir: string): Promise<StaticApp> {
  const root = await realpath(dir);
  await stat(join(root, 'index.html'));
  const inside = (p: string): boolean => p === root || p.startsWith(root + sep);

  /** The real path of the file `rel` names inside the folder, or undefined. */
  const fileOf = async (rel: string): Promise<{ path: string; size: number; mtime: Date } | undefined> => {
    try {
      const real = await realpath(join(root, rel));
      if (!inside(real)) return undefined;
      const st = await stat(real);
      return st.isFile() ? { path: real, size: st.size, mtime: st.mtime } : undefined;
    } catch {
      return undefined;
    }
  };

  return {
    dir: root,
    serve: async (req, reply) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      const raw = req.url.split('?', 1)[0]!;
      let path: string;
      try {
        path = decodeURIComponent(raw);
      } catch {
        return false;
      }
      if (isRelayPath(raw) || isRelayPath(path) || path.includes('\0') || !path.startsWith('/')) return false;
      const segments = path.split('/').filter((s) => s !== '');
      // `..` is refused outright (not resolved), and dotfiles are private.
      if (segments.some((s) => s.startsWith('.') || s.includes('\\'))) return false;
      const rel = segments.join('/');
      let file = rel === '' ? undefined : await fileOf(rel);
      let name = rel;
      if (!file) {
        if (rel !== '' && extname(rel) !== '') return false;
        file = await fileOf('index.html');
        name = 'index.html';
        if (!file) return false;
      }
      const type = TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
      void reply
        .code(200)
        .header('content-type', type)
        .header('content-length', String(file.size))
        .header('last-modified', file.mtime.toUTCString())
        .header('cache-control', name.startsWith('assets/') ? IMMUTABLE : REVALIDATE)
        .header('x-content-type-options', 'nosniff');
      if (req.method === 'HEAD') await reply.send();
      else await reply.send(createReadStream(file.path));
      return true;
    },
  };
}
