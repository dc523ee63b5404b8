{% load static %}// One shop's counter when the café's connection drops. Scoped to /s/<shop>/counter/: it keeps the
// counter's bare page (the shell, with no member on it) and the static files that page loads, and
// answers with them when the network is gone; counter-offline.js does the rest on the page.
// Member panels, look-ups and actions are never kept: they go to the server or fail. Online, the
// server decides: a shell that now redirects (signed out, no role any more) is dropped at once.
"use strict";
var CACHE = "{{ cache_name|escapejs }}";
var PREFIX = "{{ cache_prefix|escapejs }}";
var SHELL = "{{ shell|escapejs }}";
var STATIC = "{% get_static_prefix %}";

function keepShell(cache, response) {
  if (response.ok && response.type === "basic" && !response.redirected) return cache.put(SHELL, response);
  // Sent to the log-in page, or refused: this device no longer has the counter.
  if (response.type === "opaqueredirect" || response.redirected || response.status === 403 || response.status === 404) {
    return caches.delete(CACHE);
  }
  return null;
}

self.addEventListener("install", function (event) {
  self.skipWaiting();
  event.waitUntil(
    fetch(SHELL, { credentials: "same-origin", redirect: "manual" }).then(function (response) {
      return caches.open(CACHE).then(function (cache) { return keepShell(cache, response); });
    }).catch(function () { /* offline while installing: the next visit keeps the shell */ })
  );
});

self.addEventListener("activate", function (event) {
  // An older version's copies go; other shops' counters keep theirs.
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name.indexOf(PREFIX) === 0 && name !== CACHE; })
      .map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

// The page lists the static files it loaded before this worker controlled it.
self.addEventListener("message", function (event) {
  var urls = (event.data && event.data.keep) || [];
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(urls.map(function (address) {
      var url = new URL(address, self.location.origin);
      if (url.origin !== self.location.origin || url.pathname.indexOf(STATIC) !== 0) return null;
      return cache.match(url.href).then(function (kept) {
        return kept || fetch(url.href).then(function (response) { return response.ok ? cache.put(url.href, response) : null; });
      }).catch(function () { return null; });
    }));
  }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  var page = request.mode === "navigate" && url.pathname.indexOf(SHELL) === 0;
  var asset = url.pathname.indexOf(STATIC) === 0;
  if (!page && !asset) return;
  var bare = page && url.pathname === SHELL && !url.search;
  event.respondWith(
    fetch(request).then(function (response) {
      if (bare || (asset && response.ok)) {
        var copy = response.clone();
        event.waitUntil(caches.open(CACHE).then(function (cache) {
          return bare ? keepShell(cache, copy) : cache.put(url.href, copy);
        }));
      }
      return response;
    }).catch(function () {
      // Offline: any counter address gets the shell (counter-offline.js reads the address), a static
      // file its last copy.
      return caches.open(CACHE).then(function (cache) { return cache.match(page ? SHELL : url.href); })
        .then(function (kept) { return kept || Response.error(); });
    })
  );
});
