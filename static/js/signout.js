// Signing out leaves nothing of the counter on this device: the members it saw today, the list of
// what was sent, and the counter's kept pages (counter-offline.js, rewards/counter_sw.js). Stamps
// still waiting for the connection stay, under the staff member who gave them: they are sent with
// that person's next sign-in at the shop (the server refuses them once 12 hours old).
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-signs-out]") || form.dataset.cleared) return;
    event.preventDefault();
    try {
      Object.keys(window.localStorage).forEach(function (key) {
        if (/^counter:.*:(seen|results)$/.test(key)) window.localStorage.removeItem(key);
      });
    } catch (error) { /* no storage: nothing kept */ }
    var work = [];
    if (window.caches) {
      work.push(window.caches.keys().then(function (names) {
        return Promise.all(names.filter(function (name) { return name.indexOf("counter-") === 0; })
          .map(function (name) { return window.caches.delete(name); }));
      }));
    }
    if (navigator.serviceWorker && navigator.serviceWorker.getRegistrations) {
      work.push(navigator.serviceWorker.getRegistrations().then(function (registrations) {
        return Promise.all(registrations.filter(function (registration) { return /\/counter\/$/.test(registration.scope); })
          .map(function (registration) { return registration.unregister(); }));
      }));
    }
    var timeout = new Promise(function (resolve) { window.setTimeout(resolve, 1500); });
    Promise.race([Promise.all(work), timeout]).catch(function () {}).then(function () {
      form.dataset.cleared = "1";
      form.submit();
    });
  });
})();
