// The admin index's dashboard charts (hub/templates/admin/hub/index.html): they read the
// figures from the JSON in #dashboard-data; Chart.js is the vendored UMD build. A click on a
// bar opens the changelist of the rows behind it.
(function () {
  "use strict";
  var element = document.getElementById("dashboard-data");
  if (!element || typeof Chart === "undefined") {
    return;
  }
  var data = JSON.parse(element.textContent);
  var palette = ["#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#c62828", "#00838f", "#4e342e",
    "#546e7a", "#f9a825", "#ad1457", "#283593", "#558b2f"];

  function label(iso) {
    return iso.substring(11, 16);
  }

  function withWindow(url, since, until) {
    var target = new URL(url, window.location.href);
    target.searchParams.set("since", since);
    target.searchParams.set("until", until);
    return target.toString();
  }

  var exchanges = document.getElementById("chart-exchanges");
  if (exchanges) {
    new Chart(exchanges, {
      type: "bar",
      data: {
        labels: data.minutes.map(label),
        datasets: data.modules.map(function (row, n) {
          return { label: row.module, data: row.counts, backgroundColor: palette[n % palette.length] };
        })
      },
      options: {
        animation: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } },
        onClick: function (event, elements) {
          if (!elements.length) {
            return;
          }
          var hit = elements[0];
          var row = data.modules[hit.datasetIndex];
          var since = data.minutes[hit.index];
          var until = new Date(new Date(since).getTime() + 60000).toISOString();
          if (row.url) {
            window.location.href = withWindow(row.url, since, until);
          }
        }
      }
    });
  }

  var latency = document.getElementById("chart-latency");
  if (latency) {
    new Chart(latency, {
      type: "bar",
      data: {
        labels: data.latency.receivers,
        datasets: [
          { label: "p50 ms", data: data.latency.p50, backgroundColor: "#90caf9" },
          { label: "p95 ms", data: data.latency.p95, backgroundColor: "#1565c0" }
        ]
      },
      options: {
        animation: false,
        scales: { y: { beginAtZero: true } },
        onClick: function (event, elements) {
          if (elements.length) {
            window.location.href = data.latency.urls[elements[0].index];
          }
        }
      }
    });
  }
})();
