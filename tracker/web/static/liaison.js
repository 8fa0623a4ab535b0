// The liaison's item page: focus the error summary when a refused form comes back, and let
// each of its links move focus to its field (a fragment link alone only scrolls).
(function () {
  "use strict";
  function ready() {
    var summary = document.getElementById("error-summary");
    if (!summary) { return; }
    summary.focus();
    var links = summary.querySelectorAll("a[href^='#']");
    Array.prototype.forEach.call(links, function (link) {
      link.addEventListener("click", function (event) {
        var target = document.getElementById(link.getAttribute("href").slice(1));
        if (!target) { return; }
        event.preventDefault();
        var details = target.closest("details");
        if (details) { details.open = true; }
        var label = document.querySelector("label[for='" + target.id + "']");
        (label || target).scrollIntoView();
        target.focus({preventScroll: true});
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
}());
