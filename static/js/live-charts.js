/* genai-bench live dashboard: the Chart.js charts of the live view and how they look (axes, tooltips, run markers).
 *
 *   GenaiLive.createCharts()   {latency, throughput, errors, scatter, ttftHist, e2eHist}, or null without Chart.js
 *   GenaiLive.timeChartOptions(yTitle), lineDataset(label, color, extra), runMarkersPlugin: for other time charts
 *
 * Filling them from the model is live-render.js's job. Needs common.js (window.GenaiCommon) loaded first.
 */
(function () {
  "use strict";

  var C = window.GenaiCommon;
  var COLORS = C.COLORS;
  var isNum = C.isNum, fmtNumber = C.fmtNumber, fmtMs = C.fmtMs, fmtRate = C.fmtRate;

  function $(id) { return document.getElementById(id); }

  function fmtAxisTime(seconds) {
    if (!isNum(seconds)) return "";
    var sign = seconds < 0 ? "-" : "";
    seconds = Math.abs(Math.round(seconds));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return sign + m + ":" + String(s).padStart(2, "0");
  }

  // Vertical markers where a new run (scenario or concurrency) starts, labelled "c=<concurrency>".
  var runMarkersPlugin = {
    id: "runMarkers",
    afterDatasetsDraw: function (chart) {
      var marks = chart.$runMarks;
      if (!marks || !marks.length) return;
      var x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = "rgba(139, 148, 158, 0.35)";
      ctx.fillStyle = COLORS.text;
      ctx.setLineDash([3, 3]);
      ctx.font = "10px system-ui, sans-serif";
      ctx.textBaseline = "top";
      var lastLabelX = -Infinity;
      marks.forEach(function (mark) {
        var px = x.getPixelForValue(mark.x);
        if (px < area.left || px > area.right) return;
        ctx.beginPath();
        ctx.moveTo(px, area.top);
        ctx.lineTo(px, area.bottom);
        ctx.stroke();
        if (px - lastLabelX > 34) {
          ctx.fillText(mark.label, px + 3, area.top + 2);
          lastLabelX = px;
        }
      });
      ctx.restore();
    },
  };

  // Dashed horizontal lines at the SLO targets (chart.$sloLines: [{y, label, color}]); the axis stretches to show them.
  var sloLinesPlugin = {
    id: "sloLines",
    beforeUpdate: function (chart) {
      var lines = chart.$sloLines || [];
      var top = lines.reduce(function (max, line) { return Math.max(max, line.y); }, 0);
      chart.options.scales.y.suggestedMax = top > 0 ? top * 1.15 : undefined;
    },
    afterDatasetsDraw: function (chart) {
      var lines = chart.$sloLines;
      if (!lines || !lines.length) return;
      var y = chart.scales.y, area = chart.chartArea, ctx = chart.ctx;
      ctx.save();
      ctx.setLineDash([6, 4]);
      ctx.lineWidth = 1.2;
      ctx.font = "10px system-ui, sans-serif";
      ctx.textBaseline = "bottom";
      var lastLabelY = -Infinity, right = true;
      lines.slice().sort(function (a, b) { return a.y - b.y; }).forEach(function (line) {
        var py = y.getPixelForValue(line.y);
        if (!isNum(py) || py < area.top || py > area.bottom) return;
        ctx.strokeStyle = line.color;
        ctx.fillStyle = line.color;
        ctx.beginPath();
        ctx.moveTo(area.left, py);
        ctx.lineTo(area.right, py);
        ctx.stroke();
        // Labels of nearby targets alternate sides so that they do not overlap.
        right = Math.abs(py - lastLabelY) < 12 ? !right : true;
        lastLabelY = py;
        ctx.textAlign = right ? "right" : "left";
        ctx.fillText(line.label, right ? area.right - 4 : area.left + 4, py - 2);
      });
      ctx.restore();
    },
  };

  // The SLO lines of a status's targets (seconds) on the latency chart (ms), in the colours of their metrics' lines.
  var SLO_LINES = [["ttft", "TTFT", COLORS.blue], ["tpot", "TPOT", COLORS.purple], ["e2e_latency", "E2E", COLORS.orange]];
  function sloLines(targets) {
    return SLO_LINES.filter(function (m) { return targets && isNum(targets[m[0]]); }).map(function (m) {
      var ms = targets[m[0]] * 1000;
      return { y: ms, label: m[1] + " SLO " + fmtNumber(ms, ms < 10 ? 1 : 0) + " ms", color: m[2] };
    });
  }

  // Concurrency labels next to each scatter point.
  var pointLabelsPlugin = C.concurrencyLabelsPlugin("pointLabels", { font: "11px system-ui, sans-serif", dx: 6, dy: 4 });

  function lineDataset(label, color, extra) {
    var ds = {
      label: label, data: [], borderColor: color, backgroundColor: color,
      borderWidth: 1.6, pointRadius: 0, pointHoverRadius: 3, tension: 0, spanGaps: false,
    };
    return Object.assign(ds, extra || {});
  }

  // Optional series (reasoning runs' answer TTFT) stay out of the legend until they have data.
  function shownInLegend(item, data) {
    var dataset = data.datasets[item.datasetIndex];
    return !dataset.$optional || !!dataset.$seen;
  }

  function timeTooltipTitle(items) {
    if (!items.length) return "";
    var raw = items[0].raw || {};
    var parts = ["t = " + fmtAxisTime(items[0].parsed.x)];
    if (raw.scenario) parts.push(raw.scenario);
    if (raw.concurrency !== undefined && raw.concurrency !== null) parts.push("concurrency " + raw.concurrency);
    return parts.join("  ·  ");
  }

  function baseOptions(yTitle) {
    return {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      interaction: { mode: "nearest", axis: "x", intersect: false },
      plugins: {
        legend: { labels: { boxWidth: 12, boxHeight: 2, color: COLORS.text, filter: shownInLegend } },
        tooltip: { callbacks: { title: timeTooltipTitle } },
      },
      scales: {
        x: {
          type: "linear",
          bounds: "data",
          title: { display: true, text: "time since start (m:ss)", color: COLORS.text },
          ticks: { callback: function (v) { return fmtAxisTime(v); }, maxTicksLimit: 8, color: COLORS.text },
          grid: { color: COLORS.grid },
        },
        y: {
          beginAtZero: true,
          title: { display: !!yTitle, text: yTitle || "", color: COLORS.text },
          ticks: { color: COLORS.text },
          grid: { color: COLORS.grid },
        },
      },
    };
  }

  // The latency chart mixes TPOT (a few ms) with E2E (seconds): a log axis keeps every line readable.
  function latencyAxis(log) {
    var axis = {
      type: log ? "logarithmic" : "linear",
      title: { display: true, text: log ? "ms (log)" : "ms", color: COLORS.text },
      ticks: { color: COLORS.text },
      grid: { color: COLORS.grid },
    };
    if (log) {
      axis.ticks.autoSkip = false;
      // Room above the highest and below the lowest line, so neither sits on the frame.
      axis.afterDataLimits = function (scale) {
        if (isNum(scale.max) && scale.max > 0) scale.max = scale.max * 1.4;
        if (isNum(scale.min) && scale.min > 0) scale.min = scale.min / 1.4;
      };
      axis.ticks.callback = function (v) {
        var lead = v / Math.pow(10, Math.floor(Math.log10(v)));
        return Math.abs(lead - 1) < 1e-9 || Math.abs(lead - 2) < 1e-9 || Math.abs(lead - 5) < 1e-9 ? fmtNumber(v, v < 1 ? 1 : 0) : "";
      };
    } else {
      axis.beginAtZero = true;
    }
    return axis;
  }

  function bindScaleToggle(chart) {
    var button = $("latency-scale");
    if (!button) return;
    button.addEventListener("click", function () {
      var log = button.getAttribute("aria-pressed") !== "true";
      button.setAttribute("aria-pressed", log ? "true" : "false");
      chart.options.scales.y = latencyAxis(log);
      chart.update("none");
    });
  }

  function histogramChart(canvas, label, color) {
    return C.histogramChart(canvas, {
      label: label,
      color: color,
      binTitle: function (lo, hi) { return fmtMs(lo) + " – " + fmtMs(hi) + " ms"; },
      countLabel: function (n) { return n + " requests"; },
    });
  }

  function createCharts() {
    var Chart = window.Chart;
    if (!Chart) return null;
    C.applyChartDefaults(Chart);
    var charts = {};

    var latencyOptions = baseOptions("ms");
    latencyOptions.scales.y = latencyAxis(true);
    charts.latency = new Chart($("chart-latency"), {
      type: "line",
      data: { datasets: [
        lineDataset("TTFT p50", COLORS.blue),
        lineDataset("TTFT p99", COLORS.cyan, { borderDash: [5, 3] }),
        lineDataset("TPOT p50", COLORS.purple),
        lineDataset("E2E p50", COLORS.orange),
        lineDataset("Answer TTFT p50", COLORS.green, { borderDash: [2, 2], $optional: true }),
      ] },
      options: latencyOptions,
      plugins: [runMarkersPlugin, sloLinesPlugin],
    });

    var tpOptions = baseOptions("output tok/s");
    tpOptions.scales.y2 = {
      position: "right", beginAtZero: true,
      title: { display: true, text: "req/s", color: COLORS.text },
      ticks: { color: COLORS.text }, grid: { drawOnChartArea: false },
    };
    charts.throughput = new Chart($("chart-throughput"), {
      type: "line",
      data: { datasets: [
        lineDataset("Output tok/s", COLORS.blue, { yAxisID: "y" }),
        lineDataset("Requests/s", COLORS.green, { yAxisID: "y2" }),
      ] },
      options: tpOptions,
      plugins: [runMarkersPlugin],
    });

    var errOptions = baseOptions("errors (run)");
    errOptions.scales.y.ticks.precision = 0;
    errOptions.scales.y2 = {
      position: "right", beginAtZero: true, suggestedMax: 5,
      title: { display: true, text: "error rate · SLO met %", color: COLORS.text },
      ticks: { color: COLORS.text }, grid: { drawOnChartArea: false },
    };
    charts.errors = new Chart($("chart-errors"), {
      type: "line",
      data: { datasets: [
        lineDataset("Errors", COLORS.red, { yAxisID: "y", stepped: true }),
        lineDataset("Error rate %", COLORS.yellow, { yAxisID: "y2", borderDash: [5, 3] }),
        // With --slo: the share of the latest requests meeting every SLO.
        lineDataset("SLO met %", COLORS.green, { yAxisID: "y2", $optional: true }),
      ] },
      options: errOptions,
      plugins: [runMarkersPlugin],
    });

    charts.scatter = new Chart($("chart-scatter"), {
      type: "scatter",
      data: { datasets: [] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        layout: { padding: { right: 28, top: 16 } },
        plugins: {
          legend: { labels: { boxWidth: 10, color: COLORS.text } },
          tooltip: {
            callbacks: {
              label: function (item) {
                var r = item.raw;
                return r.scenario + " · " + C.runLoadLabel(r) + ": " + fmtRate(r.y) + " tok/s, TTFT p50 " + fmtNumber(r.x, 1) + " ms";
              },
            },
          },
        },
        scales: {
          x: { type: "linear", grace: "5%", title: { display: true, text: "TTFT p50 (ms)", color: COLORS.text }, ticks: { color: COLORS.text }, grid: { color: COLORS.grid } },
          y: { beginAtZero: true, title: { display: true, text: "output tok/s", color: COLORS.text }, ticks: { color: COLORS.text }, grid: { color: COLORS.grid } },
        },
      },
      plugins: [pointLabelsPlugin],
    });

    charts.ttftHist = histogramChart($("chart-hist-ttft"), "TTFT", "rgba(88, 166, 255, 0.75)");
    charts.e2eHist = histogramChart($("chart-hist-e2e"), "E2E latency", "rgba(240, 136, 62, 0.75)");
    bindScaleToggle(charts.latency);
    return charts;
  }

  window.GenaiLive = Object.assign(window.GenaiLive || {}, {
    createCharts: createCharts,
    sloLines: sloLines,
    // For the server panel (live-server.js): the same time axis, line style and run markers.
    timeChartOptions: baseOptions,
    lineDataset: lineDataset,
    runMarkersPlugin: runMarkersPlugin,
  });
})();
