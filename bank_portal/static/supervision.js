// The supervision dashboard's charts, drawn by the vendored Chart.js from the figures the
// page carries as JSON (#chart-data): no inline script, nothing fetched. Each chart has its
// figures in a table beside it, so the page says everything without this script too.
(function () {
  "use strict";
  var node = document.getElementById("chart-data");
  if (!node || typeof Chart === "undefined") {
    return;
  }
  var figures = JSON.parse(node.textContent);
  var data = figures.data;
  var text = figures.text;
  var colours = ["#0b5cad", "#2e7d32", "#b26a00"];

  // Figures, not a show: drawn at once, so that what a screenshot or a reader sees is final.
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) {
      new Chart(canvas, config);
      canvas.setAttribute("data-drawn", "true");
    }
  }

  function axis(title, extra) {
    var options = { title: { display: true, text: title } };
    return Object.assign(options, extra || {});
  }

  draw("chart-histogram", {
    type: "bar",
    data: {
      labels: data.histogram.labels,
      datasets: [{ label: text.filings, data: data.histogram.counts, backgroundColor: colours[0] }],
    },
    options: {
      plugins: { legend: { display: false } },
      scales: {
        x: axis(text.hours),
        y: axis(text.filings, { beginAtZero: true, ticks: { precision: 0 } }),
      },
    },
  });

  draw("chart-weeks", {
    type: "line",
    data: {
      labels: data.weeks.labels,
      datasets: ["half", "one", "three"].map(function (key, i) {
        return { label: text[key], data: data.weeks[key], borderColor: colours[i], backgroundColor: colours[i] };
      }),
    },
    options: { scales: { y: axis(text.share, { min: 0, max: 100 }) } },
  });

  draw("chart-steps", {
    type: "bar",
    data: {
      labels: data.steps.labels,
      datasets: [{ label: text.mean, data: data.steps.hours, backgroundColor: colours[0] }],
    },
    options: {
      indexAxis: "y",
      plugins: { legend: { display: false } },
      scales: { x: axis(text.mean, { beginAtZero: true }) },
    },
  });
})();
