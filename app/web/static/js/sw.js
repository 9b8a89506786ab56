// The service worker of the install page: /install opens offline after one online visit.
//
// Served as GET /sw.js (app/web/pages/offline.py, scope "/"), registered by install.js.
// What it keeps, and how:
//   * /install (the page HTML, in the language it was last loaded): network first, so a
//     fresh, signed-in page wins whenever the server answers; the copy is used only when
//     the network fails (or the server is down, 5xx). A redirect (signed out), 401 or 403
//     is the server's word: it is passed on and the copy is dropped;
//   * the page's own files (ASSETS: its modules, CSS, vendored jsQR, the translation
//     catalogues): cache first, from a cache named after VERSION — a digest of the static
//     files that the server writes in below, so every change makes a new worker, which
//     fetches them anew; activation deletes every older cache;
//   * nothing else: the API (personal data stays with the page, in IndexedDB: the work
//     package, the device key, the outbox), other pages and other files go to the network
//     untouched and are never stored.
// Signing in or out (POST /login…, /logout) drops the kept page: the next person never
// gets the previous one's page (name, party, CSRF token) from the cache.

const VERSION = "dev";
const PREFIX = "kcl-install-";
const STATIC_CACHE = `${PREFIX}static-${VERSION}`;
const PAGE_CACHE = `${PREFIX}page-${VERSION}`;
const PAGE = "/install";
const ASSETS = [
  "/static/css/app.css",
  "/static/css/field.css",
  "/static/js/app.js",
  "/static/js/dsse.js",
  "/static/js/field.js",
  "/static/js/idb.js",
  "/static/js/install.js",
  "/static/js/keys.js",
  "/static/js/outbox.js",
  "/static/js/scanner.js",
  "/static/vendor/jsqr/jsQR.js",
  "/i18n/de.json",
  "/i18n/en.json",
];
const ASSET_PATHS = new Set(ASSETS);

// ---- The kept page -----------------------------------------------------------------------

function keepable(response) {
  // A page of our own, answered as such: not the sign-in page we were redirected to.
  return response.ok && response.type === "basic" && !response.redirected;
}

function refused(response) {
  return response.type === "opaqueredirect" || response.redirected || response.status === 401 || response.status === 403;
}

async function keptPage() {
  const cache = await caches.open(PAGE_CACHE);
  return cache.match(PAGE, { ignoreSearch: true, ignoreVary: true });
}

async function dropPage() {
  for (const name of await caches.keys()) {
    if (name.startsWith(`${PREFIX}page-`)) await caches.delete(name);
  }
}

// On install: fetch the page as the signed-in person sees it now (the page that
// registered this worker did not pass through it). Best effort: without network, the
// previous version's copy is carried over instead.
async function precachePage() {
  const cache = await caches.open(PAGE_CACHE);
  try {
    const response = await fetch(PAGE, { credentials: "same-origin", cache: "no-store" });
    if (keepable(response)) return cache.put(PAGE, response);
    if (refused(response)) return dropPage();
  } catch (_) {
    // offline: fall through to the older copy
  }
  for (const name of await caches.keys()) {
    if (!name.startsWith(`${PREFIX}page-`) || name === PAGE_CACHE) continue;
    const old = await (await caches.open(name)).match(PAGE);
    if (old) return cache.put(PAGE, old);
  }
  return undefined;
}

async function networkFirstPage(request) {
  let response;
  try {
    response = await fetch(request);
  } catch (error) {
    const kept = await keptPage();
    if (kept) return kept;
    throw error;
  }
  if (keepable(response)) {
    const cache = await caches.open(PAGE_CACHE);
    await cache.put(PAGE, response.clone());
  } else if (refused(response)) {
    await dropPage();
  } else if (response.status >= 500) {
    const kept = await keptPage();
    if (kept) return kept;
  }
  return response;
}

// ---- The page's files --------------------------------------------------------------------

async function cacheFirst(request) {
  const cache = await caches.open(STATIC_CACHE);
  const hit = await cache.match(request, { ignoreVary: true });
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok && response.type === "basic") await cache.put(request, response.clone());
  return response;
}

// ---- Life cycle --------------------------------------------------------------------------

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(STATIC_CACHE);
      // cache: "reload" — the files themselves, not what the HTTP cache remembers.
      await cache.addAll(ASSETS.map((url) => new Request(url, { cache: "reload", credentials: "same-origin" })));
      await precachePage();
      // A new version takes over at once: its files are complete, and the old ones go.
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const current = new Set([STATIC_CACHE, PAGE_CACHE]);
      for (const name of await caches.keys()) {
        if (name.startsWith(PREFIX) && !current.has(name)) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === "/logout" || (request.method === "POST" && url.pathname.startsWith("/login"))) {
    // Signing out, or someone signing in: forget the page; the request itself goes on as is.
    event.waitUntil(dropPage());
    return;
  }
  if (request.method !== "GET") return;
  if (url.pathname === PAGE && request.mode === "navigate") {
    event.respondWith(networkFirstPage(request));
  } else if (ASSET_PATHS.has(url.pathname) && !url.search) {
    event.respondWith(cacheFirst(request));
  }
  // Everything else: no respondWith — the browser fetches it as if there were no worker.
});
