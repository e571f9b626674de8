// The admin analytics page's charts (hub/templates/admin/hub/analytics.html): they read the
// figures from the JSON in #analytics-data; Chart.js is the vendored UMD build beside this.
(function () {
  "use strict";
  var element = document.getElementById("analytics-data");
  if (!element || typeof Chart === "undefined") {
    return;
  }
  var data = JSON.parse(element.textContent);
  var colours = {
    CHARGING: "#2e7d32", BLOCKED: "#f9a825", OUTOFORDER: "#c62828", OTHER: "#90a4ae",
    UNKNOWN: "#e0e0e0", ALLOWED: "#2e7d32", DENIED: "#c62828", UNKNOWN_TOKEN: "#ef6c00",
    REFUSED: "#6a1b9a", TIMEOUT: "#455a64", FAILED: "#000000"
  };

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) {
      new Chart(canvas, config);
    }
  }

  draw("chart-per-day", {
    type: "bar",
    data: {
      labels: data.days,
      datasets: [
        { label: "CDRs", data: data.cdr_sessions, yAxisID: "count", backgroundColor: "#1565c0" },
        { label: "sessions started", data: data.session_sessions, yAxisID: "count",
          backgroundColor: "#90caf9" },
        { label: "kWh (CDRs)", data: data.cdr_kwh, yAxisID: "kwh", type: "line",
          borderColor: "#2e7d32" }
      ]
    },
    options: {
      scales: {
        count: { type: "linear", position: "left", beginAtZero: true },
        kwh: { type: "linear", position: "right", beginAtZero: true, grid: { drawOnChartArea: false } }
      }
    }
  });

  var utilisation = document.querySelector(".utilisation-chart");
  if (utilisation) {
    draw(utilisation.id, {
      type: "bar",
      data: {
        labels: data.locations,
        datasets: data.buckets.map(function (bucket) {
          return { label: bucket, data: data.location_shares[bucket], backgroundColor: colours[bucket] };
        })
      },
      options: {
        indexAxis: "y",
        scales: { x: { stacked: true, min: 0, max: 1 }, y: { stacked: true } }
      }
    });
  }

  var outcomes = Object.keys(data.authorization_outcomes);
  draw("chart-authorizations", {
    type: "doughnut",
    data: {
      labels: outcomes,
      datasets: [{
        data: outcomes.map(function (key) { return data.authorization_outcomes[key]; }),
        backgroundColor: outcomes.map(function (key) { return colours[key]; })
      }]
    }
  });

  draw("chart-deliveries", {
    type: "bar",
    data: {
      labels: data.receivers,
      datasets: [
        { label: "attempt p95 (ms)", data: data.attempt_p95_ms, yAxisID: "ms", backgroundColor: "#1565c0" },
        { label: "failed attempts", data: data.failed_attempts, yAxisID: "count", backgroundColor: "#c62828" }
      ]
    },
    options: {
      scales: {
        ms: { type: "linear", position: "left", beginAtZero: true },
        count: { type: "linear", position: "right", beginAtZero: true, grid: { drawOnChartArea: false } }
      }
    }
  });
})();
