// The member's card: kept on the phone for when it is offline (the service worker), and says so
// when what is on screen is the last copy rather than the present.
(function () {
  "use strict";
  var page = document.querySelector("[data-card-worker]");
  if (!page) return;
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(page.dataset.cardWorker).catch(function () { /* the card works without it */ });
  }
  var note = document.getElementById("offline-note");
  function show() { if (note) note.hidden = navigator.onLine; }
  window.addEventListener("online", show);
  window.addEventListener("offline", show);
  // The QR code's refresh failing is the surest sign: the phone is not reaching the shop.
  document.body.addEventListener("htmx:sendError", function () { if (note) note.hidden = false; });
  document.body.addEventListener("htmx:afterSwap", show);
  show();
})();
