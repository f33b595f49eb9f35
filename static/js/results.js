/* genai-bench results view: finished (and just-finished) experiments, per scenario curves across concurrency,
 * a sortable per-run table and a per-run drill-down.
 *
 * One renderer, two homes:
 *   - the served page (templates/index.html): data comes from the results API (docs/results-api.md);
 *   - the self-contained report (templates/report.html): data comes from an embedded JSON document.
 *
 *   window.GenaiResults.mount(rootElement, source, options) -> controller
 *   source: { experiments(), experiment(id), requests(id, key) }  (each returns a Promise)
 *           plus, when served, downloadUrl(id, format) and replay(id, speed).
 *
 * Needs common.js (window.GenaiCommon) loaded first.
 * Nothing from the data is ever inserted as HTML: every text goes through textContent.
 * This file is inlined into the report inside a script element, so it must never contain a closing script tag.
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------- shared helpers (common.js)
  var C = window.GenaiCommon;
  var COLORS = C.COLORS, PALETTE = C.PALETTE;
  var isNum = C.isNum, el = C.el, setText = C.setText, fmtMsValue = C.fmtMsValue, fmtMs = C.fmtMs, fmtRate = C.fmtRate,
    fmtPercent = C.fmtPercent, fmtDuration = C.fmtDuration, plural = C.plural, errorText = C.errorText,
    baseName = C.baseName, withToken = C.withToken;

  // ---------------------------------------------------------------- constants
  var DASHES = [[], [6, 3], [2, 3], [8, 3, 2, 3]];
  var POINT_STYLES = ["circle", "rect", "triangle", "rectRot", "crossRot"];
  var PERCENTILES = ["p50", "p90", "p99"];
  var STATS = ["mean", "min", "p25", "p50", "p75", "p90", "p95", "p99", "max"];
  var SPEEDS = [1, 10, 100];
  var FETCH_TIMEOUT_MS = 8000;

  // Metrics for the "metric vs concurrency" chart. kind: "latency" (seconds -> ms, per-request stats),
  // "speed" (per-request stats, tok/s), "run" (one number per run).
  var METRICS = [
    { key: "ttft", label: "TTFT", kind: "latency", unit: "ms" },
    { key: "tpot", label: "TPOT", kind: "latency", unit: "ms" },
    { key: "itl", label: "ITL", kind: "latency", unit: "ms" },
    { key: "e2e_latency", label: "E2E latency", kind: "latency", unit: "ms" },
    { key: "output_latency", label: "Output latency", kind: "latency", unit: "ms" },
    { key: "output_inference_speed", label: "Output speed per request", kind: "speed", unit: "tok/s" },
    { key: "output_tokens_per_second", label: "Output tokens/s", kind: "run", unit: "tok/s" },
    { key: "input_tokens_per_second", label: "Input tokens/s", kind: "run", unit: "tok/s" },
    { key: "total_tokens_per_second", label: "Total tokens/s", kind: "run", unit: "tok/s" },
    { key: "requests_per_second", label: "Requests/s", kind: "run", unit: "req/s" },
    { key: "error_rate", label: "Error rate", kind: "run", unit: "%" },
    // Open-loop runs only (null in closed loop): offered only when a shown run has them.
    { key: "schedule_lag", label: "Schedule lag", kind: "latency", unit: "ms", schedule: true },
    { key: "ttft_from_schedule", label: "TTFT from schedule", kind: "latency", unit: "ms", schedule: true },
    { key: "e2e_latency_from_schedule", label: "E2E latency from schedule", kind: "latency", unit: "ms", schedule: true },
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

  // Where a run sits on the load axis: its arrival rate (open loop) or its concurrency (closed loop).
  function loadOf(run) {
    var rate = C.runRate(run);
    return rate !== null ? rate : run.concurrency;
  }

  function byLoad(a, b) {
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
      var v = aggOf(run, metric.key);
      return metric.key === "error_rate" && v !== null ? v * 100 : v;
    }
    var s = statOf(run, metric.key, stat);
    return metric.kind === "latency" && s !== null ? s * 1000 : s;
  }

  function fmtMetric(v, unit) {
    if (!isNum(v)) return "—";
    if (unit === "ms") return fmtMsValue(v) + " ms";
    if (unit === "%") return C.fmtPercentValue(v) + " %";
    return fmtRate(v) + " " + unit;
  }

  function asList(answer) {
    if (Array.isArray(answer)) return { experiments: answer, mode: null };
    answer = answer || {};
    return { experiments: Array.isArray(answer.experiments) ? answer.experiments : [], mode: answer.mode || null };
  }

  // ---------------------------------------------------------------- sources
  function fetchJSON(url, init) {
    init = Object.assign({ cache: "no-store", headers: { Accept: "application/json" } }, init || {});
    return C.fetchWithTimeout(url, init, FETCH_TIMEOUT_MS).then(function (r) {
      return r.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (!r.ok) {
          var message = body && body.error && body.error.message ? body.error.message : "HTTP " + r.status;
          var err = new Error(message);
          err.status = r.status;
          throw err;
        }
        return body;
      });
    }, function (err) {
      throw err && err.name === "AbortError" ? new Error("the server did not answer " + url) : err;
    });
  }

  // The results API of a running genai-bench (relative URLs, ?token= carried on).
  function apiSource() {
    function exp(id) { return "api/experiments/" + encodeURIComponent(id); }
    return {
      kind: "api",
      served: true,
      experiments: function () { return fetchJSON("api/experiments").then(asList); },
      experiment: function (id) { return fetchJSON(exp(id)); },
      requests: function (id, key) { return fetchJSON(exp(id) + "/runs/" + encodeURIComponent(key) + "/requests"); },
      downloadUrl: function (id, format) { return withToken(exp(id) + "/report." + format); },
      replay: function (id, speed) {
        return fetchJSON("api/replay", {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ experiment: id, speed: speed }),
        });
      },
      replayStatus: function () { return fetchJSON("api/replay"); },
    };
  }

  // Experiments held in memory: the report's embedded document, or the runs a live page already received.
  // doc: {"experiments": [{"summary", "metadata", "runs", "requests": {key: requests answer}}]}
  function embeddedSource(doc, mode) {
    var items = doc && Array.isArray(doc.experiments) ? doc.experiments : [];
    function find(id) {
      for (var i = 0; i < items.length; i++) if (items[i].summary && items[i].summary.id === id) return items[i];
      return null;
    }
    return {
      kind: "embedded",
      served: false,
      experiments: function () {
        return Promise.resolve({ experiments: items.map(function (e) { return e.summary; }), mode: mode || "report" });
      },
      experiment: function (id) {
        var e = find(id);
        if (!e) return Promise.reject(new Error("unknown experiment " + id));
        return Promise.resolve({ summary: e.summary, metadata: e.metadata || {}, runs: e.runs || [] });
      },
      requests: function (id, key) {
        var e = find(id);
        var answer = e && e.requests ? e.requests[key] : null;
        if (!answer) return Promise.reject(new Error(e && e.requests_note ? e.requests_note : "per-request data of this run is not included"));
        return Promise.resolve(answer);
      },
    };
  }

  function embeddedSourceFromElement(element) {
    var text = element ? element.textContent : "";
    var doc;
    try { doc = JSON.parse(text || "{}"); } catch (e) { doc = { experiments: [] }; }
    return embeddedSource(doc, "report");
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

  // ---------------------------------------------------------------- mount
  function mount(root, source, options) {
    options = options || {};
    var Chart = window.Chart;
    var state = {
      list: [],                // summaries, newest first
      mode: null,
      selected: [],            // ids, in picker order
      loaded: {},              // id -> Promise of experiment answer
      data: {},                // id -> experiment answer
      percentile: "p50",
      scenario: "",            // "" = every scenario
      metric: "ttft",
      stat: "p50",
      sort: null,              // {key, dir: 1 | -1}
      drill: null,             // {id, key}
      drillMetric: "ttft",
      renderSeq: 0,
      drillSeq: 0,
      destroyed: false,
    };
    var charts = {};

    if (Chart) C.applyChartDefaults(Chart);

    // ---- skeleton
    root.replaceChildren();
    var view = el("div", { className: "rv" });
    root.appendChild(view);

    var head = el("section", { className: "panel rv-head", "aria-label": "Experiments" });
    var headTop = el("div", { className: "panel-head" });
    headTop.append(el("h2", null, options.heading || "Results"),
      el("span", { className: "panel-note", id: "rv-head-note" }, "loading…"));
    var picker = el("fieldset", { className: "rv-picker" });
    picker.appendChild(el("legend", null, "Experiments (tick several to compare)"));
    var pickerList = el("div", { className: "rv-picker-list", id: "rv-picker-list" });
    picker.appendChild(pickerList);
    var controls = el("div", { className: "rv-controls" });
    var scenarioSelect = el("select", { id: "rv-scenario", "aria-label": "Scenario" });
    var percentileSelect = el("select", { id: "rv-percentile", "aria-label": "Percentile" });
    PERCENTILES.forEach(function (p) { percentileSelect.appendChild(el("option", { value: p }, p)); });
    controls.append(labelled("Scenario", scenarioSelect), labelled("Percentile", percentileSelect));
    head.append(headTop, picker, controls);

    var cards = el("div", { className: "rv-cards", id: "rv-cards" });
    var message = el("p", { className: "rv-message", id: "rv-message", role: "status", hidden: true });

    var chartGrid = el("section", { className: "rv-charts", "aria-label": "Curves across concurrency" });
    var curveTitles = {};
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
    function chartPanel(id, titleText, ariaLabel, extraControls) {
      var title = el("span", { className: "rv-chart-title" }, titleText);
      curveTitles[id] = title;
      return chartFigure(chartGrid, { className: "panel chart-panel rv-chart", id: "rv-fig-" + id }, title, extraControls,
        { id: "rv-chart-" + id, role: "img", "aria-label": ariaLabel });
    }
    var metricSelect = el("select", { id: "rv-metric", "aria-label": "Metric" });
    METRICS.forEach(function (m) { metricSelect.appendChild(el("option", { value: m.key }, m.label)); });
    var statSelect = el("select", { id: "rv-stat", "aria-label": "Statistic" });
    STATS.forEach(function (s) { statSelect.appendChild(el("option", { value: s }, s)); });
    var metricControls = el("span", { className: "rv-inline-controls" });
    metricControls.append(metricSelect, statSelect);

    var canvases = {
      ttft: chartPanel("ttft", "TTFT vs output tokens/s", "TTFT against output tokens per second, per run"),
      tpot: chartPanel("tpot", "TPOT vs output tokens/s", "TPOT against output tokens per second, per run"),
      e2e: chartPanel("e2e", "E2E latency vs requests/s", "End-to-end latency against requests per second, per run"),
      errors: chartPanel("errors", "Error rate vs concurrency", "Error rate against concurrency"),
      metric: chartPanel("metric", "", "Chosen metric against concurrency", [metricControls]),
    };

    var tablePanel = el("section", { className: "panel rv-table-panel", "aria-label": "Runs" });
    var tableHead = el("div", { className: "panel-head" });
    var tableNote = el("span", { className: "panel-note", id: "rv-table-note" }, "click a column to sort, a row for details");
    tableHead.append(el("h2", null, "Runs"), tableNote);
    var tableScroll = el("div", { className: "table-scroll" });
    var table = el("table", { className: "runs-table rv-table", id: "rv-table" });
    var thead = el("thead");
    var tbody = el("tbody", { id: "rv-rows" });
    table.append(thead, tbody);
    tableScroll.appendChild(table);
    var tableEmpty = el("p", { className: "empty", id: "rv-table-empty", hidden: true }, "No run to show.");
    tablePanel.append(tableHead, tableScroll, tableEmpty);

    var drill = el("section", { className: "panel rv-drill", id: "rv-drill", hidden: true, "aria-live": "polite", tabindex: "-1" });
    var drillHead = el("div", { className: "panel-head" });
    var drillTitle = el("h2", { id: "rv-drill-title" });
    var drillNote = el("span", { className: "panel-note", id: "rv-drill-note" });
    var drillClose = el("button", { type: "button", className: "rv-button rv-close", id: "rv-drill-close", "aria-label": "Close the run details" }, "Close");
    drillHead.append(drillTitle, drillNote, drillClose);
    var drillFacts = el("dl", { className: "rv-facts", id: "rv-drill-facts" });
    var drillMessage = el("p", { className: "rv-message", id: "rv-drill-message", hidden: true });
    var drillGrid = el("div", { className: "rv-drill-grid" });
    function drillPanel(id, titleText, controlsNodes) {
      return chartFigure(drillGrid, { className: "chart-panel rv-drill-chart" + (id === "scatter" ? " rv-wide" : "") },
        el("span", null, titleText), controlsNodes, { id: "rv-drill-" + id, role: "img", "aria-label": titleText });
    }
    var drillMetricSelect = el("select", { id: "rv-drill-metric", "aria-label": "Latency shown over time" });
    [["ttft", "TTFT"], ["e2e_latency", "E2E latency"], ["tpot", "TPOT"]].forEach(function (o) {
      drillMetricSelect.appendChild(el("option", { value: o[0] }, o[1]));
    });
    var drillCanvases = {
      scatter: drillPanel("scatter", "Requests over time (errors in red)", [drillMetricSelect]),
      ttft: drillPanel("hist-ttft", "TTFT distribution"),
      tpot: drillPanel("hist-tpot", "TPOT distribution"),
      e2e: drillPanel("hist-e2e", "E2E latency distribution"),
    };
    drill.append(drillHead, drillFacts, drillMessage, drillGrid);

    view.append(head, cards, message, chartGrid, tablePanel, drill);

    function labelled(text, control) {
      var label = el("label", { className: "rv-control" });
      label.append(el("span", null, text), control);
      return label;
    }

    // ---- charts
    function curveChart(canvas, xTitle, yTitle, tooltip, xAxis) {
      if (!Chart) return null;
      var opts = chartBaseOptions();
      opts.plugins.tooltip = tooltip;
      opts.scales = {
        x: xAxis || axis(xTitle, { grace: "5%" }),
        y: axis(yTitle, { beginAtZero: true, grace: "5%" }),
      };
      opts.onClick = function (evt, elements, chart) {
        if (!elements || !elements.length) return;
        var raw = chart.data.datasets[elements[0].datasetIndex].data[elements[0].index];
        if (raw && raw.expId) openRun(raw.expId, raw.key);
      };
      opts.onHover = function (evt, elements, chart) {
        chart.canvas.style.cursor = elements && elements.length ? "pointer" : "default";
      };
      return new Chart(canvas, { type: "scatter", data: { datasets: [] }, options: opts, plugins: [pointLabelsPlugin] });
    }

    function pct() { return state.percentile; }
    charts.ttft = curveChart(canvases.ttft, "output tokens/s", "TTFT (ms)",
      curveTooltip("output tokens/s", "tok/s", function () { return "TTFT " + pct(); }, "ms"));
    charts.tpot = curveChart(canvases.tpot, "output tokens/s", "TPOT (ms)",
      curveTooltip("output tokens/s", "tok/s", function () { return "TPOT " + pct(); }, "ms"));
    charts.e2e = curveChart(canvases.e2e, "requests/s", "E2E latency (ms)",
      curveTooltip("requests/s", "req/s", function () { return "E2E " + pct(); }, "ms"));
    charts.errors = curveChart(canvases.errors, "concurrency", "error rate (%)",
      curveTooltip("concurrency", "", "error rate", "%"), concurrencyAxis([]));
    charts.metric = curveChart(canvases.metric, "concurrency", "",
      curveTooltip("concurrency", "", function () { return metricTitle(); }, function () { return metricDef(state.metric).unit; }),
      concurrencyAxis([]));

    function histChart(canvas, color) {
      if (!Chart) return null;
      return C.histogramChart(canvas, {
        label: "requests",
        color: color,
        binTitle: function (lo, hi) { return fmtExact(lo * 1000, "") + " – " + fmtExact(hi * 1000, "ms"); },
        countLabel: function (n) { return plural(n, "request"); },
      });
    }

    charts.drillHist = {
      ttft: histChart(drillCanvases.ttft, "rgba(88, 166, 255, 0.75)"),
      tpot: histChart(drillCanvases.tpot, "rgba(188, 140, 255, 0.75)"),
      e2e: histChart(drillCanvases.e2e, "rgba(240, 136, 62, 0.75)"),
    };
    charts.drillScatter = Chart ? new Chart(drillCanvases.scatter, {
      type: "scatter",
      data: { datasets: [] },
      options: Object.assign(chartBaseOptions(), {
        interaction: { mode: "nearest", intersect: true },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 10, color: COLORS.text } },
          tooltip: {
            callbacks: {
              title: function (items) { return items.length ? "request started at t = " + fmtExact(items[0].raw.x, "s") : ""; },
              label: function (item) {
                var r = item.raw || {};
                var lines = [];
                if (r.error_code !== null && r.error_code !== undefined) lines.push("error " + r.error_code);
                lines.push("TTFT: " + fmtExact(r.ttft, "ms"), "TPOT: " + fmtExact(r.tpot, "ms"), "E2E: " + fmtExact(r.e2e, "ms"));
                if (isNum(r.output_tokens)) lines.push("output tokens: " + r.output_tokens);
                return lines;
              },
            },
          },
        },
        scales: {
          x: axis("t (s since the run started)", { min: 0 }),
          y: axis("TTFT (ms)", { beginAtZero: true }),
        },
      }),
    }) : null;

    if (!Chart) showMessage("The chart library did not load: the table still works.");

    // ---- controls
    percentileSelect.addEventListener("change", function () { state.percentile = percentileSelect.value; renderCurves(); });
    scenarioSelect.addEventListener("change", function () { state.scenario = scenarioSelect.value; renderAll(); });
    metricSelect.addEventListener("change", function () { state.metric = metricSelect.value; syncStatSelect(); renderCurves(); });
    statSelect.addEventListener("change", function () { state.stat = statSelect.value; renderCurves(); });
    drillMetricSelect.addEventListener("change", function () { state.drillMetric = drillMetricSelect.value; if (state.drillData) renderDrillScatter(state.drillData); });
    drillClose.addEventListener("click", closeDrill);
    metricSelect.value = state.metric;
    statSelect.value = state.stat;

    function syncStatSelect() {
      var m = metricDef(state.metric);
      statSelect.disabled = m.kind === "run";
      statSelect.title = m.kind === "run" ? "one value per run" : "statistic over the run's requests";
    }
    syncStatSelect();

    // The schedule metrics (open loop) are offered only when a shown run has them; otherwise hidden and disabled,
    // and a chosen one falls back to TTFT.
    function syncMetricOptions(runs) {
      var changed = false;
      METRICS.forEach(function (m) {
        if (!m.schedule) return;
        var available = runs.some(function (r) { return hasStat(r, m.key); });
        var option = metricSelect.querySelector('option[value="' + m.key + '"]');
        if (option) { option.hidden = !available; option.disabled = !available; }
        if (!available && state.metric === m.key) { state.metric = METRICS[0].key; changed = true; }
      });
      if (changed) { metricSelect.value = state.metric; syncStatSelect(); }
    }

    function metricTitle() {
      var m = metricDef(state.metric);
      return m.label + (m.kind === "run" ? "" : " " + state.stat);
    }

    function showMessage(text) {
      message.textContent = text || "";
      message.hidden = !text;
    }

    // ---- loading
    function loadExperiment(id) {
      var summary = summaryOf(id);
      if (!state.loaded[id] || (summary && summary.live)) {
        state.loaded[id] = source.experiment(id).then(function (answer) {
          state.data[id] = answer;
          return answer;
        }, function (err) {
          delete state.loaded[id];
          throw err;
        });
      }
      return state.loaded[id];
    }

    function summaryOf(id) {
      for (var i = 0; i < state.list.length; i++) if (state.list[i].id === id) return state.list[i];
      return null;
    }

    function refresh(selection) {
      return source.experiments().then(function (answer) {
        if (state.destroyed) return;
        var info = asList(answer);
        state.mode = info.mode;
        state.list = info.experiments.filter(function (s) { return s && s.id !== undefined && s.id !== null; });
        var ids = state.list.map(function (s) { return s.id; });
        var wanted = selection || options.select || "newest";
        var chosen;
        if (wanted === "all") chosen = ids.slice();
        else if (wanted === "newest") chosen = ids.slice(0, 1);
        else if (Array.isArray(wanted)) chosen = wanted.filter(function (id) { return ids.indexOf(id) >= 0; });
        else chosen = ids.indexOf(wanted) >= 0 ? [wanted] : ids.slice(0, 1);
        if (!chosen.length && ids.length && !Array.isArray(wanted)) chosen = ids.slice(0, 1);
        state.selected = chosen;
        renderPicker();
        return renderAll();
      }, function (err) {
        setText(headNote(), "could not list the experiments");
        showMessage("Could not load the experiments: " + errorText(err));
        throw err;
      });
    }

    function headNote() { return headTop.querySelector(".panel-note"); }

    // ---- picker
    function renderPicker() {
      var frag = document.createDocumentFragment();
      state.list.forEach(function (s, i) {
        var row = el("label", { className: "rv-pick" });
        var box = el("input", { type: "checkbox", value: String(s.id), "data-id": String(s.id) });
        box.checked = state.selected.indexOf(s.id) >= 0;
        box.addEventListener("change", function () {
          var next = state.list.map(function (x) { return x.id; }).filter(function (id) {
            var input = pickerList.querySelector('input[data-id="' + cssEscape(String(id)) + '"]');
            return input && input.checked;
          });
          state.selected = next;
          renderAll();
        });
        var swatch = el("span", { className: "rv-swatch", "aria-hidden": "true" });
        var text = el("span", { className: "rv-pick-text" });
        text.appendChild(el("span", { className: "rv-pick-name" }, s.name || s.id));
        var meta = [];
        if (s.model) meta.push(s.model);
        if (s.server_engine || s.server_version) meta.push([s.server_engine, s.server_version].filter(Boolean).join(" "));
        if (isNum(s.start_time)) meta.push(fmtDate(s.start_time));
        if (isNum(s.run_count)) meta.push(plural(s.run_count, "run"));
        text.appendChild(el("span", { className: "rv-pick-meta" }, meta.join(" · ")));
        row.append(box, swatch, text);
        if (s.live) row.appendChild(el("span", { className: "rv-badge rv-badge-live" }, "live"));
        if (s.partial) row.appendChild(el("span", { className: "rv-badge rv-badge-partial", title: (s.partial_reasons || []).join("\n") }, "partial"));
        frag.appendChild(row);
      });
      pickerList.replaceChildren(frag);
      setText(picker.querySelector("legend"), state.list.length > 1 ? "Experiments (tick several to compare)" : "Experiment");
      setText(headNote(), state.list.length ? plural(state.list.length, "experiment") : "no experiment found");
      if (!state.list.length) showMessage("No experiment to show.");
    }

    function cssEscape(s) {
      return window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, "\\$&");
    }

    function updateSwatches() {
      Array.prototype.forEach.call(pickerList.querySelectorAll(".rv-pick"), function (row) {
        var id = row.querySelector("input").getAttribute("data-id");
        var i = state.selected.map(String).indexOf(id);
        var swatch = row.querySelector(".rv-swatch");
        swatch.style.background = i >= 0 && state.selected.length > 1 ? PALETTE[i % PALETTE.length] : "transparent";
        row.classList.toggle("is-selected", i >= 0);
      });
    }

    // ---- main render
    function selectedExperiments() {
      return state.selected.map(function (id) { return state.data[id]; }).filter(Boolean);
    }

    function renderAll() {
      var seq = ++state.renderSeq;
      updateSwatches();
      if (!state.selected.length) {
        showMessage(state.list.length ? "Tick an experiment to see its results." : "No experiment to show.");
      }
      return Promise.all(state.selected.map(function (id) {
        return loadExperiment(id).catch(function (err) { return { error: err, id: id }; });
      })).then(function (answers) {
        if (seq !== state.renderSeq || state.destroyed) return;
        var failed = answers.filter(function (a) { return a && a.error; });
        if (failed.length) showMessage("Could not load " + failed.map(function (a) { return a.id; }).join(", ") + ": " + errorText(failed[0].error));
        else if (state.selected.length) showMessage("");
        renderScenarioSelect();
        renderCards();
        renderCurves();
        renderTable();
        if (state.drill && state.selected.indexOf(state.drill.id) < 0) closeDrill();
        if (options.onSelection) {
          try { options.onSelection(selectedExperiments().map(function (e) { return e.summary; })); } catch (e) { /* ignore */ }
        }
        root.setAttribute("data-ready", "true");
      });
    }

    function scenariosOf(exp) {
      var seen = [];
      (exp.runs || []).forEach(function (r) { if (seen.indexOf(r.scenario) < 0) seen.push(r.scenario); });
      return seen;
    }

    function renderScenarioSelect() {
      var all = [];
      selectedExperiments().forEach(function (e) { scenariosOf(e).forEach(function (s) { if (all.indexOf(s) < 0) all.push(s); }); });
      if (state.scenario && all.indexOf(state.scenario) < 0) state.scenario = "";
      var frag = document.createDocumentFragment();
      frag.appendChild(el("option", { value: "" }, all.length > 1 ? "all scenarios (" + all.length + ")" : "all scenarios"));
      all.forEach(function (s) { frag.appendChild(el("option", { value: String(s) }, String(s))); });
      scenarioSelect.replaceChildren(frag);
      scenarioSelect.value = state.scenario;
      scenarioSelect.disabled = all.length < 2;
    }

    // ---- experiment cards: facts, partial marker and reasons, downloads, replay
    function renderCards() {
      var frag = document.createDocumentFragment();
      var compare = state.selected.length > 1;
      selectedExperiments().forEach(function (exp, i) {
        var s = exp.summary || {};
        var card = el("article", { className: "panel rv-card" + (s.partial ? " is-partial" : ""), "data-id": String(s.id) });
        if (compare) card.style.borderLeftColor = PALETTE[i % PALETTE.length];
        var title = el("div", { className: "rv-card-title" });
        title.appendChild(el("h3", null, s.name || s.id));
        if (s.live) title.appendChild(el("span", { className: "rv-badge rv-badge-live" }, "live"));
        if (s.partial) title.appendChild(el("span", { className: "rv-badge rv-badge-partial rv-partial-marker" }, "partial"));
        card.appendChild(title);
        var facts = el("dl", { className: "rv-facts" });
        function fact(label, value) {
          if (value === null || value === undefined || value === "") return;
          var div = el("div");
          div.append(el("dt", null, label), el("dd", null, value));
          facts.appendChild(div);
        }
        fact("Model", s.model);
        fact("Backend", s.api_backend);
        fact("Server", [s.server_engine, s.server_version].filter(Boolean).join(" "));
        fact("Started", fmtDate(s.start_time));
        fact("Duration", isNum(s.start_time) && isNum(s.end_time) ? fmtDuration(s.end_time - s.start_time) : "");
        fact("Runs", isNum(s.run_count) ? String(s.run_count) : String((exp.runs || []).length));
        fact("Folder", s.folder);
        card.appendChild(facts);
        if (s.partial) {
          var note = el("div", { className: "rv-partial-note", role: "note" });
          note.appendChild(el("strong", null, "Partial experiment: showing what it measured."));
          var reasons = Array.isArray(s.partial_reasons) ? s.partial_reasons : [];
          if (reasons.length) {
            var ul = el("ul", { className: "rv-reasons" });
            reasons.forEach(function (r) { ul.appendChild(el("li", null, r)); });
            note.appendChild(ul);
          }
          card.appendChild(note);
        }
        var actions = el("div", { className: "rv-actions" });
        if (source.served && source.downloadUrl) {
          var dl = el("span", { className: "rv-downloads" });
          dl.appendChild(el("span", { className: "rv-actions-label" }, "Download"));
          ["html", "csv", "json"].forEach(function (format) {
            var a = el("a", {
              className: "rv-button rv-download", href: source.downloadUrl(s.id, format),
              download: true, "data-format": format,
            }, format.toUpperCase());
            dl.appendChild(a);
          });
          actions.appendChild(dl);
        }
        if (source.served && source.replay && s.has_events && !s.live) {
          var rp = el("span", { className: "rv-replay" });
          var speed = el("select", { className: "rv-speed", "aria-label": "Replay speed" });
          SPEEDS.forEach(function (v) { speed.appendChild(el("option", { value: String(v) }, v + "×")); });
          speed.value = "10";
          var button = el("button", { type: "button", className: "rv-button rv-replay-button" }, "Replay");
          var status = el("span", { className: "rv-replay-status", role: "status" });
          button.addEventListener("click", function () {
            var v = Number(speed.value);
            button.disabled = true;
            status.textContent = "starting…";
            source.replay(s.id, v).then(function (answer) {
              button.disabled = false;
              status.textContent = "";
              if (options.onReplay) options.onReplay(s, v, answer);
            }, function (err) {
              button.disabled = false;
              status.textContent = "Replay failed: " + errorText(err);
            });
          });
          rp.append(el("span", { className: "rv-actions-label" }, "Replay the event log"), speed, button, status);
          actions.appendChild(rp);
        }
        if (actions.childNodes.length) card.appendChild(actions);
        frag.appendChild(card);
      });
      cards.replaceChildren(frag);
    }

    // ---- curves
    function seriesList() {
      // One series per (selected experiment, scenario): its runs sorted by concurrency.
      var list = [];
      var compare = state.selected.length > 1;
      var exps = selectedExperiments();
      var shown = displayNames(exps.map(function (e) { return (e.summary || {}).name || (e.summary || {}).id; }));
      exps.forEach(function (exp, ei) {
        var s = exp.summary || {};
        var name = s.name || s.id;
        scenariosOf(exp).forEach(function (scenario, si) {
          if (state.scenario && scenario !== state.scenario) return;
          var runs = (exp.runs || []).filter(function (r) { return r.scenario === scenario; })
            .sort(byLoad);
          list.push({
            id: s.id, name: name, scenario: scenario, runs: runs,
            color: PALETTE[(compare ? ei : si) % PALETTE.length],
            dash: compare ? DASHES[si % DASHES.length] : [],
            pointStyle: compare ? POINT_STYLES[si % POINT_STYLES.length] : "circle",
            label: compare ? shown[ei] + " / " + scenario : scenario,
          });
        });
      });
      return list;
    }

    function curveDatasets(list, xOf, yOf) {
      return list.map(function (series) {
        var points = [];
        series.runs.forEach(function (run) {
          var x = xOf(run), y = yOf(run);
          if (!isNum(x) || !isNum(y)) return;
          points.push({
            x: x, y: y, concurrency: run.concurrency, request_rate: C.runRate(run), scenario: series.scenario, experiment: series.name,
            expId: series.id, key: run.key, partial: !!run.partial,
          });
        });
        return {
          label: series.label, data: points, showLine: true, tension: 0,
          borderColor: series.color, backgroundColor: series.color, borderWidth: 1.6, borderDash: series.dash,
          pointStyle: series.pointStyle, pointRadius: 4, pointHoverRadius: 7,
          $experiment: series.id, $scenario: series.scenario,
        };
      });
    }

    function setDatasets(chart, datasets) {
      if (!chart) return;
      chart.data.datasets = datasets;
      chart.update("none");
    }

    function renderCurves() {
      var list = seriesList();
      var p = state.percentile;
      var ms = function (metric) { return function (run) { var v = statOf(run, metric, p); return v === null ? null : v * 1000; }; };
      var otps = function (run) { return aggOf(run, "output_tokens_per_second"); };
      var rps = function (run) { return aggOf(run, "requests_per_second"); };
      // Open loop (every shown run has an arrival rate): the load axis is the request rate, not the concurrency.
      var shownRuns = [];
      list.forEach(function (s) { shownRuns = shownRuns.concat(s.runs); });
      var openLoop = shownRuns.length > 0 && shownRuns.every(function (r) { return C.runRate(r) !== null; });
      var conc = openLoop ? loadOf : function (run) { return run.concurrency; };
      var concurrencies = shownRuns.map(conc);
      var loadName = openLoop ? "request rate" : "concurrency";
      var loadAxisTitle = openLoop ? "request rate (req/s)" : "concurrency";
      syncMetricOptions(shownRuns);

      setText(curveTitles.ttft, "TTFT " + p + " vs output tokens/s");
      setText(curveTitles.tpot, "TPOT " + p + " vs output tokens/s");
      setText(curveTitles.e2e, "E2E latency " + p + " vs requests/s");
      var m = metricDef(state.metric);
      setText(curveTitles.errors, "Error rate vs " + loadName);
      setText(curveTitles.metric, metricTitle() + " vs " + loadName);
      if (canvases.errors) canvases.errors.setAttribute("aria-label", "Error rate against " + loadName);
      if (canvases.metric) canvases.metric.setAttribute("aria-label", "Chosen metric against " + loadName);

      if (charts.ttft) charts.ttft.options.scales.y.title.text = "TTFT " + p + " (ms)";
      if (charts.tpot) charts.tpot.options.scales.y.title.text = "TPOT " + p + " (ms)";
      if (charts.e2e) charts.e2e.options.scales.y.title.text = "E2E " + p + " (ms)";
      if (charts.errors) charts.errors.options.scales.x = concurrencyAxis(concurrencies, loadAxisTitle);
      if (charts.metric) {
        charts.metric.options.scales.x = concurrencyAxis(concurrencies, loadAxisTitle);
        charts.metric.options.scales.y.title.text = metricTitle() + " (" + m.unit + ")";
      }
      setDatasets(charts.ttft, curveDatasets(list, otps, ms("ttft")));
      setDatasets(charts.tpot, curveDatasets(list, otps, ms("tpot")));
      setDatasets(charts.e2e, curveDatasets(list, rps, ms("e2e_latency")));
      setDatasets(charts.errors, curveDatasets(list, conc, function (run) { var v = aggOf(run, "error_rate"); return v === null ? null : v * 100; }));
      setDatasets(charts.metric, curveDatasets(list, conc, function (run) { return metricValue(run, m, state.stat); }));
    }

    // ---- table
    var COLUMNS = [
      { key: "experiment", label: "Experiment", text: true, get: function (r) { return r.$name; } },
      { key: "scenario", label: "Scenario", text: true, get: function (r) { return r.scenario; } },
      { key: "concurrency", label: "Concurrency", get: function (r) { return r.concurrency; }, fmt: String },
      // Open-loop runs only: shown when some shown run has an arrival rate.
      { key: "request_rate", label: "Rate", unit: "req/s", showUnit: true, optional: true, get: function (r) { return C.runRate(r); },
        fmt: C.fmtRequestRate, exact: function (v) { return fmtExact(v, "req/s"); } },
      { key: "requests", label: "Requests", get: function (r) { var v = aggOf(r, "num_requests"); return v === null ? aggOf(r, "num_completed") : v; }, fmt: String },
      { key: "errors", label: "Errors", get: function (r) { return aggOf(r, "num_errors"); }, fmt: String },
      { key: "error_rate", label: "Error rate", unit: "%", showUnit: true, get: function (r) { return aggOf(r, "error_rate"); }, fmt: fmtPercent, exact: function (v) { return fmtExact(v * 100, "%"); } },
      latencyColumn("ttft_p50", "TTFT p50", "ttft", "p50"),
      latencyColumn("ttft_p90", "TTFT p90", "ttft", "p90"),
      latencyColumn("ttft_p99", "TTFT p99", "ttft", "p99"),
      latencyColumn("tpot_p50", "TPOT p50", "tpot", "p50"),
      latencyColumn("tpot_p99", "TPOT p99", "tpot", "p99"),
      latencyColumn("itl_p50", "ITL p50", "itl", "p50"),
      latencyColumn("e2e_p50", "E2E p50", "e2e_latency", "p50"),
      latencyColumn("e2e_p99", "E2E p99", "e2e_latency", "p99"),
      { key: "output_tps", label: "Output tok/s", get: function (r) { return aggOf(r, "output_tokens_per_second"); }, fmt: fmtRate, exact: function (v) { return fmtExact(v, "tok/s"); } },
      { key: "rps", label: "Req/s", get: function (r) { return aggOf(r, "requests_per_second"); }, fmt: fmtRate, exact: function (v) { return fmtExact(v, "req/s"); } },
    ];

    function latencyColumn(key, label, metric, stat) {
      return {
        key: key, label: label, unit: "ms",
        get: function (r) { return statOf(r, metric, stat); },
        fmt: fmtMs,
        exact: function (v) { return fmtExact(v * 1000, "ms"); },
      };
    }

    // The columns to show for these rows: optional ones (the rate) only when some row has a value.
    function shownColumns(rows) {
      return COLUMNS.filter(function (col) {
        if (!col.optional) return true;
        return rows.some(function (r) { var v = col.get(r); return v !== null && v !== undefined; });
      });
    }

    function renderTableHead(columns) {
      var tr = el("tr");
      columns.forEach(function (col) {
        var th = el("th", { scope: "col", className: col.text ? "" : "num", "data-col": col.key });
        var sorted = state.sort && state.sort.key === col.key;
        th.setAttribute("aria-sort", sorted ? (state.sort.dir > 0 ? "ascending" : "descending") : "none");
        var button = el("button", { type: "button", className: "rv-sort", "data-col": col.key, title: "Sort by " + col.label });
        button.appendChild(document.createTextNode(col.label));
        if (col.unit === "ms" || col.showUnit) button.appendChild(el("span", { className: "unit" }, col.unit));
        button.appendChild(el("span", { className: "rv-sort-mark", "aria-hidden": "true" }, sorted ? (state.sort.dir > 0 ? "▲" : "▼") : ""));
        button.addEventListener("click", function () {
          if (state.sort && state.sort.key === col.key) state.sort = { key: col.key, dir: -state.sort.dir };
          else state.sort = { key: col.key, dir: 1 };
          renderTable();
        });
        th.appendChild(button);
        tr.appendChild(th);
      });
      thead.replaceChildren(tr);
    }

    function tableRows() {
      var rows = [];
      var exps = selectedExperiments();
      var shown = displayNames(exps.map(function (e) { return (e.summary || {}).name || (e.summary || {}).id; }));
      exps.forEach(function (exp, ei) {
        var s = exp.summary || {};
        (exp.runs || []).forEach(function (run, ri) {
          if (state.scenario && run.scenario !== state.scenario) return;
          rows.push(Object.assign({}, run, { $id: s.id, $name: s.name || s.id, $short: shown[ei], $order: ei * 100000 + ri, $exp: ei }));
        });
      });
      if (state.sort) {
        var col = COLUMNS.filter(function (c) { return c.key === state.sort.key; })[0];
        var dir = state.sort.dir;
        rows.sort(function (a, b) {
          var va = col.get(a), vb = col.get(b);
          var na = va === null || va === undefined, nb = vb === null || vb === undefined;
          if (na || nb) return na === nb ? a.$order - b.$order : na ? 1 : -1;   // no value: always last
          var c = col.text ? String(va).localeCompare(String(vb), undefined, { numeric: true }) : va - vb;
          return c !== 0 ? c * dir : a.$order - b.$order;
        });
      }
      return rows;
    }

    function renderTable() {
      var rows = tableRows();
      var columns = shownColumns(rows);
      renderTableHead(columns);
      var compare = state.selected.length > 1;
      var frag = document.createDocumentFragment();
      rows.forEach(function (run) {
        var tr = el("tr", { tabindex: "0", "data-exp": String(run.$id), "data-key": String(run.key), "aria-label": "Details of " + run.scenario + " at " + C.runLoadText(run) });
        if (run.partial) tr.classList.add("partial");
        if (state.drill && state.drill.id === run.$id && state.drill.key === run.key) tr.classList.add("is-open");
        columns.forEach(function (col) {
          var v = col.get(run);
          var td = el("td", { className: col.text ? (col.key === "scenario" ? "scenario" : "rv-exp") : "num", "data-col": col.key });
          if (col.text) {
            td.textContent = v === null || v === undefined ? "—" : String(v);
            if (col.key === "experiment") {
              td.textContent = run.$short;
              td.title = String(v);
              if (compare) td.style.boxShadow = "inset 3px 0 0 " + PALETTE[run.$exp % PALETTE.length];
            }
          } else {
            td.textContent = v === null || v === undefined ? "—" : col.fmt(v);
            if (isNum(v)) {
              td.setAttribute("data-value", String(v));
              if (col.exact) td.title = col.exact(v);
            }
          }
          if (col.key === "errors" && isNum(v) && v > 0) td.classList.add("has-errors");
          tr.appendChild(td);
        });
        tr.addEventListener("click", function () { openRun(run.$id, run.key); });
        tr.addEventListener("keydown", function (e) {
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openRun(run.$id, run.key); }
        });
        frag.appendChild(tr);
      });
      tbody.replaceChildren(frag);
      tableEmpty.hidden = rows.length > 0;
      var total = rows.length;
      setText(tableNote, plural(total, "run") + " · click a column to sort, a row for details");
    }

    // ---- drill-down
    function findRun(id, key) {
      var exp = state.data[id];
      if (!exp) return null;
      for (var i = 0; i < (exp.runs || []).length; i++) if (exp.runs[i].key === key) return { exp: exp, run: exp.runs[i] };
      return null;
    }

    function openRun(id, key) {
      var found = findRun(id, key);
      if (!found) return Promise.resolve(false);
      var seq = ++state.drillSeq;
      state.drill = { id: id, key: key };
      state.drillData = null;
      Array.prototype.forEach.call(tbody.rows, function (tr) {
        tr.classList.toggle("is-open", tr.getAttribute("data-exp") === String(id) && tr.getAttribute("data-key") === String(key));
      });
      var s = found.exp.summary || {};
      var run = found.run;
      var agg = run.aggregated || {};
      drill.hidden = false;
      drill.removeAttribute("data-loaded");
      drillTitle.textContent = run.scenario + " · " + C.runLoadText(run) + (C.runRate(run) !== null ? " (≤" + run.concurrency + " in flight)" : "");
      drillNote.textContent = (s.name || s.id) + (run.partial ? " · partial run" : "");
      var facts = document.createDocumentFragment();
      function fact(label, value) {
        var div = el("div");
        div.append(el("dt", null, label), el("dd", null, value));
        facts.appendChild(div);
      }
      fact("Requests", isNum(agg.num_requests) ? String(agg.num_requests) : "—");
      fact("Errors", (isNum(agg.num_errors) ? String(agg.num_errors) : "—") + (isNum(agg.error_rate) ? " (" + fmtPercent(agg.error_rate) + " %)" : ""));
      var codes = agg.error_codes_frequency && typeof agg.error_codes_frequency === "object" ? agg.error_codes_frequency : {};
      var codeText = Object.keys(codes).map(function (c) { return c + ": " + codes[c]; }).join(", ");
      if (codeText) fact("Error codes", codeText);
      fact("Duration", isNum(agg.run_duration) ? fmtExact(agg.run_duration, "s") : "—");
      fact("Output tokens/s", fmtRate(agg.output_tokens_per_second));
      fact("Requests/s", fmtRate(agg.requests_per_second));
      if (C.runRate(run) !== null) fact("Arrival rate", fmtExact(C.runRate(run), "req/s") + " · ≤" + run.concurrency + " in flight");
      if (hasStat(run, "schedule_lag")) fact("Schedule lag p50 / p99", fmtMs(statOf(run, "schedule_lag", "p50")) + " / " + fmtMs(statOf(run, "schedule_lag", "p99")) + " ms");
      fact("TTFT p50 / p99", fmtMs(statOf(run, "ttft", "p50")) + " / " + fmtMs(statOf(run, "ttft", "p99")) + " ms");
      fact("E2E p50 / p99", fmtMs(statOf(run, "e2e_latency", "p50")) + " / " + fmtMs(statOf(run, "e2e_latency", "p99")) + " ms");
      if (agg.tokens_estimated) fact("Tokens", "estimated");
      drillFacts.replaceChildren(facts);
      drillMessage.hidden = false;
      drillMessage.textContent = "Loading the run's requests…";
      clearDrillCharts();
      if (options.scrollIntoView !== false && drill.scrollIntoView) {
        try { drill.scrollIntoView({ block: "nearest" }); } catch (e) { /* ignore */ }
      }
      return Promise.resolve().then(function () { return source.requests(id, key); }).then(function (answer) {
        if (seq !== state.drillSeq || state.destroyed) return false;
        answer = answer || {};
        state.drillData = answer;
        var n = Array.isArray(answer.requests) ? answer.requests.length : 0;
        var text = "";
        if (answer.sampled) text = "Showing " + n + " of " + answer.total + " requests (evenly sampled); the histograms count all of them.";
        drillMessage.textContent = text;
        drillMessage.hidden = !text;
        var h = answer.histograms || {};
        setHistogram(charts.drillHist.ttft, h.ttft);
        setHistogram(charts.drillHist.tpot, h.tpot);
        setHistogram(charts.drillHist.e2e, h.e2e_latency);
        renderDrillScatter(answer);
        drill.setAttribute("data-loaded", "true");
        return true;
      }, function (err) {
        if (seq !== state.drillSeq) return false;
        drillMessage.hidden = false;
        drillMessage.textContent = "Per-request data is not available: " + errorText(err) + (options.requestsHint ? " " + options.requestsHint : "");
        drill.setAttribute("data-loaded", "error");
        return false;
      });
    }

    function clearDrillCharts() {
      ["ttft", "tpot", "e2e"].forEach(function (k) {
        var c = charts.drillHist[k];
        if (!c) return;
        C.clearHistogram(c);
        c.update("none");
      });
      setDatasets(charts.drillScatter, []);
    }

    // An invalid histogram empties the chart.
    function setHistogram(chart, h) {
      if (!chart) return;
      if (!C.setHistogramData(chart, h)) C.clearHistogram(chart);
      chart.update("none");
    }

    function renderDrillScatter(answer) {
      var chart = charts.drillScatter;
      if (!chart) return;
      var metric = state.drillMetric;
      var names = { ttft: "TTFT", e2e_latency: "E2E latency", tpot: "TPOT" };
      var ok = [], bad = [];
      (answer.requests || []).forEach(function (r) {
        if (!r || !isNum(r.t)) return;
        var isError = r.error_code !== null && r.error_code !== undefined;
        var v = isNum(r[metric]) ? r[metric] * 1000 : null;
        var point = {
          x: r.t, y: v, error_code: isError ? r.error_code : null,
          ttft: isNum(r.ttft) ? r.ttft * 1000 : null, tpot: isNum(r.tpot) ? r.tpot * 1000 : null,
          e2e: isNum(r.e2e_latency) ? r.e2e_latency * 1000 : null, output_tokens: r.output_tokens,
        };
        if (isError) {
          // A failed request often has no TTFT: it is drawn at its end-to-end time (or on the axis).
          if (point.y === null) point.y = point.e2e !== null ? point.e2e : 0;
          bad.push(point);
        } else if (point.y !== null) {
          ok.push(point);
        } else {
          point.y = 0;
          ok.push(point);
        }
      });
      chart.options.scales.y.title.text = names[metric] + " (ms)";
      chart.data.datasets = [
        { label: "requests (" + ok.length + ")", data: ok, backgroundColor: "rgba(88, 166, 255, 0.7)", borderColor: COLORS.blue, pointRadius: 3, pointHoverRadius: 5 },
        { label: "errors (" + bad.length + ")", data: bad, backgroundColor: COLORS.red, borderColor: COLORS.red, pointStyle: "crossRot", pointRadius: 5, pointHoverRadius: 7, borderWidth: 2 },
      ];
      chart.update("none");
    }

    function closeDrill() {
      state.drill = null;
      state.drillData = null;
      state.drillSeq++;
      drill.hidden = true;
      Array.prototype.forEach.call(tbody.rows, function (tr) { tr.classList.remove("is-open"); });
    }

    function resize() {
      [charts.ttft, charts.tpot, charts.e2e, charts.errors, charts.metric, charts.drillScatter,
        charts.drillHist.ttft, charts.drillHist.tpot, charts.drillHist.e2e].forEach(function (c) { if (c) c.resize(); });
    }

    function destroy() {
      state.destroyed = true;
      [charts.ttft, charts.tpot, charts.e2e, charts.errors, charts.metric, charts.drillScatter,
        charts.drillHist.ttft, charts.drillHist.tpot, charts.drillHist.e2e].forEach(function (c) { if (c) c.destroy(); });
      root.replaceChildren();
      root.removeAttribute("data-ready");
    }

    var controller = {
      source: source,
      state: state,
      charts: charts,
      ready: null,
      refresh: function (selection) { return refresh(selection); },
      select: function (ids) {
        state.selected = ids.filter(function (id) { return !!summaryOf(id); });
        renderPicker();
        return renderAll();
      },
      openRun: openRun,
      closeRun: closeDrill,
      resize: resize,
      destroy: destroy,
      // For tests and debugging.
      curvePointCounts: function (name) {
        var c = charts[name || "ttft"];
        return c ? c.data.datasets.map(function (d) { return d.data.length; }) : [];
      },
      scatterPointCount: function () {
        var c = charts.drillScatter;
        return c ? c.data.datasets.reduce(function (n, d) { return n + d.data.length; }, 0) : 0;
      },
    };
    controller.ready = refresh(null).catch(function () { /* message already shown */ });
    GenaiResults.current = controller;
    return controller;
  }

  // ---------------------------------------------------------------- the served page (templates/index.html)
  // Hooks: dashboard.js fires "genai:benchmark-completed" and "genai:replay-started" on document.
  function initPage() {
    var view = document.getElementById("results-view");
    var root = document.getElementById("results-root");
    var live = document.getElementById("live-view");
    var tabs = document.getElementById("view-tabs");
    if (!view || !root || !live || !tabs) return;
    var tabLive = document.getElementById("tab-live");
    var tabResults = document.getElementById("tab-results");
    var api = apiSource();
    var controller = null;
    var mode = null;
    var completedHandled = false;

    function showView(name) {
      var results = name === "results" && !!controller;
      view.hidden = !results;
      live.hidden = results;
      document.body.classList.toggle("view-results", results);
      document.body.classList.toggle("view-live", !results);
      tabLive.setAttribute("aria-selected", results ? "false" : "true");
      if (!results) tabLive.classList.remove("has-news");
      tabResults.setAttribute("aria-selected", results ? "true" : "false");
      if (results && controller) controller.resize();
      if (!results && window.genaiDashboard && window.genaiDashboard.resize) window.genaiDashboard.resize();
    }

    function useController(src, select, opts) {
      if (controller && controller.source === src) {
        controller.refresh(select);
      } else {
        if (controller) controller.destroy();
        controller = mount(root, src, Object.assign({ select: select, onReplay: onReplay, onSelection: onSelection }, opts || {}));
      }
      window.genaiResultsView = controller;
      tabs.hidden = false;
      tabResults.disabled = false;
      return controller;
    }

    function onReplay(summary, speed) {
      showView("live");
      try { window.scrollTo(0, 0); } catch (e) { /* ignore */ }
    }

    function onSelection(summaries) {
      if (mode !== "serve") return;
      var models = [];
      summaries.forEach(function (s) { if (s && s.model && models.indexOf(s.model) < 0) models.push(String(s.model)); });
      var node = document.getElementById("model-name");
      if (node && models.length && !(window.genaiDashboard && window.genaiDashboard.model.replaying)) node.textContent = models.join(", ");
    }

    tabLive.addEventListener("click", function () { showView("live"); });
    tabResults.addEventListener("click", function () { if (controller) showView("results"); });

    // A benchmark that just finished: its experiment from the API, or, when the server has gone, from the events
    // this page already received (so the view never goes blank).
    function completed(detail) {
      detail = detail || {};
      if (detail.replay) {
        if (controller) { tabs.hidden = false; }
        return;
      }
      if (completedHandled) return;
      completedHandled = true;
      var folder = detail.experiment_folder ? String(detail.experiment_folder) : null;
      api.experiments().then(function (info) {
        if (info.mode === "serve") return null;   // finished experiments: the serve-mode start below shows them
        var list = info.experiments;
        var match = list.filter(function (s) { return folder && s.folder === folder; })[0]
          || list.filter(function (s) { return s.live; })[0] || list[0];
        if (!match) throw new Error("no experiment listed");
        return api.experiment(match.id).then(function () { return match.id; });
      }).then(function (id) {
        if (id === null) return;
        useController(api, [id], {
          requestsHint: folder ? "Reopen the results with: genai-bench serve --experiment-folder " + folder : "",
        });
        showView("results");
      }, function () {
        useController(eventsSource(detail), "all", {
          requestsHint: "The dashboard server has stopped; reopen the results with: genai-bench serve --experiment-folder " + (folder || "<folder>"),
        });
        showView("results");
      });
    }

    document.addEventListener("genai:benchmark-completed", function (e) { completed(e.detail); });
    // A replay started elsewhere (another tab) only flags the Live tab; this page's own Replay button switches.
    document.addEventListener("genai:replay-started", function () {
      if (document.body.classList.contains("view-results")) tabLive.classList.add("has-news");
    });

    var dash = window.genaiDashboard;
    if (dash && dash.model && dash.model.completed && !dash.model.replaying) completed(dash.model.completed);

    api.experiments().then(function (info) {
      mode = info.mode;
      document.body.setAttribute("data-mode", mode || "live");
      if (mode !== "serve") return;
      tabLive.textContent = "Live / replay";
      useController(api, "newest");
      var replaying = api.replayStatus ? api.replayStatus().then(function (r) { return !!(r && r.replaying); }, function () { return false; }) : Promise.resolve(false);
      replaying.then(function (busy) { showView(busy ? "live" : "results"); });
    }, function () { /* no results API: the live page alone */ });
  }

  // The runs a live page received, as a source (used when the server has stopped right after the benchmark).
  function eventsSource(detail) {
    var dash = window.genaiDashboard || { model: {} };
    var m = dash.model || {};
    var status = m.status || {};
    var folder = detail && detail.experiment_folder ? String(detail.experiment_folder) : (m.experimentFolder || "");
    var name = folder ? baseName(folder) : "this benchmark";
    var runs = (m.runs || []).map(function (r) {
      var rate = C.runRate(r);
      return { key: String(r.scenario) + "@" + String(r.concurrency) + (rate !== null ? "@" + rate : ""), scenario: r.scenario, concurrency: r.concurrency, partial: !!r.partial, aggregated: r };
    }).sort(function (a, b) { return String(a.scenario).localeCompare(String(b.scenario)) || byLoad(a, b); });
    var final = detail && detail.status ? String(detail.status) : "completed";
    var reasons = [];
    if (final !== "completed") reasons.push("the benchmark " + final + " before the end of the sweep");
    var scenarios = [];
    var concurrencies = [];
    runs.forEach(function (r) {
      if (scenarios.indexOf(r.scenario) < 0) scenarios.push(r.scenario);
      if (concurrencies.indexOf(r.concurrency) < 0) concurrencies.push(r.concurrency);
    });
    var summary = {
      id: name, name: name, folder: folder || null, live: false, partial: reasons.length > 0, partial_reasons: reasons,
      model: status.model || null, api_backend: null, traffic_scenario: scenarios, num_concurrency: concurrencies,
      start_time: isNum(status.start_time) ? status.start_time : null, end_time: null, run_count: runs.length, has_events: false,
    };
    return embeddedSource({ experiments: [{ summary: summary, metadata: {}, runs: runs, requests: {}, requests_note: "this page only received the run summaries" }] }, "events");
  }

  var GenaiResults = {
    mount: mount,
    apiSource: apiSource,
    embeddedSource: embeddedSource,
    embeddedSourceFromElement: embeddedSourceFromElement,
    current: null,
  };
  window.GenaiResults = GenaiResults;

  // The served page wires itself up; the report calls mount() itself (its body has data-page="report").
  var boot = function () { if (document.body && document.body.getAttribute("data-page") !== "report") initPage(); };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
