// Campaign page: confirm before archiving, placeholders for thumbnails that fail to load, deep links to History.
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  function missing(img) {
    img.closest(".ad-thumb").classList.add("is-missing");
    img.remove();
  }
  document.querySelectorAll(".ad-thumb img").forEach((img) => {
    if (img.complete && img.naturalWidth === 0) missing(img);
    else img.addEventListener("error", () => missing(img));
  });

  const historyTab = document.getElementById("history-tab");
  if (historyTab && window.location.hash === "#history" && window.bootstrap) {
    window.bootstrap.Tab.getOrCreateInstance(historyTab).show();
  }
})();
