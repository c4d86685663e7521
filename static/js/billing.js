// Billing forms: one click is one submit. The server also ignores a repeated top-up (its idempotency
// key), but a disabled button tells the user the payment is on its way instead of inviting a second click.
(function () {
  "use strict";
  document.querySelectorAll("form[data-submit-once]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (form.dataset.submitted) {
        event.preventDefault();
        return;
      }
      form.dataset.submitted = "true";
      form.querySelectorAll("button[type=submit]").forEach((button) => {
        // Disable after the submit is under way, so the button's own name/value still goes with it.
        window.setTimeout(() => {
          button.disabled = true;
          if (button.dataset.busyText) button.textContent = button.dataset.busyText;
        }, 0);
      });
    });
  });
  // A page shown from the back/forward cache gets its buttons back.
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-submit-once]").forEach((form) => {
      delete form.dataset.submitted;
      form.querySelectorAll("button[type=submit]").forEach((button) => { button.disabled = false; });
    });
  });
  // A refused form: bring its message into view.
  const refused = document.querySelector("[data-form-errors], #top-up [data-field-error], #promo [data-field-error], #alert [data-field-error]");
  if (refused) refused.scrollIntoView({ block: "center" });
})();
