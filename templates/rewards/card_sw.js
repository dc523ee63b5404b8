{% load static %}// The member's card when the phone is offline. Each card page the phone opens is kept (with the
// styles it needs); when the network is gone, the last copy answers, and the page says it is a
// copy (card.js). Nothing else of the site goes through this worker.
"use strict";
var CACHE = "card-v1";
var ASSETS = ["{% get_static_prefix %}", "{% get_media_prefix %}"];  // styles, scripts, the shop's logo

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  var card = request.mode === "navigate" && /^\/c\/[^/]+\/$/.test(url.pathname);
  var asset = ASSETS.some(function (prefix) { return url.pathname.indexOf(prefix) === 0; });
  if (!card && !asset) return;
  // One copy per card, whatever the query (?welcome=1).
  var key = url.origin + url.pathname;
  event.respondWith(
    fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.put(key, copy); }));
      }
      return response;
    }).catch(function () {
      return caches.open(CACHE).then(function (cache) { return cache.match(key); }).then(function (kept) {
        return kept || Response.error();
      });
    })
  );
});
