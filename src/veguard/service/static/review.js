// Reviewer page behaviour. Loaded as a file: the Content-Security-Policy forbids inline script.
// It only toggles classes and attributes and clicks existing buttons; it never builds HTML from
// content. Wellness: texts start blurred and the decision buttons (and their keys) stay
// disabled until the reviewer reveals the text; greyscale is remembered per browser.
(function () {
  "use strict";

  function revealed() { return document.body.classList.contains("revealed"); }

  function syncDecisionButtons() {
    var on = revealed();
    document.querySelectorAll("button[data-needs-reveal]").forEach(function (b) {
      b.disabled = !on;
    });
    var hint = document.getElementById("reveal-hint");
    if (hint) { hint.hidden = on; }
  }

  function toggleBlur() {
    var on = document.body.classList.toggle("revealed");
    document.querySelectorAll(".toggle-blur").forEach(function (b) {
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    syncDecisionButtons();
  }

  function setGrey(on) {
    document.body.classList.toggle("grey", on);
    var b = document.getElementById("toggle-grey");
    if (b) { b.setAttribute("aria-pressed", on ? "true" : "false"); }
    try { window.localStorage.setItem("veguard-grey", on ? "1" : "0"); } catch (e) { /* private mode */ }
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function jumpToEvidence(ev) {
    var details = document.getElementById("full-text");
    if (!details) { return; }
    details.open = true;
    var mark = details.querySelector("mark.evidence");
    if (mark) { mark.scrollIntoView({block: "center"}); ev.preventDefault(); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".toggle-blur").forEach(function (b) {
      b.addEventListener("click", toggleBlur);
    });
    var grey = document.getElementById("toggle-grey");
    if (grey) {
      grey.addEventListener("click", function () { setGrey(!document.body.classList.contains("grey")); });
    }
    var stored = null;
    try { stored = window.localStorage.getItem("veguard-grey"); } catch (e) { /* private mode */ }
    if (stored === "1") { setGrey(true); }
    var jump = document.getElementById("jump-evidence");
    if (jump) { jump.addEventListener("click", jumpToEvidence); }
    var undo = document.getElementById("undo-form");
    if (undo) {
      var secs = parseFloat(undo.getAttribute("data-undo-seconds")) || 0;
      window.setTimeout(function () { undo.hidden = true; }, secs * 1000);
    }
    syncDecisionButtons();
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) { return; }
    var key = ev.key.toLowerCase();
    if (key === "u") { toggleBlur(); ev.preventDefault(); return; }
    if (key === "g") { setGrey(!document.body.classList.contains("grey")); ev.preventDefault(); return; }
    if (key === "n") {
      var next = document.getElementById("claim-next");
      if (next) { next.click(); ev.preventDefault(); }
      return;
    }
    var button = document.querySelector('button[data-key="' + key.replace(/[^a-z]/g, "") + '"]');
    // A disabled button ignores click(): decision keys do nothing while the text is blurred.
    if (button && !button.disabled && !button.closest("[hidden]")) { button.click(); ev.preventDefault(); }
  });
})();
