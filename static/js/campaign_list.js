// Campaign list: tick rows for bulk pause/resume, and show why an inline (htmx) toggle was refused.
(function () {
  "use strict";
  const form = document.querySelector("[data-bulk-form]");
  if (!form) return;
  const count = form.querySelector("[data-bulk-count]");
  const actions = form.querySelectorAll("[data-bulk-action]");
  const all = form.querySelector("[data-select-all]");
  const idle = count ? count.textContent : "";

  const boxes = () => Array.from(form.querySelectorAll("[data-row-select]"));

  function refresh() {
    const rows = boxes();
    const ticked = rows.filter((box) => box.checked).length;
    if (count) count.textContent = ticked ? `${ticked} selected` : idle;
    actions.forEach((button) => { button.disabled = ticked === 0; });
    if (all) {
      all.checked = rows.length > 0 && ticked === rows.length;
      all.indeterminate = ticked > 0 && ticked < rows.length;
    }
    rows.forEach((box) => box.closest("tr").classList.toggle("is-selected", box.checked));
  }

  form.addEventListener("change", (event) => {
    if (event.target === all) boxes().forEach((box) => { box.checked = all.checked; });
    refresh();
  });

  // A refused toggle answers 400 or 403 with the row and the reason in it: swap it in rather than drop it.
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    const status = event.detail.xhr.status;
    if (status === 400 || status === 403) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.body.addEventListener("htmx:afterSwap", refresh);
  refresh();
})();
