// The driver app's service worker (served at /driver/sw.js with the release and the file
// list filled in). It keeps the app shell, its modules and the vendor libraries for
// offline starts, and the last /driver/today answer as a fallback. Actions are never
// handled here: the page queues them in IndexedDB and replays them itself.
const RELEASE = "__RELEASE__";
const SHELL = [/*__SHELL__*/];
const CACHE = `lastmile-driver-${RELEASE}`;
const DATA = "lastmile-driver-data";

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(SHELL.map((u) => new Request(u, { cache: "reload", credentials: "same-origin" })));
    // a first install takes over at once; a new release waits until the driver taps
    // "reload" (the page posts skip-waiting), so a screen never changes under a thumb
  })());
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "skip-waiting") self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("lastmile-driver-") && name !== CACHE && name !== DATA) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

async function networkFirst(request, cacheName, fallbackUrl) {
  try {
    const response = await fetch(request);
    if (response.ok) {
      const cache = await caches.open(cacheName);
      await cache.put(fallbackUrl || request, response.clone());
    }
    return response;
  } catch (e) {
    const hit = await caches.match(fallbackUrl || request);
    if (hit) return hit;
    throw e;
  }
}

async function cacheFirst(request) {
  const hit = await caches.match(request, { ignoreSearch: true });
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) (await caches.open(CACHE)).put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && (url.pathname === "/driver" || url.pathname === "/driver/")) {
    event.respondWith(networkFirst(request, CACHE, "/driver"));
  } else if (url.pathname === "/driver/today") {
    event.respondWith(networkFirst(request, DATA));
  } else if (url.pathname.startsWith("/static/driver/") || url.pathname.startsWith("/static/vendor/") ||
             url.pathname === "/driver/manifest.webmanifest") {
    event.respondWith(cacheFirst(request));
  }
});
