// Draws the IB statistics charts from the JSON the page carries (no inline script: the CSP forbids it).
// Amounts arrive as integers of minor units with their currency's scale; they are divided for display only.
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("ib-chart-data");
    if (!source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var series = data[canvas.getAttribute("data-chart")];
      if (!series || !series.labels.length) { canvas.parentNode.hidden = true; return; }
      new Chart(canvas, {
        type: canvas.getAttribute("data-chart") === "period" ? "line" : "bar",
        data: {
          labels: series.labels,
          datasets: series.datasets.map(function (set) {
            var divisor = Math.pow(10, set.scale);
            return { label: set.currency, data: set.minor.map(function (minor) { return minor / divisor; }) };
          })
        },
        options: { responsive: true, maintainAspectRatio: false, animation: false }
      });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
