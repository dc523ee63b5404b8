// Counter page: keep the search field ready for the next scan, and scan member
// QR codes with the device camera (BarcodeDetector where the browser has it,
// the vendored jsQR decoder otherwise). USB/Bluetooth scanners need no code:
// they type into the focused field and press Enter.
(function () {
  "use strict";
  var input = document.getElementById("counter-q");
  var form = document.getElementById("counter-search");
  var button = document.getElementById("scan-camera");
  var video = document.getElementById("scan-video");
  var scanError = document.getElementById("scan-error");
  if (!input || !form) return;

  function ready() {
    input.focus();
    input.select();
  }
  // An action that got no answer, or a server error, leaves the panel as it was: say so, loudly,
  // so nobody believes the last success message on screen is about this action.
  var problem = document.getElementById("counter-problem");
  function show(text) {
    if (!problem) return;
    problem.textContent = text;
    problem.hidden = false;
  }
  document.body.addEventListener("htmx:beforeRequest", function () {
    if (problem) problem.hidden = true;
  });
  document.body.addEventListener("htmx:sendError", function () {
    show(problem.dataset.offline);
  });
  document.body.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    show(problem.dataset.failed + " " + (xhr.getResponseHeader("X-Request-ID") || xhr.status));
  });

  // Keyboard shortcuts: Alt (Option on a Mac) and a letter. A modifier is needed because the scan
  // field keeps the focus and a scanner types letters into it. The first element of each kind keeps
  // its own letter on every member's panel (S the first card's +1, T its +2, R the first voucher,
  // G the first reward, U undo, P the purchase amount, N new member, C the card's QR, H recent
  // activity, K the camera), so hands learn them; every other action (later cards, +3, later
  // vouchers and rewards, the purchase and enrol buttons) takes the next free letter of SPARE, in
  // the order of the page. Each key is shown on its element, so staff never have to guess.
  var mac = /Mac|iPhone|iPad/.test(navigator.platform || "");
  var SPARE = "abijlmoqvwxyz";
  function kbdFor(element) {
    var host = element;
    if (element.tagName === "DETAILS") host = element.querySelector("summary");
    else if (element.matches("input, select, textarea")) host = element.id && document.querySelector('label[for="' + element.id + '"]');
    if (!host) return null;
    var kbd = host.querySelector(":scope > kbd.shortcut");
    if (!kbd) {
      kbd = document.createElement("kbd");
      kbd.className = "shortcut";
      kbd.setAttribute("aria-hidden", "true");
      host.appendChild(kbd);
    }
    return kbd;
  }
  function label() {
    var elements = Array.prototype.slice.call(document.querySelectorAll("[data-shortcut]"));
    var keys = [];
    var taken = {};
    function usable(element) { return !element.disabled && !element.closest("[hidden]"); }
    elements.forEach(function (element, index) {
      var key = element.dataset.shortcut;
      if (key && !taken[key] && usable(element)) { taken[key] = true; keys[index] = key; }
    });
    var spare = SPARE.split("").filter(function (key) { return !taken[key]; });
    elements.forEach(function (element, index) {
      if (!keys[index] && usable(element) && spare.length) keys[index] = spare.shift();
      var key = keys[index];
      element.toggleAttribute("data-shortcut-on", !!key);
      if (key) {
        element.dataset.key = key;
        element.setAttribute("aria-keyshortcuts", "Alt+" + key.toUpperCase());
        var kbd = kbdFor(element);
        if (kbd) kbd.textContent = (mac ? "\u2325" : "Alt+") + key.toUpperCase();
      } else {
        delete element.dataset.key;
        element.removeAttribute("aria-keyshortcuts");
      }
    });
  }
  label();
  // Every piece htmx puts in (the outcome, a card swapped out of band) is announced by htmx:load once
  // htmx has made its forms its own: a shortcut never presses a button htmx does not handle yet.
  document.body.addEventListener("htmx:load", label);
  // A panel drawn on the device while offline (counter-offline.js): its keys, and back to the scan field.
  document.body.addEventListener("counter:panel", function () {
    label();
    ready();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      if (stopCamera) stopCamera();
      ready();
      return;
    }
    if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    var match = /^Key([A-Z])$/.exec(event.code || "");
    if (!match) return;
    var target = document.querySelector('[data-shortcut-on][data-key="' + match[1].toLowerCase() + '"]');
    if (!target) return;
    event.preventDefault();
    if (target.tagName === "DETAILS") target.open = !target.open;
    else if (target.matches("input, select, textarea")) target.focus();
    else target.click();
  });

  document.body.addEventListener("htmx:afterSwap", function (event) {
    // After a look-up or an action the panel stays; the cursor goes back to the scan field.
    var target = event.detail.target && event.detail.target.id;
    if (target === "result" || target === "outcome") ready();
    // Recent activity, when staff have it open, shows the action just taken.
    var history = document.querySelector("#result details.history");
    if (target === "outcome" && history && history.open && window.htmx) window.htmx.trigger(history, "refresh");
  });

  var stopCamera = null;
  if (!button || !video || !(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) return;
  button.hidden = false;
  label();
  var stream = null;
  var detector = "BarcodeDetector" in window ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });

  function stop() {
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    video.hidden = true;
    button.setAttribute("aria-pressed", "false");
  }

  function found(text) {
    stop();
    input.value = text;
    form.requestSubmit();
  }

  function tick() {
    if (!stream) return;
    if (video.readyState < 2) { requestAnimationFrame(tick); return; }
    if (detector) {
      detector.detect(video).then(function (codes) {
        if (codes.length) found(codes[0].rawValue); else requestAnimationFrame(tick);
      }).catch(function () { detector = null; requestAnimationFrame(tick); });
      return;
    }
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    var image = context.getImageData(0, 0, canvas.width, canvas.height);
    var code = window.jsQR ? window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" }) : null;
    if (code && code.data) found(code.data); else requestAnimationFrame(tick);
  }

  button.addEventListener("click", function () {
    if (stream) { stop(); ready(); return; }
    scanError.hidden = true;
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
      stream = s;
      video.srcObject = s;
      video.hidden = false;
      button.setAttribute("aria-pressed", "true");
      return video.play();
    }).then(tick).catch(function () { stop(); scanError.hidden = false; ready(); });
  });
  stopCamera = stop;
})();
