// FieldFlow engineer app: the shell is cached so the app opens without a network.
// API calls are never cached here: the app keeps its own data and outbox in IndexedDB.
const CACHE = "fieldflow-app-v1";
const SHELL = [
  "/app/",
  "/app/app.css",
  "/app/main.js",
  "/app/api.js",
  "/app/db.js",
  "/app/outbox.js",
  "/app/gps.js",
  "/app/live.js",
  "/app/views.js",
  "/app/onsite.js",
  "/app/manifest.webmanifest",
  "/app/icons/icon-192.png",
  "/app/icons/icon-512.png",
  "/static/vendor/idb/idb.js",
  "/static/vendor/signature_pad/signature_pad.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// Network first (a fresh app when online), the cached shell when offline.
self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin) return;
  const shell = req.mode === "navigate" && url.pathname.startsWith("/app")
    ? "/app/" : (SHELL.includes(url.pathname) ? url.pathname : null);
  if (shell === null) return;  // the API and everything else: straight to the network
  event.respondWith(
    fetch(req)
      .then((resp) => {
        if (resp.ok) {
          const copy = resp.clone();
          caches.open(CACHE).then((c) => c.put(shell, copy));
        }
        return resp;
      })
      .catch(() => caches.match(shell).then((hit) => hit || Response.error())),
  );
});
