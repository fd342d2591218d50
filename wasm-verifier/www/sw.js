// Service worker: keeps the verifier usable offline. The page, its wasm (which carries the pinned
// trust anchor) and the signed trust list are cached; they are fetched from the network first (so
// updates apply at once) and served from the cache only when the network fails. Log data
// (/checkpoint, /tile/..., /status/...) is never cached here: a stale checkpoint or status bucket
// must not pass for a fresh one, so offline the page says those checks could not be done.

const CACHE = 'cyberlabel-verifier-v3';
const SHELL = [
  '/v',
  '/assets/app.js',
  '/assets/style.css',
  '/assets/i18n/en.json',
  '/assets/i18n/de.json',
  '/assets/pkg/cyberlabel_wasm.js',
  '/assets/pkg/cyberlabel_wasm_bg.wasm',
  '/trust-list',
];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function shellKey(url) {
  // `/` and `/v` are the same page; the fragment never reaches the worker.
  if (url.pathname === '/' || url.pathname === '/v' || url.pathname === '/index.html') return '/v';
  return SHELL.includes(url.pathname) ? url.pathname : null;
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  const key = shellKey(url);
  if (!key) return; // log data and everything else: straight to the network
  event.respondWith(
    fetch(event.request)
      .then((resp) => {
        if (resp.ok) {
          const copy = resp.clone();
          caches.open(CACHE).then((c) => c.put(key, copy));
        }
        return resp;
      })
      .catch(() => caches.match(key).then((r) => r || Response.error())),
  );
});
