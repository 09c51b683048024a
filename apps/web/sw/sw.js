/* global self, caches, fetch, Request, URL, __SHELL__ */
// Kith Journal's service worker: keeps the app shell (the built files,
// listed at build time) so the journal opens offline. The journal's data
// is not here: it lives in IndexedDB, and sync talks to the relay's API,
// which this worker never answers nor caches (/v1/…, /health).
const VERSION = '__VERSION__';
const SHELL = __SHELL__;
const CACHE = `kith-journal-shell-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((path) => new Request(path, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('kith-journal-shell-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

/** The relay's own routes: always the network, never a cache. */
function isRelayApi(url) {
  return url.pathname === '/v1' || url.pathname.startsWith('/v1/') || url.pathname === '/health';
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin || isRelayApi(url)) return;
  if (request.mode === 'navigate') {
    // The newest app when online; the cached shell when not (any path: the app routes itself).
    event.respondWith(fetch(request).catch(() => caches.open(CACHE).then((cache) => cache.match('/index.html'))));
    return;
  }
  // Hashed assets never change under one name: the cache first, the network for anything not in the shell.
  event.respondWith(caches.open(CACHE).then((cache) => cache.match(request).then((hit) => hit ?? fetch(request))));
});
