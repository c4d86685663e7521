// Campaign and ad group forms: budget inputs that follow the budget type, country and language pickers,
// the dayparting grid (drag to paint, presets) and a bid hint that knows the placements' floors.
(function () {
  "use strict";
  const SLOTS_PER_DAY = 48;
  const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

  function budget(form) {
    const modes = form.querySelectorAll("[data-budget-mode]");
    const amount = form.querySelector("[data-budget-amount]");
    if (!modes.length || !amount) return;
    const input = amount.querySelector("input");
    const none = form.querySelector("[data-budget-none]");
    function update() {
      const chosen = form.querySelector("[data-budget-mode]:checked");
      const unlimited = Boolean(chosen) && chosen.value === "unlimited";
      amount.hidden = unlimited;
      input.disabled = unlimited; // an unlimited budget has no amount
      if (none) none.hidden = !unlimited;
    }
    modes.forEach((mode) => mode.addEventListener("change", update));
    update();
  }

  // A multi-select where a click toggles one option (no Ctrl needed), with a search box and removable chips.
  function picker(select) {
    const label = select.labels.length ? select.labels[0].textContent.trim().toLowerCase() : "options";
    const search = document.createElement("input");
    search.type = "search";
    search.className = "form-control form-control-sm mb-1";
    search.placeholder = `Search ${label}…`;
    search.setAttribute("aria-label", `Search ${label}`);
    search.setAttribute("aria-controls", select.id);
    const chips = document.createElement("div");
    chips.className = "picker-chips";
    chips.setAttribute("aria-live", "polite");
    select.before(search);
    select.after(chips);

    function render() {
      chips.replaceChildren();
      const chosen = Array.from(select.selectedOptions);
      if (!chosen.length) {
        const all = document.createElement("span");
        all.className = "text-body-secondary small";
        all.textContent = `All ${label}`;
        chips.append(all);
      }
      chosen.forEach((option) => {
        const chip = document.createElement("button");
        chip.type = "button";
        chip.className = "picker-chip";
        chip.textContent = option.textContent;
        chip.setAttribute("aria-label", `Remove ${option.textContent}`);
        chip.addEventListener("click", () => {
          option.selected = false;
          select.dispatchEvent(new Event("change", { bubbles: true }));
        });
        chips.append(chip);
      });
    }
    select.addEventListener("mousedown", (event) => {
      const option = event.target.closest("option");
      if (!option) return;
      event.preventDefault();
      option.selected = !option.selected;
      select.focus();
      select.dispatchEvent(new Event("change", { bubbles: true }));
    });
    select.addEventListener("change", render);
    search.addEventListener("input", () => {
      const wanted = search.value.trim().toLowerCase();
      Array.from(select.options).forEach((option) => {
        option.hidden = wanted !== "" && !option.textContent.toLowerCase().includes(wanted) && option.value.toLowerCase() !== wanted;
      });
    });
    search.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      event.preventDefault(); // Enter picks the first match instead of submitting the form
      const first = Array.from(select.options).find((option) => !option.hidden);
      if (first) {
        first.selected = true;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
    render();
  }

  function clock(halfHour) {
    return `${String(Math.floor(halfHour / 2)).padStart(2, "0")}:${halfHour % 2 ? "30" : "00"}`;
  }

  function runs(values) {
    const found = [];
    values.forEach((value) => {
      const last = found[found.length - 1];
      if (last && value === last[1] + 1) last[1] = value;
      else found.push([value, value]);
    });
    return found;
  }

  // The same words the campaign page uses: "Mon–Fri 09:00–18:00".
  function describe(slots) {
    if (!slots.length || slots.length === 7 * SLOTS_PER_DAY) return "Runs all day, every day.";
    const byHours = new Map();
    for (let day = 0; day < 7; day += 1) {
      const halves = slots.filter((slot) => Math.floor(slot / SLOTS_PER_DAY) === day).map((slot) => slot % SLOTS_PER_DAY);
      if (!halves.length) continue;
      const hours = runs(halves).map(([first, last]) => `${clock(first)}–${clock(last + 1)}`).join(", ").replace("00:00–24:00", "all day");
      if (!byHours.has(hours)) byHours.set(hours, []);
      byHours.get(hours).push(day);
    }
    const parts = [];
    byHours.forEach((days, hours) => {
      const names = days.length === 7 ? "Every day" : runs(days).map(([first, last]) => {
        if (first === last) return DAYS[first];
        return `${DAYS[first]}${last - first > 1 ? "–" : ", "}${DAYS[last]}`;
      }).join(", ");
      parts.push(`${names} ${hours}`);
    });
    return `Runs ${parts.join("; ")}.`;
  }

  function dayparting(form) {
    const grid = form.querySelector("[data-daypart-grid]");
    if (!grid) return;
    const boxes = Array.from(grid.querySelectorAll('input[name="dayparting"]'));
    const summary = form.querySelector("[data-daypart-summary]");
    const chosen = () => boxes.filter((box) => box.checked).map((box) => Number(box.value));
    const refresh = () => { if (summary) summary.textContent = describe(chosen()); };
    const set = (slots, on) => { slots.forEach((slot) => { boxes[slot].checked = on; }); refresh(); };
    const range = (from, to) => Array.from({ length: to - from }, (_, index) => from + index);

    let painting = null; // true while ticking cells, false while clearing them
    function cellAt(x, y) {
      const element = document.elementFromPoint(x, y);
      return element ? element.closest(".daypart-cell") : null;
    }
    grid.addEventListener("pointerdown", (event) => {
      const cell = event.target.closest(".daypart-cell");
      if (!cell || event.button !== 0) return;
      event.preventDefault();
      const box = cell.querySelector("input");
      painting = !box.checked;
      box.checked = painting;
      box.focus({ preventScroll: true });
      refresh();
    });
    grid.addEventListener("pointermove", (event) => {
      if (painting === null) return;
      const cell = cellAt(event.clientX, event.clientY);
      if (cell && grid.contains(cell)) {
        cell.querySelector("input").checked = painting;
        refresh();
      }
    });
    document.addEventListener("pointerup", () => { painting = null; });
    // The pointer already toggled the cell; the click that follows must not toggle it back (keyboard clicks still do).
    grid.addEventListener("click", (event) => {
      if (event.target.closest(".daypart-cell") && event.detail !== 0) event.preventDefault();
    });
    grid.addEventListener("change", refresh);

    grid.querySelectorAll("[data-daypart-day]").forEach((button, day) => {
      button.addEventListener("click", () => {
        const slots = range(day * SLOTS_PER_DAY, (day + 1) * SLOTS_PER_DAY);
        set(slots, !slots.every((slot) => boxes[slot].checked));
      });
    });
    grid.querySelectorAll("[data-daypart-hour]").forEach((button) => {
      button.addEventListener("click", () => {
        const hour = Number(button.dataset.daypartHour);
        const slots = range(0, 7).flatMap((day) => [day * SLOTS_PER_DAY + hour * 2, day * SLOTS_PER_DAY + hour * 2 + 1]);
        set(slots, !slots.every((slot) => boxes[slot].checked));
      });
    });
    form.querySelectorAll("[data-daypart-preset]").forEach((button) => {
      button.addEventListener("click", () => {
        const preset = button.dataset.daypartPreset;
        set(range(0, boxes.length), preset === "all");
        if (preset === "business") {
          set(range(0, 5).flatMap((day) => range(day * SLOTS_PER_DAY + 18, day * SLOTS_PER_DAY + 36)), true);
        }
      });
    });
    refresh();
  }

  function bidding(form) {
    const unit = form.querySelector("[data-bid-unit]");
    const hint = form.querySelector("[data-bid-floor]");
    if (!unit || !hint) return;
    const currency = form.dataset.currency || "";
    const units = { cpm: "per 1,000 impressions", cpc: "per click", ocpm: "per conversion" };
    function update() {
      const chosen = form.querySelector("[data-bid-strategy]:checked");
      const strategy = chosen ? chosen.value : "cpm";
      unit.textContent = units[strategy] || "";
      if (strategy !== "cpm") {
        hint.textContent = strategy === "cpc" ? "The most you pay for a click." : "The average cost per conversion to aim for.";
        return;
      }
      const placements = Array.from(form.querySelectorAll('input[name="placements"]:checked'));
      if (!placements.length) {
        hint.textContent = "Choose placements to see the lowest CPM bid they accept.";
        return;
      }
      const top = placements.reduce((a, b) => (Number(b.dataset.floor) > Number(a.dataset.floor) ? b : a));
      hint.textContent = `At least ${top.dataset.floor} ${currency}, the floor of ${top.dataset.placementName}.`;
    }
    form.addEventListener("change", update);
    update();
  }

  document.querySelectorAll("[data-campaign-form], [data-ad-group-form]").forEach((form) => {
    budget(form);
    form.querySelectorAll("select[multiple][data-picker]").forEach(picker);
    dayparting(form);
    bidding(form);
  });
})();
