/* genai-bench results view, shared pieces: constants, number and name formats, run accessors and the Chart.js
 * options every results chart uses.
 *
 *   window.GenaiResults.util   (used by the other results-*.js files)
 *
 * The results view (results-view.js and its parts) has two homes:
 *   - the served page (templates/index.html): data comes from the results API (docs/results-api.md);
 *   - the self-contained report (templates/report.html): data comes from an embedded JSON document.
 *
 * Needs common.js (window.GenaiCommon) loaded first.
 * Nothing from the data is ever inserted as HTML: every text goes through textContent.
 * The results-*.js files are inlined into the report inside script elements: they must never contain a closing script tag.
 */
(function () {
  "use strict";

  var C = window.GenaiCommon;
  var COLORS = C.COLORS;
  var isNum = C.isNum, el = C.el;

  // ---------------------------------------------------------------- constants
  var DASHES = [[], [6, 3], [2, 3], [8, 3, 2, 3]];
  var POINT_STYLES = ["circle", "rect", "triangle", "rectRot", "crossRot"];
  var PERCENTILES = ["p50", "p90", "p99"];
  var STATS = ["mean", "min", "p25", "p50", "p75", "p90", "p95", "p99", "max"];
  var SPEEDS = [1, 10, 100];

  // Metrics for the "metric vs concurrency" chart. kind: "latency" (seconds -> ms, per-request stats),
  // "speed" (per-request stats, tok/s), "run" (one number per run).
  // streamed: only streamed tasks (text-to-text, image-text-to-text) measure it; hidden when no shown experiment is
  // streamed (embeddings and rerank answer at once, in batches).
  var METRICS = [
    { key: "ttft", label: "TTFT", kind: "latency", unit: "ms", streamed: true },
    { key: "tpot", label: "TPOT", kind: "latency", unit: "ms", streamed: true },
    { key: "itl", label: "ITL", kind: "latency", unit: "ms", streamed: true },
    { key: "e2e_latency", label: "E2E latency", kind: "latency", unit: "ms" },
    { key: "output_latency", label: "Output latency", kind: "latency", unit: "ms", streamed: true },
    { key: "output_inference_speed", label: "Output speed per request", kind: "speed", unit: "tok/s", streamed: true },
    { key: "mean_output_throughput_tokens_per_s", label: "Output tokens/s", kind: "run", unit: "tok/s", streamed: true },
    // Batched tasks (embeddings, rerank): inputs embedded or documents scored per second.
    { key: "inputs_per_second", label: "Inputs/s", kind: "run", unit: "inputs/s", optional: true, batched: true },
    { key: "mean_input_throughput_tokens_per_s", label: "Input tokens/s", kind: "run", unit: "tok/s" },
    { key: "mean_total_tokens_throughput_tokens_per_s", label: "Total tokens/s", kind: "run", unit: "tok/s" },
    { key: "requests_per_second", label: "Requests/s", kind: "run", unit: "req/s" },
    { key: "error_rate", label: "Error rate", kind: "run", unit: "%" },
    // Optional metrics: offered only when a shown run has them (usage checked; reasoning models; open loop).
    { key: "token_count_mismatch", label: "Token count mismatch", kind: "run", unit: "%", optional: true },
    { key: "ttft_answer", label: "Answer TTFT (after reasoning)", kind: "latency", unit: "ms", optional: true },
    { key: "num_reasoning_tokens", label: "Reasoning tokens", kind: "count", unit: "tokens", optional: true },
    { key: "schedule_lag", label: "Schedule lag", kind: "latency", unit: "ms", optional: true },
    { key: "ttft_from_schedule", label: "TTFT from schedule", kind: "latency", unit: "ms", optional: true },
    { key: "e2e_latency_from_schedule", label: "E2E latency from schedule", kind: "latency", unit: "ms", optional: true },
    // Runs with --slo: read from the run's `slo` (slo: its field).
    { key: "slo_attainment", label: "SLO attainment", kind: "run", unit: "%", optional: true, slo: "attainment" },
    { key: "goodput_requests_per_second", label: "Goodput (req/s)", kind: "run", unit: "req/s", optional: true,
      slo: "goodput_requests_per_second" },
    { key: "goodput_output_tokens_per_second", label: "Goodput (output tok/s)", kind: "run", unit: "tok/s",
      optional: true, slo: "goodput_output_tokens_per_second" },
  ];

  // ---------------------------------------------------------------- helpers
  function fmtExact(v, unit) {
    if (!isNum(v)) return "no data";
    var text = Math.abs(v) >= 1000 ? v.toFixed(3) : Number(v.toPrecision(6)).toString();
    return text + (unit ? " " + unit : "");
  }

  function fmtDate(unixSeconds) {
    if (!isNum(unixSeconds)) return "";
    var d = new Date(unixSeconds * 1000);
    function two(n) { return String(n).padStart(2, "0"); }
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " + two(d.getHours()) + ":" + two(d.getMinutes());
  }

  function shortName(name) {
    name = String(name === undefined || name === null ? "" : name);
    return name.length > 38 ? name.slice(0, 16) + "…" + name.slice(-20) : name;
  }

  // Display names of compared experiments: the prefix they all share (e.g. "openai_text-to-text_") is dropped.
  function displayNames(names) {
    names = names.map(function (n) { return String(n === undefined || n === null ? "" : n); });
    if (names.length < 2) return names.map(shortName);
    var prefix = names[0];
    names.forEach(function (n) { while (prefix && n.indexOf(prefix) !== 0) prefix = prefix.slice(0, -1); });
    var cut = Math.max(prefix.lastIndexOf("_"), prefix.lastIndexOf("-"), prefix.lastIndexOf("/"));
    return names.map(function (n) { return shortName(cut > 0 && n.length > cut + 1 ? n.slice(cut + 1) : n); });
  }

  function statOf(run, metric, name) {
    return C.stat(run && run.aggregated && run.aggregated.stats, metric, name);
  }

  function aggOf(run, key) {
    var v = run && run.aggregated ? run.aggregated[key] : null;
    return isNum(v) ? v : null;
  }

  // A field of the run's `slo` (attainment, goodput_...), or null for a run without SLOs.
  function sloOf(run, key) {
    var slo = run && run.aggregated ? run.aggregated.slo : null;
    return slo && isNum(slo[key]) ? slo[key] : null;
  }

  // Where a run sits on the load axis: its batch size (batched tasks), arrival rate (open loop) or concurrency.
  function loadOf(run) {
    var batch = C.runBatch(run), rate = C.runRate(run);
    return batch !== null ? batch : rate !== null ? rate : run.concurrency;
  }

  function byLoad(a, b) {
    var ba = C.runBatch(a), bb = C.runBatch(b);
    if (ba !== null && bb !== null && ba !== bb) return ba - bb;
    var ra = C.runRate(a), rb = C.runRate(b);
    if ((ra === null) !== (rb === null)) return ra === null ? -1 : 1;   // closed-loop runs first
    return ra !== null ? ra - rb : a.concurrency - b.concurrency;
  }

  function hasStat(run, metric) {
    var stats = run && run.aggregated && run.aggregated.stats;
    return !!(stats && stats[metric] && typeof stats[metric] === "object");
  }

  function metricDef(key) {
    for (var i = 0; i < METRICS.length; i++) if (METRICS[i].key === key) return METRICS[i];
    return METRICS[0];
  }

  // The value of a METRICS entry for one run, in display units (ms, tok/s, req/s or %).
  function metricValue(run, metric, stat) {
    if (metric.kind === "run") {
      var v = metric.slo ? sloOf(run, metric.slo) : aggOf(run, metric.key);
      return metric.unit === "%" && v !== null ? v * 100 : v;
    }
    var s = statOf(run, metric.key, stat);
    return metric.kind === "latency" && s !== null ? s * 1000 : s;
  }

  // ---------------------------------------------------------------- tasks
  var BATCHED_TASKS = ["text-to-embeddings", "text-to-rerank"];

  // Whether an experiment's task is batched (embeddings, rerank: no streaming, a batch size per run), from its
  // metadata's task (older experiments without one: from its runs' batch sizes).
  function expBatched(exp) {
    var meta = (exp && exp.metadata) || {};
    if (meta.task) return BATCHED_TASKS.indexOf(meta.task) >= 0 || meta.iteration_type === "batch_size";
    return (exp && exp.runs || []).some(function (r) { return C.runBatch(r) !== null; });
  }

  // Whether an experiment's task streams tokens (TTFT, TPOT, ITL mean something): its task_metrics when recorded.
  function expStreamed(exp) {
    var meta = (exp && exp.metadata) || {};
    if (Array.isArray(meta.task_metrics) && meta.task_metrics.length) return meta.task_metrics.indexOf("ttft") >= 0;
    return !expBatched(exp);
  }

  // What the shown experiments need: {streamed, batched} (the union: a panel hides only when none needs it).
  function taskUnion(exps) {
    return {
      streamed: exps.length === 0 || exps.some(expStreamed),
      batched: exps.some(expBatched),
    };
  }

  function asList(answer) {
    if (Array.isArray(answer)) return { experiments: answer, mode: null };
    answer = answer || {};
    return { experiments: Array.isArray(answer.experiments) ? answer.experiments : [], mode: answer.mode || null };
  }

  // ---------------------------------------------------------------- chart plugins and options
  // "c=<concurrency>" next to each curve point (skipped when the chart gets crowded).
  var pointLabelsPlugin = C.concurrencyLabelsPlugin("genaiPointLabels",
    { font: "10px system-ui, sans-serif", dx: 5, dy: 3, maxPoints: 48 });

  function axis(title, extra) {
    return Object.assign({
      type: "linear",
      title: { display: true, text: title, color: COLORS.text },
      ticks: { color: COLORS.text, maxRotation: 0 },
      grid: { color: COLORS.grid },
    }, extra || {});
  }

  function concurrencyAxis(values, title) {
    var uniq = values.filter(isNum).sort(function (a, b) { return a - b; })
      .filter(function (v, i, arr) { return i === 0 || arr[i - 1] !== v; });
    var log = uniq.length > 1 && uniq[0] > 0 && uniq[uniq.length - 1] / uniq[0] >= 8;
    var a = axis(title || "concurrency", { type: log ? "logarithmic" : "linear" });
    if (uniq.length) {
      a.afterBuildTicks = function (scale) { scale.ticks = uniq.map(function (v) { return { value: v }; }); };
      a.ticks.callback = function (v) { return String(v); };
      a.ticks.autoSkip = true;
      if (log) { a.min = uniq[0] / 1.25; a.max = uniq[uniq.length - 1] * 1.25; }
      else { a.grace = "4%"; }
    }
    return a;
  }

  function curveTooltip(xLabel, xUnit, yLabel, yUnit) {
    return {
      callbacks: {
        title: function (items) {
          if (!items.length) return "";
          var r = items[0].raw || {};
          return String(r.experiment) + " / " + String(r.scenario);
        },
        label: function (item) {
          var r = item.raw || {};
          var lines = [C.runLoadText(r)];
          lines.push(resolve(yLabel) + ": " + fmtExact(r.y, resolve(yUnit)));
          if (r.n > 1) {
            lines.push("mean of " + r.n + " runs; 95% interval " + fmtExact(r.yLow) + " – " + fmtExact(r.yHigh, resolve(yUnit)));
          }
          if (xLabel !== "concurrency") lines.push(resolve(xLabel) + ": " + fmtExact(r.x, resolve(xUnit)));
          return lines;
        },
      },
    };
  }

  function resolve(v) { return typeof v === "function" ? v() : v; }

  function chartBaseOptions() {
    return {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: "nearest", intersect: false },
      layout: { padding: { right: 24, top: 6 } },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 14, boxHeight: 8, color: COLORS.text, usePointStyle: false } } },
    };
  }
  // A figure (caption: title then controls; a chart box with a canvas) appended to parent; returns the canvas.
  function chartFigure(parent, figureAttrs, title, controls, canvasAttrs) {
    var fig = el("figure", figureAttrs);
    var cap = el("figcaption");
    cap.appendChild(title);
    if (controls) controls.forEach(function (c) { cap.appendChild(c); });
    var box = el("div", { className: "chart-box" });
    var canvas = el("canvas", canvasAttrs);
    box.appendChild(canvas);
    fig.append(cap, box);
    parent.appendChild(fig);
    return canvas;
  }

  function labelled(text, control) {
    var label = el("label", { className: "rv-control" });
    label.append(el("span", null, text), control);
    return label;
  }

  function setDatasets(chart, datasets) {
    if (!chart) return;
    chart.data.datasets = datasets;
    chart.update("none");
  }

  var GenaiResults = window.GenaiResults = window.GenaiResults || {};
  GenaiResults.util = {
    DASHES: DASHES, POINT_STYLES: POINT_STYLES, PERCENTILES: PERCENTILES, STATS: STATS, SPEEDS: SPEEDS, METRICS: METRICS,
    fmtExact: fmtExact, fmtDate: fmtDate, displayNames: displayNames, statOf: statOf, aggOf: aggOf, sloOf: sloOf, loadOf: loadOf,
    byLoad: byLoad, hasStat: hasStat, expBatched: expBatched, expStreamed: expStreamed, taskUnion: taskUnion, metricDef: metricDef, metricValue: metricValue, asList: asList,
    pointLabelsPlugin: pointLabelsPlugin, axis: axis, concurrencyAxis: concurrencyAxis, curveTooltip: curveTooltip,
    chartBaseOptions: chartBaseOptions, chartFigure: chartFigure, labelled: labelled, setDatasets: setDatasets,
  };
})();
