/**
 * @module relay-proxy
 * A test page and a real relay on one origin: `files` are served as by
 * `serveStatic`, every other path (HTTP and WebSocket upgrades) is passed
 * through byte for byte to `target`. The page then reaches the relay
 * without CORS, which the relay does not answer yet (`--allow-origin` is
 * coming); nothing of the relay's protocol is changed or imitated.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { StaticSite } from './chromium.js';

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

/** Serves `files` on 127.0.0.1 and passes every other request to the relay at `target` (`http://host:port`). */
export async function serveWithRelay(files: Readonly<Record<string, string>>, target: string): Promise<StaticSite> {
  const to = new URL(target);
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const key = path === '/' ? '/index.html' : path;
    const body = Object.hasOwn(files, key) ? files[key] : undefined;
    if (body !== undefined) {
      res.writeHead(200, { 'content-type': TYPES[key.slice(key.lastIndexOf('.'))] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
      return;
    }
    const upstream = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  // A WebSocket upgrade: replay the request head to the relay, then splice the two sockets.
  server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const relay = connect(Number(to.port), to.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i]!;
        lines.push(`${name}: ${name.toLowerCase() === 'host' ? to.host : req.rawHeaders[i + 1]}`);
      }
      relay.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) relay.write(head);
      client.pipe(relay).pipe(client);
    });
    for (const s of [client, relay]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        relay.destroy();
      });
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
  return {
    origin: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
