/**
 * @module chromium
 * Real Chromium for browser tests: Debian's `chromium` driven by
 * playwright-core (no downloaded browser build), a persistent profile so
 * IndexedDB lives on disk as it does for a user, and a static server on
 * 127.0.0.1 (a secure context, unlike other plain-http hosts, so
 * `navigator.storage` and WebCrypto are there).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Where Chromium is looked for, in order, unless KITH_CHROMIUM names it. */
const CANDIDATES = ['/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The Chromium binary: KITH_CHROMIUM, else the first installed candidate (the real binary before Debian's wrapper script). */
export function chromiumPath(): string {
  const chosen = process.env['KITH_CHROMIUM'];
  if (chosen !== undefined && chosen !== '') {
    if (!existsSync(chosen)) throw new Error(`KITH_CHROMIUM=${chosen}: no such file`);
    return chosen;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (found === undefined) throw new Error(`no Chromium found (looked at ${CANDIDATES.join(', ')}): apt-get install chromium, or set KITH_CHROMIUM`);
  return found;
}

/** Flags for a quiet headless run on a loaded machine (no network chatter, no GPU). */
const FLAGS = ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface ChromiumProfile {
  readonly context: BrowserContext;
  /** The profile directory (IndexedDB and the rest of the site data live here). */
  readonly dir: string;
  /** Closes the browser; the profile stays for a later {@link launchChromium} on the same `dir`. */
  close(): Promise<void>;
  /** Closes the browser and removes the profile. */
  dispose(): Promise<void>;
}

/** Launches headless Chromium on a persistent profile: a fresh one, or `dir` to reopen an earlier one. */
export async function launchChromium(dir?: string): Promise<ChromiumProfile> {
  const profile = dir ?? mkdtempSync(join(tmpdir(), 'kith-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath(), headless: true, args: FLAGS, timeout: 120_000 });
  // Playwright's 30 s defaults (navigation, waits) are short on a machine shared by many test processes.
  context.setDefaultTimeout(120_000);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await context.close();
  };
  return {
    context,
    dir: profile,
    close,
    dispose: async () => {
      await close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A static site on 127.0.0.1: path → body. */
export interface StaticSite {
  /** The origin, e.g. http://127.0.0.1:43123 (no trailing slash). */
  readonly origin: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

/** Serves `files` (paths such as `/index.html`) on a free port of 127.0.0.1; `/` serves `/index.html`. */
export async function serveStatic(files: Readonly<Record<string, string>>): Promise<StaticSite> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const key = path === '/' ? '/index.html' : path;
    const body = Object.hasOwn(files, key) ? files[key] : undefined;
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[key.slice(key.lastIndexOf('.'))] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the static server has no port');
  return {
    origin: `http://127.0.0.1:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Bundles a compiled ES module and everything it imports into one script for
 * the page. `node:*` stays external: `@kith/core/testing` imports node:test
 * in modules a page never uses, which tree shaking drops (a page that did use
 * one would fail to load, visibly). `define` replaces globals a page lacks
 * (React reads `process.env.NODE_ENV`).
 */
export async function bundleForBrowser(entry: string, o: { define?: Record<string, string> } = {}): Promise<string> {
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
    external: ['node:*'],
    ...(o.define ? { define: o.define } : {}),
  });
  return out.outputFiles[0]!.text;
}

/** A page that loads `script` as a module: `/` with `/app.js`. */
export function pageWithScript(script: string): Record<string, string> {
  return {
    '/index.html': '<!doctype html><meta charset="utf-8"><title>kith test</title><script type="module" src="/app.js"></script>',
    '/app.js': script,
  };
}

/**
 * Makes Chromium enforce a storage quota of `bytes` on `origin` (DevTools'
 * simulated quota: writes past it fail with a real QuotaExceededError;
 * `navigator.storage.estimate()` still reports the disk's quota). The
 * override lasts while its DevTools session does: until `lift()`.
 */
export async function overrideQuota(page: Page, origin: string, bytes: number): Promise<{ lift(): Promise<void> }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: bytes });
  // Chromium's IndexedDB lets a write through on the space it last found free (cached for a moment) without asking
  // the quota again, so a write right after the override could still see the disk's quota. Writing more than
  // the quota until one is refused proves the override is in force, and refreshes what IndexedDB knows.
  const enforced = await page.evaluate(
    async ([size, tries]) => {
      const open = (): Promise<IDBDatabase> =>
        new Promise((resolve, reject) => {
          const r = indexedDB.open('kith-quota-probe', 1);
          r.onupgradeneeded = () => r.result.createObjectStore('probe');
          r.onsuccess = () => resolve(r.result);
          r.onerror = () => reject(r.error ?? new Error('the probe database did not open'));
        });
      const db = await open();
      // Random bytes: Chromium compresses values.
      const value = new Uint8Array(size);
      for (let o = 0; o < size; o += 65536) crypto.getRandomValues(value.subarray(o, Math.min(size, o + 65536)));
      let refused = false;
      for (let i = 0; i < tries && !refused; i++) {
        refused = await new Promise<boolean>((resolve) => {
          const tx = db.transaction('probe', 'readwrite');
          tx.objectStore('probe').put(value, 'probe');
          tx.oncomplete = () => resolve(false);
          tx.onabort = () => resolve(tx.error?.name === 'QuotaExceededError');
        });
        if (!refused) {
          await new Promise<void>((resolve) => {
            const tx = db.transaction('probe', 'readwrite');
            tx.objectStore('probe').clear();
            tx.oncomplete = tx.onabort = () => resolve();
          });
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      db.close();
      await new Promise((resolve) => {
        const r = indexedDB.deleteDatabase('kith-quota-probe');
        r.onsuccess = r.onerror = r.onblocked = resolve;
      });
      return refused;
    },
    [bytes + 1024 * 1024, 120] as const,
  );
  if (!enforced) {
    await cdp.detach();
    throw new Error(`Chromium did not enforce a quota of ${bytes} bytes on ${origin} within 30 s`);
  }
  return {
    lift: async () => {
      await cdp.send('Storage.overrideQuotaForOrigin', { origin });
      await cdp.detach();
    },
  };
}
