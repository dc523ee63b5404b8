// Creating a shop: the web address follows the name as it is typed (the server makes one anyway when
// it is left empty, and a random one for a name in Chinese), until the owner types their own.
(function () {
  "use strict";
  var name = document.querySelector("[data-slug-source]");
  var slug = name && document.getElementById(name.dataset.slugSource);
  if (!slug) return;
  var touched = slug.value !== "";
  slug.addEventListener("input", function () { touched = slug.value !== ""; });
  name.addEventListener("input", function () {
    if (touched) return;
    slug.value = name.value.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 32);
  });
})();
