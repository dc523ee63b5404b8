// The counter when the café's connection drops: an installable web app (the worker keeps the
// page's shell, templates/rewards/counter_sw.js) that goes on giving stamps.
//
// - Every member panel shown online is remembered on this device for the day (per shop): public
//   id, name, member code and the shop's stamp cards with their counts; no phone, no e-mail.
//   Cleared when the day changes and on sign-out (signout.js).
// - Offline, the scan field finds those members by member code or card QR code (the code inside;
//   the signature cannot be checked without the server, the code's age can), and "+1 stamp"
//   queues the stamp with a key made here and the time. Everything else needs the server.
// - Back online, the queue goes out in order, one stamp at a time, through the counter's own stamp
//   endpoint with its key (a JSON answer): the same rules, limits and ledger as a tap online. A
//   stamp leaves the queue only once the server has answered; one lost on the way is sent again
//   with the same key and comes back "already done". The server refuses what was queued more than
//   12 hours before. The queue belongs to the staff member who made it (sent with their session).
// Every text is in the page (counter.html), in the staff's language.
(function () {
  "use strict";
  var root = document.querySelector("[data-counter-app]");
  // #result is swapped whole by htmx (outerHTML): always the one on the page now.
  function result() { return document.getElementById("result"); }
  var input = document.getElementById("counter-q");
  var banner = document.getElementById("offline-banner");
  var texts = document.getElementById("offline-texts");
  var queueBox = document.getElementById("offline-queue");
  var resultsBox = document.getElementById("offline-results");
  if (!root || !result() || !input || !banner || !texts || !queueBox || !resultsBox) return;
  var store = window.localStorage;
  var SEEN = "counter:" + root.dataset.shop + ":seen";
  var QUEUE = "counter:" + root.dataset.shop + ":" + root.dataset.staff + ":queue";
  var RESULTS = "counter:" + root.dataset.shop + ":" + root.dataset.staff + ":results";

  function format(text, values) {
    return text.replace(/\{(\w+)\}/g, function (whole, name) { return name in values ? values[name] : whole; });
  }
  function today() {
    var now = new Date();
    return now.getFullYear() + "-" + (now.getMonth() + 1) + "-" + now.getDate();
  }
  function read(key, empty) {
    try { return JSON.parse(store.getItem(key)) || empty; } catch (error) { return empty; }
  }
  function write(key, value) {
    try { store.setItem(key, JSON.stringify(value)); } catch (error) { /* storage full or off: nothing kept */ }
  }
  // What is kept for the day starts afresh when the day changes.
  function daily(key, empty) {
    var kept = read(key, null);
    return kept && kept.day === today() ? kept : { day: today(), items: empty };
  }
  function seen() { return daily(SEEN, {}).items; }
  function queue() { return read(QUEUE, []); }
  function results() { return daily(RESULTS, []).items; }
  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = window.crypto.getRandomValues(new Uint8Array(16));
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  // Remember the member on the online panel, with their cards as the server last showed them.
  function remember() {
    var panel = result().querySelector("section.panel[data-member]");
    if (!panel) return;
    var kept = daily(SEEN, {});
    var name = panel.querySelector("#member-name");
    kept.items[panel.dataset.member] = {
      id: panel.dataset.member,
      name: name ? name.textContent.trim() : "",
      code: panel.dataset.memberCode,
      url: panel.dataset.memberUrl,
      stamp: panel.dataset.stampUrl,
      cards: Array.prototype.map.call(panel.querySelectorAll(".stamp-card[data-program]"), function (card) {
        var title = card.querySelector("h3");
        return {
          program: card.dataset.program,
          name: title ? title.textContent.trim() : "",
          stamps: parseInt(card.dataset.stamps, 10) || 0,
          needed: parseInt(card.dataset.needed, 10) || 0,
        };
      }),
    };
    write(SEEN, kept);
  }

  // Offline: the browser says so, or a look-up found no network although the browser thinks it is
  // online (a router whose line is down), until a request gets through again.
  var lost = false;
  function offline() { return !navigator.onLine || lost; }

  function say(text, role) {
    var message = document.createElement("p");
    message.className = "message" + (role === "alert" ? " error" : "");
    message.setAttribute("role", role || "status");
    message.textContent = text;
    result().replaceChildren(message);
  }

  function waitingFor(member, program) {
    return queue().filter(function (entry) { return entry.member === member && entry.program === program; }).length;
  }

  function show(member, notice) {
    var panel = document.getElementById("offline-panel").content.firstElementChild.cloneNode(true);
    panel.querySelector('[data-field="name"]').textContent = member.name;
    panel.querySelector('[data-field="code"]').textContent = member.code;
    var queued = panel.querySelector('[data-field="queued"]');
    queued.textContent = notice || "";
    queued.hidden = !notice;
    var holder = panel.querySelector('[data-field="cards"]');
    member.cards.forEach(function (card) {
      var view = document.getElementById("offline-card").content.firstElementChild.cloneNode(true);
      view.querySelector('[data-field="program"]').textContent = card.name;
      view.querySelector('[data-field="count"]').textContent = format(texts.dataset.count, card);
      var waiting = waitingFor(member.id, card.program);
      var line = view.querySelector('[data-field="waiting"]');
      line.textContent = waiting ? format(texts.dataset.waiting, { count: waiting }) : "";
      line.hidden = !waiting;
      view.querySelector('[data-field="stamp"]').addEventListener("click", function () { add(member, card); });
      holder.appendChild(view);
    });
    panel.querySelector('[data-field="no-cards"]').hidden = member.cards.length > 0;
    panel.dataset.member = member.id;
    result().replaceChildren(panel);
    document.body.dispatchEvent(new CustomEvent("counter:panel"));
  }

  // Django's TimestampSigner writes the time in base 62.
  function qrAge(stamp) {
    var digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    var seconds = 0;
    for (var i = 0; i < stamp.length; i++) {
      var digit = digits.indexOf(stamp[i]);
      if (digit < 0) return Infinity;
      seconds = seconds * 62 + digit;
    }
    return Date.now() / 1000 - seconds;
  }

  function lookUp(query) {
    query = (query || "").trim();
    if (!query) return;
    var problem = document.getElementById("counter-problem");
    if (problem) problem.hidden = true;
    var code;
    var scanned = false;
    if (root.dataset.walletPrefix && query.indexOf(root.dataset.walletPrefix) === 0) {
      say(texts.dataset.wallet, "alert");
      return;
    }
    var parts = query.split(":");
    if (parts.length === 3) {
      scanned = true;
      if (qrAge(parts[1]) > (parseInt(root.dataset.qrMaxAge, 10) || 180)) {
        say(texts.dataset.expiredQr, "alert");
        return;
      }
      code = parts[0];
    } else {
      code = query.toUpperCase().replace(/[\s-]/g, "");
    }
    var members = seen();
    var found = Object.keys(members).map(function (id) { return members[id]; })
      .filter(function (member) { return member.code === code; })[0];
    if (found) show(found);
    else if (scanned) say(texts.dataset.unseenQr, "alert");
    else if (/^[A-Z0-9]{6,12}$/.test(code)) say(texts.dataset.unseenCode, "alert");
    else say(texts.dataset.codesOnly, "alert");
    input.focus();
    input.select();
  }

  function add(member, card) {
    var entries = queue();
    entries.push({
      key: newKey(), queued_at: new Date().toISOString(), url: member.stamp,
      member: member.id, name: member.name, code: member.code, program: card.program, card: card.name,
    });  // prettier-ignore
    write(QUEUE, entries);
    drawQueue();
    show(member, format(texts.dataset.queued, { name: member.name, card: card.name }));
    if (!offline()) send();
  }

  function drawQueue() {
    var entries = queue();
    var list = document.getElementById("offline-queue-list");
    list.replaceChildren.apply(list, entries.map(function (entry) {
      var item = document.createElement("li");
      var time = new Date(entry.queued_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      item.textContent = format(queueBox.dataset.entry, { name: entry.name, code: entry.code, card: entry.card, time: time });
      return item;
    }));
    queueBox.hidden = entries.length === 0;
  }

  function drawResults() {
    var entries = results();
    var list = document.getElementById("offline-results-list");
    list.replaceChildren.apply(list, entries.map(function (entry) {
      var item = document.createElement("li");
      item.className = "sent-" + entry.result;
      var label = document.createElement("strong");
      label.textContent = { accepted: resultsBox.dataset.accepted, refused: resultsBox.dataset.refused,
        already_done: resultsBox.dataset.alreadyDone }[entry.result] + ": ";  // prettier-ignore
      item.append(label, format(resultsBox.dataset.entry, entry));
      return item;
    }));
    resultsBox.hidden = entries.length === 0;
  }

  function note(entry, answer) {
    var kept = daily(RESULTS, []);
    kept.items.push({ result: answer.result, message: answer.message || "", name: entry.name, code: entry.code, card: entry.card });
    write(RESULTS, kept);
    // The count the server has now, for the next offline look-up today.
    var members = daily(SEEN, {});
    var member = members.items[entry.member];
    if (member && typeof answer.stamps === "number") {
      member.cards.forEach(function (card) { if (card.program === entry.program) card.stamps = answer.stamps; });
      write(SEEN, members);
    }
  }

  function token() {
    try { return JSON.parse(document.body.dataset.hxHeaders || "{}")["x-csrftoken"] || ""; } catch (error) { return ""; }
  }
  // A page kept from before a sign-in has an old form token: a fresh one comes with the counter page.
  function freshToken() {
    return fetch(root.dataset.scope, { credentials: "same-origin", cache: "no-store" }).then(function (response) {
      return response.text();
    }).then(function (html) {
      var page = new DOMParser().parseFromString(html, "text/html");
      if (page.body && page.body.dataset.hxHeaders) document.body.dataset.hxHeaders = page.body.dataset.hxHeaders;
    });
  }

  // One stamp to the server; what it answered, or null to stop (and keep the queue as it is).
  function post(entry, retried) {
    var form = new FormData();
    form.append("program", entry.program);
    form.append("count", "1");
    form.append("key", entry.key);
    form.append("queued_at", entry.queued_at);
    return fetch(entry.url, {
      method: "POST", body: form, credentials: "same-origin", redirect: "manual",
      headers: { "Accept": "application/json", "X-CSRFToken": token() },
    }).then(function (response) {  // prettier-ignore
      var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
      if (json && [200, 409, 422].indexOf(response.status) >= 0) return response.json();
      if (response.status === 404) return { result: "refused", message: resultsBox.dataset.gone };
      if (response.status === 403 && !retried) return freshToken().then(function () { return post(entry, true); });
      if (response.type === "opaqueredirect" || response.status === 403) banner.textContent = banner.dataset.signIn;
      else banner.textContent = banner.dataset.failed;
      return null;
    });
  }

  var sending = false;
  function send() {
    if (sending || offline() || !queue().length) return Promise.resolve();
    sending = true;
    banner.textContent = banner.dataset.sending;
    function next() {
      var entry = queue()[0];
      if (!entry) {
        banner.textContent = "";
        return null;
      }
      return post(entry, false).then(function (answer) {
        if (!answer) return null;
        note(entry, answer);
        // Only now, with the server's answer, does the stamp leave the queue.
        write(QUEUE, queue().filter(function (waiting) { return waiting.key !== entry.key; }));
        drawQueue();
        drawResults();
        return next();
      });
    }
    return Promise.resolve().then(next).catch(function () {
      // No answer: the network went again. The stamp stays, sent again later with the same key.
      lost = true;
      goOffline();
    }).then(function () { sending = false; });
  }

  function goOffline() {
    banner.textContent = banner.dataset.offline;
    root.classList.add("is-offline");
    // The online panel on screen becomes its offline twin: stamps only.
    var panel = result().querySelector("section.panel[data-member]:not([data-offline-panel])");
    var member = panel && seen()[panel.dataset.member];
    if (member) show(member);
  }

  function backOnline() {
    lost = false;
    root.classList.remove("is-offline");
    banner.textContent = "";
    send().then(function () {
      // The member on screen, as the server has them now.
      var panel = result().querySelector("section[data-offline-panel]");
      var member = panel && seen()[panel.dataset.member];
      if (member && window.htmx && !offline()) {
        window.htmx.ajax("GET", member.url, { target: "#result", swap: "outerHTML" });
      }
    });
  }

  // Look-ups go to the server online; offline, to the members seen today.
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    if (offline() && event.detail.elt && event.detail.elt.id === "counter-search") {
      event.preventDefault();
      lookUp(input.value);
    }
  });
  // A look-up that got no answer although the browser thinks it is online: the line is down, so the
  // counter goes offline. A failed action only says it was not sent (counter.js): staff try again.
  document.body.addEventListener("htmx:sendError", function (event) {
    if (!event.detail.elt || event.detail.elt.id !== "counter-search") return;
    lost = true;
    goOffline();
    lookUp(input.value);
  });
  document.body.addEventListener("htmx:afterSettle", function () {
    if (!offline()) remember();
  });
  window.addEventListener("offline", goOffline);
  window.addEventListener("online", backOnline);
  document.getElementById("offline-send").addEventListener("click", function () {
    if (!navigator.onLine) return;
    lost = false;
    send();
  });
  document.getElementById("offline-results-clear").addEventListener("click", function () {
    write(RESULTS, { day: today(), items: [] });
    drawResults();
  });

  // A new day forgets yesterday's members and what was sent then (stamps still waiting stay).
  function forgetYesterday() {
    [SEEN, RESULTS].forEach(function (key) {
      var kept = read(key, null);
      if (kept && kept.day !== today()) store.removeItem(key);
    });
  }
  // Every little while: the day is checked, and a lost connection is tried again.
  window.setInterval(function () {
    forgetYesterday();
    drawResults();
    if (lost && navigator.onLine) {
      fetch(root.dataset.scope, { method: "HEAD", credentials: "same-origin", cache: "no-store" })
        .then(function () { backOnline(); }, function () { /* still offline */ });
    } else if (!offline()) {
      send();
    }
  }, 30000);

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(root.dataset.worker, { scope: root.dataset.scope }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      // The files this page loaded before the worker was there, kept for the next offline start.
      var files = Array.prototype.map.call(document.querySelectorAll("script[src], link[rel~=stylesheet], link[rel~=icon]"),
        function (element) { return element.src || element.href; });  // prettier-ignore
      if (registration.active) registration.active.postMessage({ keep: files });
    }).catch(function () { /* the counter works online without it */ });
  }

  forgetYesterday();
  remember();
  drawQueue();
  drawResults();
  if (offline()) {
    goOffline();
    // Opened offline at a look-up's address (the kept shell answered): look it up here.
    var address = new URL(window.location.href);
    var member = /\/m\/([0-9a-f-]{36})\/$/.exec(address.pathname);
    if (address.searchParams.get("q")) {
      input.value = address.searchParams.get("q");
      lookUp(input.value);
    } else if (member && seen()[member[1]]) {
      show(seen()[member[1]]);
    }
  } else {
    send();
  }
})();
