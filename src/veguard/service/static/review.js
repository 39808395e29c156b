// Reviewer page behaviour. Loaded as a file: the Content-Security-Policy forbids inline script.
// It only toggles classes and clicks existing buttons; it never builds HTML from content.
(function () {
  "use strict";

  function toggleBlur() {
    var blurred = document.body.classList.toggle("revealed");
    document.querySelectorAll(".toggle-blur").forEach(function (b) {
      b.setAttribute("aria-pressed", blurred ? "true" : "false");
    });
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".toggle-blur").forEach(function (b) {
      b.addEventListener("click", toggleBlur);
    });
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) { return; }
    var key = ev.key.toLowerCase();
    if (key === "u") { toggleBlur(); ev.preventDefault(); return; }
    if (key === "n") {
      var next = document.getElementById("claim-next");
      if (next) { next.click(); ev.preventDefault(); }
      return;
    }
    var button = document.querySelector('button[data-key="' + key.replace(/[^a-z]/g, "") + '"]');
    if (button) { button.click(); ev.preventDefault(); }
  });
})();
