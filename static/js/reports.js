// Reports: draws a report's charts (Chart.js) from the JSON the server embeds next to them, on the
// reports page and in the panel htmx loads into a campaign's page; runs the date-range picker.
(function () {
  "use strict";

  const COLORS = { spend: "#0d6efd", impressions: "#6f42c1", clicks: "#198754", conversions: "#fd7e14" };
  const PALETTE = ["#0d6efd", "#6f42c1", "#198754", "#fd7e14", "#20c997", "#d63384", "#0dcaf0", "#ffc107", "#6c757d", "#dc3545", "#adb5bd"];
  const VISIBLE_AT_FIRST = ["spend", "impressions"];
  const TOP_COUNTRIES = 10;

  function formatters(data) {
    const count = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
    let amount;
    try {
      amount = new Intl.NumberFormat(undefined, { style: "currency", currency: data.currency, maximumFractionDigits: 2 });
    } catch (error) {
      amount = { format: (value) => `${Number(value).toFixed(2)} ${data.currency}` };
    }
    const money = Object.fromEntries(data.metrics.map((metric) => [metric.key, metric.money]));
    return (metric, value) => (money[metric] ? amount.format(Number(value)) : count.format(Number(value)));
  }

  // Money comes as decimal strings; a blank (an hour still to come) stays a gap in the line.
  function numbers(values) {
    return values.map((value) => (value === null ? null : Number(value)));
  }

  function drawTimeline(canvas, data) {
    const format = formatters(data);
    const timeline = data.timeline;
    const scales = { x: { grid: { display: false }, ticks: { autoSkip: true, maxRotation: 0 } } };
    let first = true;
    const datasets = data.metrics.map((metric) => {
      const axis = `y_${metric.key}`;
      scales[axis] = {
        display: "auto",
        beginAtZero: true,
        position: metric.money ? "right" : "left",
        grid: { drawOnChartArea: first },
        ticks: { callback: (value) => format(metric.key, value), maxTicksLimit: 6 },
        title: { display: true, text: metric.label, color: COLORS[metric.key] },
      };
      first = false;
      return {
        label: metric.label,
        metric: metric.key,
        data: numbers(timeline.series[metric.key]),
        yAxisID: axis,
        hidden: !VISIBLE_AT_FIRST.includes(metric.key),
        borderColor: COLORS[metric.key],
        backgroundColor: COLORS[metric.key],
        borderWidth: 2,
        cubicInterpolationMode: "monotone",
        pointRadius: timeline.labels.length > 45 ? 0 : 2,
        pointHoverRadius: 4,
      };
    });
    return new window.Chart(canvas, {
      type: "line",
      data: { labels: timeline.labels, datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales,
        plugins: {
          legend: { position: "bottom", labels: { usePointStyle: true, boxHeight: 6 } },
          tooltip: {
            callbacks: { label: (item) => `${item.dataset.label}: ${format(item.dataset.metric, item.parsed.y)}` },
          },
        },
      },
    });
  }

  // Labels and values of a breakdown for one metric: countries beyond the top ten add up to "Other".
  function slices(breakdown, metric, key) {
    const pairs = breakdown.labels.map((label, index) => [label, Number(breakdown.series[metric][index])]);
    pairs.sort((a, b) => b[1] - a[1]);
    if (key === "country" && pairs.length > TOP_COUNTRIES + 1) {
      const rest = pairs.splice(TOP_COUNTRIES).reduce((sum, pair) => sum + pair[1], 0);
      pairs.push(["Other", rest]);
    }
    return { labels: pairs.map((pair) => pair[0]), values: pairs.map((pair) => pair[1]) };
  }

  function drawBreakdown(canvas, data, key, metric) {
    const format = formatters(data);
    const breakdown = data.breakdowns[key];
    const label = data.metrics.find((item) => item.key === metric).label;
    const shown = slices(breakdown, metric, key);
    const doughnut = key === "device";
    return new window.Chart(canvas, {
      type: doughnut ? "doughnut" : "bar",
      data: {
        labels: shown.labels,
        datasets: [{
          label,
          metric,
          data: shown.values,
          backgroundColor: doughnut ? PALETTE.slice(0, shown.values.length) : COLORS[metric],
          borderRadius: doughnut ? 0 : 3,
        }],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        indexAxis: key === "country" ? "y" : "x",
        scales: doughnut ? {} : {
          [key === "country" ? "x" : "y"]: { beginAtZero: true, ticks: { callback: (value) => format(metric, value), maxTicksLimit: 5 } },
          [key === "country" ? "y" : "x"]: { grid: { display: false } },
        },
        plugins: {
          legend: { display: doughnut, position: "bottom", labels: { boxWidth: 10 } },
          tooltip: {
            callbacks: {
              label: (item) => `${item.dataset.label}: ${format(metric, doughnut ? item.parsed : item.raw)}`,
            },
          },
        },
      },
    });
  }

  const wired = new WeakSet(); // metric pickers that already redraw their chart

  // Draw every chart of a report that is not drawn yet. Keyed on the canvas, not on a flag in the
  // markup: a page htmx restores from its history has the markup but blank canvases.
  function drawReport(container) {
    const source = document.getElementById(container.dataset.reportCharts);
    if (!window.Chart || !source) return;
    const data = JSON.parse(source.textContent);
    const timeline = container.querySelector("canvas[data-chart=timeline]");
    if (timeline && !window.Chart.getChart(timeline)) drawTimeline(timeline, data);
    Object.keys(data.breakdowns).forEach((key) => {
      const canvas = container.querySelector(`canvas[data-chart="${key}"]`);
      if (!canvas) return;
      const picker = container.querySelector(`select[data-breakdown-metric="${key}"]`);
      if (!window.Chart.getChart(canvas)) drawBreakdown(canvas, data, key, picker ? picker.value : "impressions");
      if (picker && !wired.has(picker)) {
        wired.add(picker);
        picker.addEventListener("change", () => {
          const chart = window.Chart.getChart(canvas);
          if (chart) chart.destroy();
          drawBreakdown(canvas, data, key, picker.value);
        });
      }
    });
  }

  // The range picker: a preset applies at once; typed dates make the range "custom".
  function setUpFilter(form) {
    if (wired.has(form)) return;
    wired.add(form);
    const preset = form.querySelector("[data-range-preset]");
    const custom = form.querySelectorAll("[data-custom-dates]");
    const toggle = () => custom.forEach((box) => { box.hidden = preset.value !== "custom"; });
    if (!form.querySelector(".is-invalid")) toggle();
    preset.addEventListener("change", () => {
      toggle();
      if (preset.value !== "custom") form.requestSubmit();
      else custom[0].querySelector("input").focus();
    });
    form.querySelectorAll("[data-custom-dates] input").forEach((input) => {
      input.addEventListener("change", () => { preset.value = "custom"; });
    });
  }

  function setUp(root) {
    const scope = root && root.querySelectorAll ? root : document;
    const containers = scope.matches && scope.matches("[data-report-charts]") ? [scope] : [];
    containers.push(...scope.querySelectorAll("[data-report-charts]"));
    containers.forEach(drawReport);
    scope.querySelectorAll("form[data-report-filter]").forEach(setUpFilter);
  }

  // Charts in content htmx is about to replace are destroyed first, so they do not linger in Chart.js.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (!window.Chart || !target || !target.querySelectorAll) return;
    target.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
      const chart = window.Chart.getChart(canvas);
      if (chart) chart.destroy();
    });
  });
  document.addEventListener("htmx:load", (event) => setUp(event.target));
  document.addEventListener("htmx:historyRestore", () => setUp(document));
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => setUp(document));
  else setUp(document);
})();
