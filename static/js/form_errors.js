// Forms: bring the first refused field into view, so a refused save never looks as if nothing happened.
(function () {
  "use strict";
  const first = document.querySelector("[data-field-error]");
  if (!first || document.querySelector("form .alert-danger")) return;
  first.scrollIntoView({ block: "center" });
})();
