// Ad form: show the inputs the chosen format uses, and a live preview of the ad in each of its placements.
(function () {
  "use strict";
  const form = document.querySelector("[data-ad-form]");
  if (!form) return;
  const field = (name) => form.querySelector(`#id_${name}`);
  const inputs = {
    displayName: field("display_name"),
    headline: field("headline"),
    body: field("body"),
    media: field("media_url"),
    duration: field("video_duration_seconds"),
    cta: field("call_to_action"),
    landing: field("landing_url"),
  };
  const mediaFields = form.querySelector("[data-media-fields]");
  const videoFields = form.querySelector("[data-video-fields]");
  const image = form.querySelector("[data-preview-image]");
  const placeholder = form.querySelector("[data-preview-placeholder]");
  const video = form.querySelector("[data-preview-video]");
  const duration = form.querySelector("[data-preview-duration]");
  const thumb = form.querySelector("[data-preview-thumb]");
  const thumbImage = form.querySelector("[data-preview-thumb-image]");
  const warning = form.querySelector("[data-preview-warning]");
  const placements = Array.from(form.querySelectorAll("[data-preview-placement]"));
  const styles = Array.from(form.querySelectorAll("[data-preview-style]"));

  const chosenFormat = () => (form.querySelector("[data-format]:checked") || { value: "image" }).value;
  const httpsUrl = (text) => {
    try {
      const url = new URL(text);
      return url.protocol === "https:" ? url : null;
    } catch (error) {
      return null;
    }
  };
  function show(name, text, fallback) {
    form.querySelectorAll(`[data-preview="${name}"]`).forEach((element) => {
      element.textContent = text || fallback;
      element.classList.toggle("is-placeholder", !text);
    });
  }

  let loadedSrc = "";
  function media(format) {
    const url = format === "text" ? null : httpsUrl(inputs.media.value.trim());
    const src = url && format === "image" ? url.href : "";
    if (src !== loadedSrc) {
      loadedSrc = src;
      image.hidden = true;
      thumb.hidden = true;
      if (src) {
        image.src = src;
        thumbImage.src = src;
      } else {
        image.removeAttribute("src");
        thumbImage.removeAttribute("src");
      }
    }
    placeholder.querySelector("span").textContent = format === "video" ? "" : format === "text" ? "Text ad" : "Your image";
    video.hidden = format !== "video";
    const seconds = Number(inputs.duration.value);
    duration.textContent = seconds > 0 ? `0:${String(Math.min(seconds, 60)).padStart(2, "0")}`.replace("0:60", "1:00") : "";
  }
  image.addEventListener("load", () => { image.hidden = false; thumb.hidden = false; });
  image.addEventListener("error", () => { image.hidden = true; thumb.hidden = true; });

  function update() {
    const format = chosenFormat();
    mediaFields.hidden = format === "text";
    inputs.media.disabled = format === "text"; // a text ad has no media
    videoFields.hidden = format !== "video";
    inputs.duration.disabled = format !== "video";

    show("display_name", inputs.displayName.value.trim(), "yourbrand");
    show("headline", inputs.headline.value.trim(), "Your headline");
    show("body", inputs.body.value.trim(), "");
    show("call_to_action", inputs.cta.selectedOptions.length ? inputs.cta.selectedOptions[0].textContent : "", "Learn more");
    const landing = httpsUrl(inputs.landing.value.trim());
    show("domain", landing ? landing.hostname : "", "example.com");
    media(format);

    const active = placements.find((button) => button.classList.contains("active")) || placements[0];
    if (active) {
      styles.forEach((element) => { element.hidden = element.dataset.previewStyle !== active.dataset.style; });
      const fits = active.dataset.formats.split(",").includes(format);
      warning.hidden = fits;
      warning.textContent = fits ? "" : `${active.textContent.trim()} doesn't show ${format} ads: the ad would be rejected unless another placement of this ad group shows them.`;
    }
    form.querySelectorAll("[data-count-for]").forEach((counter) => {
      const input = form.querySelector(`#${counter.dataset.countFor}`);
      counter.textContent = `${input.value.length}/${input.maxLength}`;
    });
  }

  placements.forEach((button) => {
    button.addEventListener("click", () => {
      placements.forEach((other) => {
        other.classList.toggle("active", other === button);
        other.setAttribute("aria-pressed", String(other === button));
      });
      update();
    });
  });
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
