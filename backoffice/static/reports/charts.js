// Draws each report table's chart from the JSON the page carries (no inline script: the CSP forbids it).
// Values arrive as exact decimal text in major units; they become numbers here for drawing only.
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("report-chart-data");
    if (!source || typeof Chart === "undefined") { return; }
    var charts = JSON.parse(source.textContent);
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var chart = charts[canvas.getAttribute("data-chart")];
      if (!chart || !chart.labels.length) { canvas.parentNode.hidden = true; return; }
      new Chart(canvas, {
        type: chart.kind,
        data: {
          labels: chart.labels,
          datasets: chart.datasets.map(function (set) {
            return {
              label: set.series ? set.label + " (" + set.series + ")" : set.label,
              data: set.values.map(Number)
            };
          })
        },
        options: { responsive: true, maintainAspectRatio: false, animation: false }
      });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
