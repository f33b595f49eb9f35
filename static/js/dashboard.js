/* genai-bench live dashboard.
 *
 * Data flow (docs/events.md): GET api/state renders everything known so far (charts, table, log), then
 * EventSource(events?last_event_id=N) applies every later envelope by event_type. Nothing from the server is
 * ever inserted as HTML: all text goes through textContent. Needs common.js (window.GenaiCommon) loaded first.
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------- settings
  var MAX_POINTS = 2000;            // points kept per time-series dataset
  var MAX_LOG_LINES = 200;          // lines kept in the log panel
  var CLOSED_AFTER_MS = 10000;      // reconnect failures for this long => "closed"
  var STALE_STREAM_MS = 35000;      // no message (not even a heartbeat) for this long => reopen the stream
  var STATE_RETRY_MS = 1500;        // first api/state retry delay
  var FINAL_STATUSES = { completed: true, stopped: true, failed: true };

  // ---------------------------------------------------------------- shared helpers (common.js)
  var C = window.GenaiCommon;
  var COLORS = C.COLORS, PALETTE = C.PALETTE;
  var isNum = C.isNum, stat = C.stat, fmtNumber = C.fmtNumber, fmtMs = C.fmtMs, fmtRate = C.fmtRate,
    fmtPercent = C.fmtPercent, fmtDuration = C.fmtDuration, plural = C.plural, errorText = C.errorText,
    baseName = C.baseName, el = C.el, setText = C.setText, withToken = C.withToken;

  // ---------------------------------------------------------------- small helpers
  function $(id) { return document.getElementById(id); }

  function unwrap(obj) {
    // api/state may hold either the data objects or whole envelopes; accept both.
    if (obj && typeof obj === "object" && obj.event_type && obj.data && typeof obj.data === "object") return obj.data;
    return obj || null;
  }

  function liveMetricsOf(data) {
    data = unwrap(data);
    if (!data) return null;
    return data.live_metrics && typeof data.live_metrics === "object" ? data.live_metrics : data;
  }

  function ms(seconds) { return isNum(seconds) ? seconds * 1000 : null; }

  function fmtClock(unixSeconds) {
    if (!isNum(unixSeconds)) return "";
    var d = new Date(unixSeconds * 1000);
    return [d.getHours(), d.getMinutes(), d.getSeconds()].map(function (n) { return String(n).padStart(2, "0"); }).join(":");
  }

  function fmtAxisTime(seconds) {
    if (!isNum(seconds)) return "";
    var sign = seconds < 0 ? "-" : "";
    seconds = Math.abs(Math.round(seconds));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return sign + m + ":" + String(s).padStart(2, "0");
  }

  // ---------------------------------------------------------------- model
  var model = {
    status: null,          // latest status data
    progress: null,        // latest progress data
    runStarted: null,      // latest run_started data
    metrics: null,         // latest live_metrics
    lastEventId: 0,
    lastMessageAt: 0,
    t0: null,              // unix s that the x axes count from
    lastPointT: -Infinity, // newest time-series point already plotted
    runs: [],              // run_completed data, in arrival order
    scatter: {},           // "scenario|concurrency" -> point
    done: false,           // completed view shown
    experimentFolder: null,
    connection: "connecting",
    completed: null,       // benchmark_completed data once the sweep ended
    replaying: false,      // the live view shows a replayed event log (POST api/replay)
    replaySpeed: 1,
  };

  // ---------------------------------------------------------------- charts
  var charts = {};
  var dirty = new Set();
  var frameRequested = false;

  function requestDraw(chart) {
    if (!chart) return;
    dirty.add(chart);
    if (!frameRequested) {
      frameRequested = true;
      window.requestAnimationFrame(drawFrame);
    }
  }

  function drawFrame() {
    frameRequested = false;
    var pending = Array.from(dirty);
    dirty.clear();
    pending.forEach(function (chart) { chart.update("none"); });
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

  // Concurrency labels next to each scatter point.
  var pointLabelsPlugin = C.concurrencyLabelsPlugin("pointLabels", { font: "11px system-ui, sans-serif", dx: 6, dy: 4 });

  function lineDataset(label, color, extra) {
    var ds = {
      label: label, data: [], borderColor: color, backgroundColor: color,
      borderWidth: 1.6, pointRadius: 0, pointHoverRadius: 3, tension: 0, spanGaps: false,
    };
    return Object.assign(ds, extra || {});
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
        legend: { labels: { boxWidth: 12, boxHeight: 2, color: COLORS.text } },
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

  function bindScaleToggle() {
    var button = $("latency-scale");
    if (!button || !charts.latency) return;
    button.addEventListener("click", function () {
      var log = button.getAttribute("aria-pressed") !== "true";
      button.setAttribute("aria-pressed", log ? "true" : "false");
      charts.latency.options.scales.y = latencyAxis(log);
      charts.latency.update("none");
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
    if (!Chart) return false;
    C.applyChartDefaults(Chart);

    var latencyOptions = baseOptions("ms");
    latencyOptions.scales.y = latencyAxis(true);
    charts.latency = new Chart($("chart-latency"), {
      type: "line",
      data: { datasets: [
        lineDataset("TTFT p50", COLORS.blue),
        lineDataset("TTFT p99", COLORS.cyan, { borderDash: [5, 3] }),
        lineDataset("TPOT p50", COLORS.purple),
        lineDataset("E2E p50", COLORS.orange),
      ] },
      options: latencyOptions,
      plugins: [runMarkersPlugin],
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
      title: { display: true, text: "error rate %", color: COLORS.text },
      ticks: { color: COLORS.text }, grid: { drawOnChartArea: false },
    };
    charts.errors = new Chart($("chart-errors"), {
      type: "line",
      data: { datasets: [
        lineDataset("Errors", COLORS.red, { yAxisID: "y", stepped: true }),
        lineDataset("Error rate %", COLORS.yellow, { yAxisID: "y2", borderDash: [5, 3] }),
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
    return true;
  }

  // ---------------------------------------------------------------- time series
  var runMarks = [];

  function pushBounded(arr, item) {
    arr.push(item);
    if (arr.length > MAX_POINTS) arr.splice(0, arr.length - MAX_POINTS);
  }

  function trimMarks() {
    var first = charts.latency && charts.latency.data.datasets[0].data[0];
    if (!first) return;
    while (runMarks.length > 1 && runMarks[1].x <= first.x) runMarks.shift();
  }

  function addPoint(p) {
    // p: a docs/events.md timeseries point.
    if (model.done || !charts.latency || !p || !isNum(p.t)) return false;
    if (p.t <= model.lastPointT) return false;   // already plotted (replayed or snapshot event)
    model.lastPointT = p.t;
    // A replay runs `speed` times faster than the benchmark did: its x axis shows the original timeline.
    var speed = model.replaying && isNum(model.replaySpeed) && model.replaySpeed > 0 ? model.replaySpeed : 1;
    if (model.t0 === null) model.t0 = p.t - (isNum(p.elapsed) ? Math.max(0, p.elapsed) : 0) / speed;
    var x = (p.t - model.t0) * speed;
    var ctx = { scenario: p.scenario, concurrency: p.concurrency };

    var last = runMarks[runMarks.length - 1];
    if (!last || last.scenario !== p.scenario || last.concurrency !== p.concurrency) {
      runMarks.push({ x: x, scenario: p.scenario, concurrency: p.concurrency, label: C.runLoadLabel(p) });
    }

    function pt(y) { return { x: x, y: isNum(y) ? y : null, t: p.t, scenario: ctx.scenario, concurrency: ctx.concurrency }; }
    var lat = charts.latency.data.datasets;
    pushBounded(lat[0].data, pt(ms(p.ttft_p50)));
    pushBounded(lat[1].data, pt(ms(p.ttft_p99)));
    pushBounded(lat[2].data, pt(ms(p.tpot_p50)));
    pushBounded(lat[3].data, pt(ms(p.e2e_latency_p50)));
    var tp = charts.throughput.data.datasets;
    pushBounded(tp[0].data, pt(p.output_tokens_per_second));
    pushBounded(tp[1].data, pt(p.requests_per_second));
    var er = charts.errors.data.datasets;
    pushBounded(er[0].data, pt(p.errors));
    pushBounded(er[1].data, pt(isNum(p.error_rate) ? p.error_rate * 100 : null));
    trimMarks();
    return true;
  }

  function pointFromMetrics(live, timestamp) {
    var stats = live.stats || {};
    return {
      t: timestamp,
      elapsed: live.elapsed,
      scenario: live.scenario,
      concurrency: live.concurrency,
      ttft_p50: stat(stats, "ttft", "p50"),
      ttft_p99: stat(stats, "ttft", "p99"),
      tpot_p50: stat(stats, "tpot", "p50"),
      e2e_latency_p50: stat(stats, "e2e_latency", "p50"),
      e2e_latency_p99: stat(stats, "e2e_latency", "p99"),
      requests_per_second: live.requests_per_second,
      output_tokens_per_second: live.output_tokens_per_second,
      errors: live.errors,
      error_rate: live.error_rate,
    };
  }

  function redrawTimeSeries() {
    [charts.latency, charts.throughput, charts.errors].forEach(function (c) {
      if (!c) return;
      c.$runMarks = runMarks;
      requestDraw(c);
    });
  }

  // ---------------------------------------------------------------- header / status
  // The current run's load: its concurrency, or for an open-loop run its arrival rate (concurrency is then the cap).
  function showRunLoad(concurrency, requestRate) {
    if (concurrency === undefined || concurrency === null) return;
    var rate = C.runRate({ request_rate: requestRate });
    setText("current-concurrency", rate !== null ? "r=" + C.fmtRequestRate(rate) + "/s (≤" + concurrency + " in flight)"
      : String(concurrency));
  }

  function applyStatus(data) {
    data = unwrap(data);
    if (!data) return;
    model.status = Object.assign({}, model.status || {}, data);
    var s = model.status;
    var status = String(s.status || "idle");
    var badge = $("status-badge");
    var shown = model.replaying && status === "running" ? "replaying" : status;  // a replayed run says so
    setText(badge, shown);
    badge.className = "badge badge-" + (/^(idle|running|completed|failed|stopped|replaying)$/.test(shown) ? shown : "idle");
    badge.setAttribute("data-status", status);

    if (s.model) setText("model-name", String(s.model));
    if (s.experiment_folder) model.experimentFolder = String(s.experiment_folder);
    if (s.current_scenario || s.traffic_scenario) setText("current-scenario", String(s.current_scenario || s.traffic_scenario));
    showRunLoad(s.current_concurrency, s.current_request_rate);
    if (!model.progress && isNum(s.current_iteration) && isNum(s.total_iterations) && s.total_iterations > 0) {
      setText("run-counter", s.current_iteration + " / " + s.total_iterations);
    }
    if (isNum(s.progress_percentage)) setTotalProgress(s.progress_percentage);
    updateEta();
    if (FINAL_STATUSES[status]) enterDone(status, s.error_message);
  }

  // name: "run" or "total" (the #<name>-progress bar, its -fill and its -text).
  function setBar(name, pct) {
    pct = Math.max(0, Math.min(100, pct));
    $(name + "-progress-fill").style.width = pct.toFixed(1) + "%";
    $(name + "-progress").setAttribute("aria-valuenow", pct.toFixed(0));
    setText(name + "-progress-text", pct.toFixed(0) + "%");
  }

  var totalPct = 0;
  function setTotalProgress(pct) {
    if (!isNum(pct)) return;
    totalPct = pct;
    setBar("total", pct);
  }

  function applyRunStarted(data) {
    data = unwrap(data);
    if (!data) return;
    model.runStarted = data;
    if (data.scenario) setText("current-scenario", String(data.scenario));
    showRunLoad(data.concurrency, data.request_rate);
    if (isNum(data.run_index) && isNum(data.total_runs)) setText("run-counter", data.run_index + " / " + data.total_runs);
    setBar("run", 0);
    if (!model.done) {
      // Per-run panels start empty for the new run.
      [charts.ttftHist, charts.e2eHist].forEach(function (chart) {
        if (!chart) return;
        C.clearHistogram(chart);
        requestDraw(chart);
      });
      var context = String(data.scenario) + " · " + C.runLoadLabel(data);
      setText("hist-ttft-context", context);
      setText("hist-e2e-context", context);
    }
    setText("run-requests", "0" + (isNum(data.max_requests) ? " / " + data.max_requests : ""));
  }

  function applyProgress(data) {
    data = unwrap(data);
    if (!data) return;
    model.progress = data;
    if (model.done) return;  // the completed view owns the bars
    var runPct = isNum(data.run_progress_percentage) ? data.run_progress_percentage : 0;
    setBar("run", runPct);
    if (isNum(data.total_runs) && data.total_runs > 0 && isNum(data.runs_done)) {
      var finished = data.runs_done >= data.total_runs;
      setText("run-counter", (finished ? data.total_runs : data.runs_done + 1) + " / " + data.total_runs);
      setTotalProgress(finished ? 100 : (data.runs_done + runPct / 100) / data.total_runs * 100);
    }
    if (isNum(data.requests_done)) {
      var req = String(data.requests_done);
      if (isNum(data.max_requests) && data.max_requests > 0) req += " / " + data.max_requests;
      if (isNum(data.in_flight) && data.in_flight > 0) req += " (" + data.in_flight + " in flight)";
      setText("run-requests", req);
    }
    updateEta();
  }

  function updateEta() {
    if (model.done) { setText("eta", "done"); return; }
    if (model.replaying) { setText("eta", "replay " + model.replaySpeed + "×"); return; }
    var s = model.status || {};
    var now = Date.now() / 1000;
    if (isNum(s.estimated_end_time) && s.estimated_end_time > 0) {
      setText("eta", fmtDuration(s.estimated_end_time - now));
      return;
    }
    if (isNum(s.start_time) && totalPct > 1 && s.status === "running") {
      var elapsed = now - s.start_time;
      setText("eta", "~" + fmtDuration(elapsed * (100 - totalPct) / totalPct));
      return;
    }
    setText("eta", "—");
  }

  // ---------------------------------------------------------------- KPI tiles
  function setKpi(id, text) { setText($(id).querySelector(".kpi-value"), text); }

  function applyMetrics(data, timestamp) {
    var live = liveMetricsOf(data);
    if (!live) return;
    model.metrics = live;
    var stats = live.stats || {};
    setKpi("kpi-ttft-p50", fmtMs(stat(stats, "ttft", "p50")));
    setKpi("kpi-ttft-p99", fmtMs(stat(stats, "ttft", "p99")));
    setKpi("kpi-tpot-p50", fmtMs(stat(stats, "tpot", "p50")));
    setKpi("kpi-tpot-p99", fmtMs(stat(stats, "tpot", "p99")));
    setKpi("kpi-e2e-p50", fmtMs(stat(stats, "e2e_latency", "p50")));
    setKpi("kpi-e2e-p99", fmtMs(stat(stats, "e2e_latency", "p99")));
    setKpi("kpi-output-tps", fmtRate(live.output_tokens_per_second));
    setKpi("kpi-rps", fmtRate(live.requests_per_second));
    setKpi("kpi-error-rate", fmtPercent(live.error_rate));
    $("kpi-error-rate").classList.toggle("kpi-bad", isNum(live.error_rate) && live.error_rate > 0);
    setText("kpi-error-detail", isNum(live.errors) && live.errors > 0 ? "· " + plural(live.errors, "error") : "");
    var context = [];
    if (live.scenario) context.push(String(live.scenario));
    if (live.concurrency !== undefined && live.concurrency !== null) context.push("concurrency " + live.concurrency);
    if (isNum(live.completed)) context.push(live.completed + " requests done");
    if (isNum(live.window) && isNum(live.completed) && live.window < live.completed) {
      context.push("statistics over the latest " + live.window);
    }
    if (context.length) setText("kpi-context", (model.done ? "Last run: " : "Current run: ") + context.join(" · "));
    if (live.scenario) setText("current-scenario", String(live.scenario));
    showRunLoad(live.concurrency, live.request_rate);
    if (isNum(timestamp)) {
      setText("last-update", "last update " + fmtClock(timestamp));
      if (addPoint(pointFromMetrics(live, timestamp))) redrawTimeSeries();
    }
  }

  // ---------------------------------------------------------------- histograms
  function applyHistogram(data) {
    data = unwrap(data);
    if (!data || !data.histograms || model.done) return;
    setHistogram(charts.ttftHist, data.histograms.ttft);
    setHistogram(charts.e2eHist, data.histograms.e2e_latency);
    var context = data.scenario ? String(data.scenario) + (data.concurrency !== undefined || C.runRate(data) !== null ? " · " + C.runLoadLabel(data) : "") : "current run";
    setText("hist-ttft-context", context);
    setText("hist-e2e-context", context);
  }

  function setHistogram(chart, h) {
    if (chart && C.setHistogramData(chart, h)) requestDraw(chart);
  }

  // ---------------------------------------------------------------- scatter
  function applyScatter(data) {
    data = unwrap(data);
    if (!data || !Array.isArray(data.points) || !charts.scatter) return;
    data.points.forEach(function (p) {
      if (!p) return;
      model.scatter[runKey(p)] = p;
    });
    rebuildScatter();
  }

  function rebuildScatter() {
    var byScenario = {};
    var order = [];
    Object.keys(model.scatter).forEach(function (key) {
      var p = model.scatter[key];
      var name = String(p.scenario);
      if (!byScenario[name]) { byScenario[name] = []; order.push(name); }
      if (isNum(p.ttft_p50) && isNum(p.output_tokens_per_second)) {
        byScenario[name].push({ x: p.ttft_p50 * 1000, y: p.output_tokens_per_second, concurrency: p.concurrency, request_rate: C.runRate(p), scenario: name });
      }
    });
    var chart = charts.scatter;
    chart.data.datasets = order.map(function (name, i) {
      var color = PALETTE[i % PALETTE.length];
      var points = byScenario[name].sort(function (a, b) {
        var ra = C.runRate(a), rb = C.runRate(b);
        if (ra !== null && rb !== null) return ra - rb;   // open loop: by arrival rate
        return a.concurrency - b.concurrency;
      });
      return {
        label: name, data: points, borderColor: color, backgroundColor: color,
        showLine: true, borderWidth: 1.2, pointRadius: 4, pointHoverRadius: 6,
      };
    });
    requestDraw(chart);
  }

  // ---------------------------------------------------------------- runs table
  // One run per scenario × concurrency (closed loop) or scenario × arrival rate (open loop, same max concurrency).
  function runKey(r) {
    var rate = C.runRate(r);
    return String(r.scenario) + "|" + String(r.concurrency) + (rate !== null ? "|" + rate : "");
  }

  function applyRunCompleted(data) {
    data = unwrap(data);
    if (!data) return;
    var key = runKey(data);
    var i = model.runs.findIndex(function (r) { return runKey(r) === key; });
    if (i >= 0) model.runs[i] = data; else model.runs.push(data);
    renderRuns();
    // A finished run is also a scatter point, even if the scatter event is missed.
    var stats = data.stats || {};
    var sk = key;
    if (!model.scatter[sk] && isNum(stat(stats, "ttft", "p50"))) {
      model.scatter[sk] = {
        scenario: data.scenario, concurrency: data.concurrency, request_rate: C.runRate(data),
        output_tokens_per_second: data.output_tokens_per_second, requests_per_second: data.requests_per_second,
        ttft_p50: stat(stats, "ttft", "p50"),
      };
      if (charts.scatter) rebuildScatter();
    }
  }

  function cell(tr, text, cls) {
    return tr.appendChild(el("td", { className: cls }, text));
  }

  // The "Rate (req/s)" header after "Concurrency", present only while some run is open loop.
  function syncRateColumn(show) {
    var table = $("runs-table");
    var head = table && table.tHead && table.tHead.rows[0];
    if (!head) return;
    var th = head.querySelector('th[data-col="request_rate"]');
    if (show && !th) {
      th = el("th", { scope: "col", className: "num", "data-col": "request_rate" }, "Rate ");
      th.appendChild(el("span", { className: "unit" }, "req/s"));
      var after = head.cells[1];
      head.insertBefore(th, after ? after.nextSibling : null);
    } else if (!show && th) {
      th.remove();
    }
  }

  function renderRuns() {
    var body = $("runs-body");
    var rows = document.createDocumentFragment();
    var showRate = model.runs.some(function (r) { return C.runRate(r) !== null; });
    syncRateColumn(showRate);
    model.runs.forEach(function (r) {
      var stats = r.stats || {};
      var tr = el("tr", { className: r.partial ? "partial" : null });
      var requests = isNum(r.num_requests) ? r.num_requests : r.num_completed;
      cell(tr, String(r.scenario === undefined ? "—" : r.scenario), "scenario");
      cell(tr, isNum(r.concurrency) ? String(r.concurrency) : String(r.concurrency || "—"), "num");
      if (showRate) cell(tr, C.fmtRequestRate(C.runRate(r)), "num");
      cell(tr, isNum(requests) ? String(requests) : "—", "num");
      cell(tr, isNum(r.num_errors) ? String(r.num_errors) : "—", "num" + (r.num_errors > 0 ? " has-errors" : ""));
      cell(tr, fmtMs(stat(stats, "ttft", "p50")), "num");
      cell(tr, fmtMs(stat(stats, "ttft", "p99")), "num");
      cell(tr, fmtMs(stat(stats, "tpot", "p50")), "num");
      cell(tr, fmtMs(stat(stats, "e2e_latency", "p50")), "num");
      cell(tr, fmtRate(r.output_tokens_per_second), "num");
      cell(tr, fmtRate(r.requests_per_second), "num");
      rows.appendChild(tr);
    });
    body.replaceChildren(rows);
    $("runs-empty").hidden = model.runs.length > 0;
  }

  // ---------------------------------------------------------------- log panel
  function addLog(data, timestamp) {
    data = unwrap(data);
    if (!data) return;
    var list = $("log-list");
    var stick = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
    var level = String(data.level || "info").toLowerCase();
    if (level === "warn") level = "warning";
    var li = el("li", { className: "log-" + (/^(info|warning|error)$/.test(level) ? level : "info") });
    li.append(
      el("span", { className: "log-time" }, fmtClock(isNum(data.timestamp) ? data.timestamp : timestamp)),
      el("span", { className: "log-level" }, level),
      el("span", { className: "log-message" }, String(data.message === undefined ? "" : data.message)));
    list.appendChild(li);
    while (list.children.length > MAX_LOG_LINES) list.removeChild(list.firstChild);
    if (stick) list.scrollTop = list.scrollHeight;
  }

  // ---------------------------------------------------------------- completed view
  function enterDone(status, errorMessage) {
    status = FINAL_STATUSES[status] ? status : "completed";
    var first = !model.done;
    model.done = true;
    document.body.classList.add("is-done");
    document.body.setAttribute("data-final-status", status);
    var banner = $("banner");
    banner.className = "banner banner-" + status;
    var titles = { completed: "Benchmark finished.", stopped: "Benchmark stopped early.", failed: "Benchmark failed." };
    setText("banner-title", (model.replaying ? "Replay: " : "") + titles[status]);
    var n = model.runs.length;
    var text = plural(n, "run") + " completed; the charts are frozen and the tables hold the results.";
    if (status === "stopped") text = "The results of " + plural(n, "run") + " are kept (the last one may be partial).";
    if (status === "failed") text = (errorMessage ? String(errorMessage) + " " : "") + "Results of " + plural(n, "finished run") + " are kept.";
    if (model.experimentFolder) text += " Experiment folder: " + model.experimentFolder;
    setText("banner-text", text);
    banner.hidden = false;
    var results = $("results");
    results.classList.add("is-final");
    setText("results-title", "Results");
    setText("results-note", plural(n, "run") + (model.experimentFolder ? " · " + model.experimentFolder : ""));
    if (status === "completed") {
      setBar("run", 100);
      setTotalProgress(100);
    }
    setText("eta", "done");
    var kpiContext = $("kpi-context").textContent;
    if (kpiContext.indexOf("Current run: ") === 0) setText("kpi-context", "Last run: " + kpiContext.slice(13));
    if (first) updateReopenCommand();
  }

  function applyBenchmarkCompleted(data) {
    data = unwrap(data) || {};
    if (data.experiment_folder) model.experimentFolder = String(data.experiment_folder);
    var status = FINAL_STATUSES[data.status] ? String(data.status) : "completed";
    var badge = $("status-badge");
    if (!FINAL_STATUSES[badge.getAttribute("data-status")]) {
      setText(badge, status);
      badge.className = "badge badge-" + status;
      badge.setAttribute("data-status", status);
    }
    model.done = false;  // refresh the banner text with the final folder and run count
    enterDone(status, model.status && model.status.error_message);
    updateReopenCommand();
    model.completed = data;
    // results.js switches to the results view (a replay's end leaves the live view in place).
    notify("genai:benchmark-completed", Object.assign({}, data, { replay: model.replaying }));
  }

  function notify(name, detail) {
    try {
      document.dispatchEvent(new CustomEvent(name, { detail: detail }));
    } catch (e) { /* a listener failed: the live view carries on */ }
  }

  // ---------------------------------------------------------------- replay (POST api/replay)
  // A replay starts with a status event {status: "replaying"}: the live view starts over, then animates the
  // replayed events as if the benchmark were running now.
  function resetForReplay(data) {
    model.replaying = true;
    model.done = false;
    model.completed = null;
    model.progress = null;
    model.runStarted = null;
    model.metrics = null;
    model.t0 = null;
    model.replaySpeed = isNum(data && data.replay_speed) ? data.replay_speed : isNum(data && data.speed) ? data.speed : 1;
    model.lastPointT = -Infinity;
    model.runs = [];
    model.scatter = {};
    runMarks.length = 0;
    [charts.latency, charts.throughput, charts.errors].forEach(function (chart) {
      if (!chart) return;
      chart.data.datasets.forEach(function (d) { d.data = []; });
    });
    redrawTimeSeries();
    if (charts.scatter) { charts.scatter.data.datasets = []; requestDraw(charts.scatter); }
    [charts.ttftHist, charts.e2eHist].forEach(function (chart) {
      if (!chart) return;
      C.clearHistogram(chart);
      requestDraw(chart);
    });
    document.body.classList.remove("is-done");
    document.body.removeAttribute("data-final-status");
    $("banner").hidden = true;
    $("closed-note").hidden = true;
    $("results").classList.remove("is-final");
    setText("results-title", "Completed runs");
    setText("results-note", "Runs appear here as they finish.");
    renderRuns();
    Array.prototype.forEach.call(document.querySelectorAll(".kpi .kpi-value"), function (v) { setText(v, "—"); });
    $("kpi-error-rate").classList.remove("kpi-bad");
    setText("kpi-error-detail", "");
    data = data || {};
    var folder = data.experiment_folder ? String(data.experiment_folder) : "";
    var what = folder ? baseName(folder) : data.experiment ? String(data.experiment) : "a finished experiment";
    var speed = isNum(data.replay_speed) ? data.replay_speed : isNum(data.speed) ? data.speed : null;
    var at = speed !== null ? " at " + speed + "×" : "";
    setText("kpi-context", "Replaying " + what + at + "…");
    ["current-scenario", "current-concurrency", "run-counter", "run-requests", "eta"].forEach(function (id) { setText(id, "—"); });
    setText("hist-ttft-context", "current run");
    setText("hist-e2e-context", "current run");
    setBar("run", 0);
    setTotalProgress(0);
    addLog({ level: "info", message: "Replaying " + what + at }, Date.now() / 1000);
    notify("genai:replay-started", data);
  }

  function updateReopenCommand() {
    var folder = model.experimentFolder || "<experiment folder>";
    setText("reopen-command", "genai-bench serve --experiment-folder " + shellQuote(folder));
  }

  function shellQuote(s) {
    return /^[A-Za-z0-9_\/.,:=+@%-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'";
  }

  // ---------------------------------------------------------------- connection
  var source = null;
  var failingSince = null;
  var closedTimer = null;
  var watchdog = null;

  function setConnection(state) {
    model.connection = state;
    var badge = $("connection");
    badge.className = "connection conn-" + state;
    badge.setAttribute("data-state", state);
    setText("connection-text", state);
  }

  function markClosed() {
    if (source) { source.close(); source = null; }
    if (closedTimer) { clearTimeout(closedTimer); closedTimer = null; }
    if (watchdog) { clearInterval(watchdog); watchdog = null; }
    setConnection("closed");
    updateReopenCommand();
    $("closed-note").hidden = false;
  }

  function openStream() {
    if (source) source.close();
    var url = withToken("events?last_event_id=" + encodeURIComponent(String(model.lastEventId)));
    source = new EventSource(url);
    model.lastMessageAt = Date.now();
    source.onopen = function () {
      failingSince = null;
      if (closedTimer) { clearTimeout(closedTimer); closedTimer = null; }
      model.lastMessageAt = Date.now();
      setConnection("live");
      $("closed-note").hidden = true;
    };
    source.onmessage = function (msg) {
      model.lastMessageAt = Date.now();
      if (model.connection !== "live") setConnection("live");
      var env;
      try { env = JSON.parse(msg.data); } catch (e) { return; }
      handleEnvelope(env);
    };
    source.onerror = function () {
      if (model.connection === "closed") return;
      if (failingSince === null) failingSince = Date.now();
      if (source && source.readyState === EventSource.CLOSED) {
        // The server refused the stream (e.g. HTTP error): the browser will not retry by itself.
        probeServer(function (alive) {
          if (alive && Date.now() - failingSince < CLOSED_AFTER_MS) {
            setConnection("reconnecting");
            setTimeout(function () { if (model.connection !== "closed") openStream(); }, STATE_RETRY_MS);
          } else {
            markClosed();
          }
        });
        return;
      }
      setConnection("reconnecting");
      if (!closedTimer) {
        closedTimer = setTimeout(function () {
          closedTimer = null;
          if (model.connection !== "live") markClosed();
        }, Math.max(0, CLOSED_AFTER_MS - (Date.now() - failingSince)));
      }
      // A finished benchmark's server usually exits right after the stream ends: confirm and close at once.
      if (model.done) {
        probeServer(function (alive) { if (!alive && model.connection !== "live") markClosed(); });
      }
    };
    if (!watchdog) {
      watchdog = setInterval(function () {
        if (model.connection === "live" && Date.now() - model.lastMessageAt > STALE_STREAM_MS) {
          // Silent half-open connection: reopen, asking for what we missed.
          setConnection("reconnecting");
          failingSince = Date.now();
          openStream();
          closedTimer = setTimeout(function () { closedTimer = null; if (model.connection !== "live") markClosed(); }, CLOSED_AFTER_MS);
        }
      }, 5000);
    }
  }

  function probeServer(callback) {
    C.fetchWithTimeout("healthz", { cache: "no-store" }, 3000)
      .then(function (r) { callback(r.ok); })
      .catch(function () { callback(false); });
  }

  // ---------------------------------------------------------------- event dispatch
  function handleEnvelope(env) {
    if (!env || typeof env !== "object") return;
    var id = env.id;
    if (isNum(id)) {
      // Snapshot and replayed events we already hold carry ids we have seen.
      if (id <= model.lastEventId) {
        // still accept state-type events so a snapshot after a restart is shown, but never re-add points
        if (env.event_type === "status") applyStatus(env.data);
        return;
      }
      model.lastEventId = id;
    }
    var data = env.data || {};
    switch (env.event_type) {
      case "status":
        if (data.status === "replaying") resetForReplay(data);
        applyStatus(data);
        break;
      case "run_started": applyRunStarted(data); break;
      case "progress": applyProgress(data); break;
      case "metrics": applyMetrics(data, env.timestamp); break;
      case "histogram": applyHistogram(data); break;
      case "scatter": applyScatter(data); break;
      case "run_completed": applyRunCompleted(data); break;
      case "log": addLog(data, env.timestamp); break;
      case "benchmark_completed": applyBenchmarkCompleted(data); break;
      case "heartbeat": break;
      default: break;
    }
  }

  // ---------------------------------------------------------------- initial load
  function loadState(attempt) {
    attempt = attempt || 0;
    var started = loadState.started || (loadState.started = Date.now());
    fetch(withToken("api/state"), { cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error("api/state answered HTTP " + r.status);
        return r.json();
      })
      .then(function (state) {
        applyState(state || {});
        openStream();
      })
      .catch(function (err) {
        if (Date.now() - started > CLOSED_AFTER_MS) {
          addLog({ level: "error", message: "Could not load the dashboard state: " + errorText(err) }, Date.now() / 1000);
          markClosed();
          return;
        }
        setConnection(attempt === 0 ? "connecting" : "reconnecting");
        setTimeout(function () { loadState(attempt + 1); }, Math.min(STATE_RETRY_MS * (attempt + 1), 4000));
      });
  }

  function applyState(state) {
    var status = unwrap(state.status);
    // The state of a replay (it starts with status "replaying"; the server's status keeps its replay_speed).
    if (status && (status.status === "replaying" || isNum(status.replay_speed))) {
      model.replaying = true;
      model.replaySpeed = isNum(status.replay_speed) ? status.replay_speed : 1;
    } else if (status && isNum(status.start_time) && status.start_time > 0) {
      model.t0 = status.start_time;
    }
    var points = Array.isArray(state.timeseries) ? state.timeseries : [];
    points.forEach(function (p) { addPoint(p); });
    (Array.isArray(state.history) ? state.history : []).forEach(function (r) { applyRunCompleted(r); });
    (Array.isArray(state.logs) ? state.logs : []).forEach(function (l) { addLog(l, unwrap(l) && l.timestamp); });
    applyScatter(state.scatter);
    applyHistogram(state.histogram);
    if (state.progress) applyProgress(state.progress);
    if (state.metrics) applyMetrics(state.metrics, null);
    if (status) applyStatus(status);
    if (state.completed) applyBenchmarkCompleted(state.completed);
    if (isNum(state.last_event_id)) model.lastEventId = state.last_event_id;
    redrawTimeSeries();
  }

  // ---------------------------------------------------------------- start
  function start() {
    if (createCharts()) {
      bindScaleToggle();
    } else {
      addLog({ level: "error", message: "Chart library failed to load; figures and tables still update." }, Date.now() / 1000);
    }
    setConnection("connecting");
    updateReopenCommand();
    setInterval(updateEta, 1000);
    loadState(0);
  }

  // Read-only handle for debugging and tests.
  window.genaiDashboard = {
    charts: charts,
    model: model,
    seriesLength: function () {
      return charts.latency ? charts.latency.data.datasets[0].data.length : 0;
    },
    connection: function () { return model.connection; },
    resize: function () {
      Object.keys(charts).forEach(function (k) { if (charts[k]) charts[k].resize(); });
    },
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
