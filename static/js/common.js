/* genai-bench page helpers shared by the live dashboard (live-*.js, dashboard.js) and the results view (results-*.js):
 * number formats, DOM building, the page's address (token out of it), and the Chart.js pieces both pages draw the same way.
 *
 *   window.GenaiCommon  (load this file before the others)
 *
 * Nothing is ever inserted as HTML: every text goes through textContent.
 * This file is inlined into the report inside a script element, so it must never contain a closing script tag.
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------- colours (match dashboard.css)
  var COLORS = {
    blue: "#58a6ff", cyan: "#39c5cf", purple: "#bc8cff", orange: "#f0883e",
    green: "#3fb950", red: "#f85149", yellow: "#d29922", pink: "#ff7b72",
    grid: "rgba(139, 148, 158, 0.15)", text: "#8b949e",
  };
  // One colour per scenario (live scatter) or per experiment / scenario (results curves).
  var PALETTE = [COLORS.blue, COLORS.orange, COLORS.green, COLORS.purple, COLORS.pink, COLORS.cyan, COLORS.yellow];

  // ---------------------------------------------------------------- numbers
  function isNum(v) { return typeof v === "number" && isFinite(v); }

  // stats[metric][name] (an aggregated-metrics "stats" object) when it is a number, else null.
  function stat(stats, metric, name) {
    if (!stats || !stats[metric]) return null;
    var v = stats[metric][name];
    return isNum(v) ? v : null;
  }

  function fmtNumber(v, digits) {
    if (!isNum(v)) return "—";
    return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }

  // Milliseconds: 2 decimals under 10, 1 under 100, none above.
  function fmtMsValue(v) {
    if (!isNum(v)) return "—";
    var a = Math.abs(v);
    return fmtNumber(v, a < 10 ? 2 : a < 100 ? 1 : 0);
  }

  function fmtMs(seconds) { return isNum(seconds) ? fmtMsValue(seconds * 1000) : "—"; }

  function fmtRate(v) {
    if (!isNum(v)) return "—";
    var a = Math.abs(v);
    return fmtNumber(v, a < 10 ? 2 : a < 1000 ? 1 : 0);
  }

  function fmtPercentValue(p) {
    if (!isNum(p)) return "—";
    return fmtNumber(p, p === 0 ? 0 : p < 10 ? 2 : 1);
  }

  function fmtPercent(fraction) { return isNum(fraction) ? fmtPercentValue(fraction * 100) : "—"; }

  function fmtDuration(seconds) {
    if (!isNum(seconds)) return "—";
    seconds = Math.max(0, Math.round(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    if (h > 0) return h + "h " + String(m).padStart(2, "0") + "m";
    if (m > 0) return m + "m " + String(s).padStart(2, "0") + "s";
    return s + "s";
  }

  // "1 run", "3 runs".
  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  // ---------------------------------------------------------------- text
  function errorText(err) {
    return err && err.message ? err.message : String(err);
  }

  // The last part of a folder path (either slash).
  function baseName(path) {
    return String(path).split(/[\\/]/).filter(Boolean).pop();
  }

  // ---------------------------------------------------------------- DOM
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value === null || value === undefined || value === false) return;
        if (name === "className") node.className = value;
        else if (name === "hidden") node.hidden = !!value;
        else node.setAttribute(name, value === true ? "" : String(value));
      });
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // target: an element or an element id; the text is only written when it changed.
  function setText(target, text) {
    var node = typeof target === "string" ? document.getElementById(target) : target;
    if (node && node.textContent !== text) node.textContent = text;
  }

  // ---------------------------------------------------------------- URLs (relative; no token in them)
  // A page opened with ?token= got a cookie that authorizes its own requests: take the token out of the address bar.
  (function () {
    try {
      var url = new URL(window.location.href);
      if (!url.searchParams.has("token")) return;
      url.searchParams.delete("token");
      window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
    } catch (e) { /* a page opened from disk (the report) has no address to tidy */ }
  })();

  // fetch(url, init), aborted when no answer has come within timeoutMs.
  function fetchWithTimeout(url, init, timeoutMs) {
    var ctrl = typeof AbortController === "function" ? new AbortController() : null;
    var timer = setTimeout(function () { if (ctrl) ctrl.abort(); }, timeoutMs);
    init = Object.assign({}, init || {});
    if (ctrl) init.signal = ctrl.signal;
    return fetch(url, init).then(function (r) {
      clearTimeout(timer);
      return r;
    }, function (err) {
      clearTimeout(timer);
      throw err;
    });
  }

  // ---------------------------------------------------------------- charts
  function applyChartDefaults(Chart) {
    Chart.defaults.color = COLORS.text;
    Chart.defaults.borderColor = COLORS.grid;
    Chart.defaults.font.size = 11;
    try { Chart.defaults.font.family = getComputedStyle(document.body).fontFamily; } catch (e) { /* ignore */ }
    Chart.register(narrowChartsPlugin);
  }

  // ---------------------------------------------------------------- narrow screens (phones)
  // A chart narrower than NARROW_CHART_PX gets its legend below the plot (a top legend eats a small plot), and every
  // horizontal axis about one tick label per TICK_SPACING_PX, so labels never collide; wider again, it gets back the
  // settings it was built with. Runs before each update, so a rotated phone or a resized window re-fits.
  var NARROW_CHART_PX = 480, TICK_SPACING_PX = 64;
  var builtWith = typeof WeakMap === "function" ? new WeakMap() : null;  // chart -> {legend, limits}
  var narrowChartsPlugin = {
    id: "genaiNarrowCharts",
    beforeUpdate: function (chart) {
      var width = chart.width;
      if (!width || !builtWith) return;
      var narrow = width < NARROW_CHART_PX;
      var legend = chart.options.plugins && chart.options.plugins.legend;
      var scales = chart.options.scales || {};
      var built = builtWith.get(chart);
      if (!built) {
        built = { legend: legend ? legend.position || "top" : null, limits: {} };
        Object.keys(scales).forEach(function (id) {
          var ticks = scales[id] && scales[id].ticks;
          built.limits[id] = ticks && ticks.maxTicksLimit ? ticks.maxTicksLimit : 11;
        });
        builtWith.set(chart, built);
      }
      if (legend) legend.position = narrow ? "bottom" : built.legend;
      Object.keys(scales).forEach(function (id) {
        var scale = scales[id];
        if (!scale || !scale.ticks || (scale.axis || id.charAt(0)) !== "x" || built.limits[id] === undefined) return;
        var fits = Math.max(3, Math.floor(width / TICK_SPACING_PX));
        scale.ticks.maxTicksLimit = narrow ? Math.min(fits, built.limits[id]) : built.limits[id];
      });
    },
  };

  // ---------------------------------------------------------------- run load (closed loop: concurrency; open loop: rate)
  // The arrival rate (req/s) of an open-loop run, or null for a closed-loop run. Accepts a run_completed/scatter
  // payload or a results-API Run (whose rate sits in `aggregated`).
  function runRate(r) {
    if (!r) return null;
    if (isNum(r.request_rate) && r.request_rate > 0) return r.request_rate;
    var a = r.aggregated;
    return a && isNum(a.request_rate) && a.request_rate > 0 ? a.request_rate : null;
  }

  function fmtRequestRate(rate) { return isNum(rate) ? String(Number(rate.toPrecision(6))) : "—"; }

  // A batched run's inputs per request (embeddings, rerank: the sweep's axis), or null.
  function runBatch(r) {
    if (!r) return null;
    if (isNum(r.batch_size)) return r.batch_size;
    var a = r.aggregated;
    return a && isNum(a.batch_size) ? a.batch_size : null;
  }

  // "b=8" for a batched run, "r=2/s" for an open-loop run, "c=8" otherwise.
  function runLoadLabel(r) {
    var rate = runRate(r), batch = runBatch(r);
    if (batch !== null) return "b=" + batch;
    return rate !== null ? "r=" + fmtRequestRate(rate) + "/s" : "c=" + (r ? r.concurrency : undefined);
  }

  // "batch size 8" for a batched run, "rate 2 req/s" for an open-loop run, "concurrency 8" otherwise.
  function runLoadText(r) {
    var rate = runRate(r), batch = runBatch(r);
    if (batch !== null) return "batch size " + batch;
    return rate !== null ? "rate " + fmtRequestRate(rate) + " req/s" : "concurrency " + (r ? r.concurrency : undefined);
  }

  // A plugin writing "c=<concurrency>" (or "r=<rate>/s" for open-loop runs) next to each point of the visible datasets.
  // options: font, dx, dy (offset from the point), maxPoints (no labels once the chart holds more points).
  function concurrencyLabelsPlugin(id, options) {
    return {
      id: id,
      afterDatasetsDraw: function (chart) {
        chart.$pointLabels = [];   // the texts last drawn (read by tests)
        if (options.maxPoints) {
          var total = 0;
          chart.data.datasets.forEach(function (d) { total += d.data.length; });
          if (total > options.maxPoints) return;
        }
        var ctx = chart.ctx;
        ctx.save();
        ctx.font = options.font;
        ctx.textBaseline = "bottom";
        chart.data.datasets.forEach(function (dataset, i) {
          var meta = chart.getDatasetMeta(i);
          if (meta.hidden || !chart.isDatasetVisible(i)) return;
          ctx.fillStyle = dataset.borderColor;
          meta.data.forEach(function (element, j) {
            var raw = dataset.data[j];
            if (!raw || element.skip || (raw.concurrency === undefined && runRate(raw) === null)) return;
            var text = runLoadLabel(raw);
            chart.$pointLabels.push(text);
            ctx.fillText(text, element.x + options.dx, element.y - options.dy);
          });
        });
        ctx.restore();
      },
    };
  }

  // A latency histogram (bars over ms bins), filled by setHistogramData.
  // options: label, color, binTitle(lo, hi) (tooltip title of a bin, edges in seconds), countLabel(n) (tooltip line).
  function histogramChart(canvas, options) {
    var Chart = window.Chart;
    if (!Chart) return null;
    return new Chart(canvas, {
      type: "bar",
      data: { labels: [], datasets: [{ label: options.label, data: [], backgroundColor: options.color, borderWidth: 0, barPercentage: 1, categoryPercentage: 0.96 }] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: function (items) {
                if (!items.length) return "";
                var edges = items[0].chart.$edges || [];
                var i = items[0].dataIndex;
                return options.binTitle(edges[i], edges[i + 1]);
              },
              label: function (item) { return options.countLabel(item.raw); },
            },
          },
        },
        scales: {
          x: { title: { display: true, text: "ms", color: COLORS.text }, ticks: { color: COLORS.text, maxTicksLimit: 8, maxRotation: 0 }, grid: { display: false } },
          y: { beginAtZero: true, title: { display: true, text: "requests", color: COLORS.text }, ticks: { color: COLORS.text, precision: 0 }, grid: { color: COLORS.grid } },
        },
      },
    });
  }

  // Puts a {edges (s), counts} histogram into a histogramChart (without redrawing it); false when h is not one.
  function setHistogramData(chart, h) {
    if (!h || !Array.isArray(h.edges) || !Array.isArray(h.counts)) return false;
    var n = h.counts.length;
    // Enough decimals that neighbouring bins get different labels (bins can be a fraction of a ms wide).
    var width = n && isNum(h.edges[0]) && isNum(h.edges[n]) ? (h.edges[n] - h.edges[0]) * 1000 / n : 0;
    var digits = width > 0 ? Math.min(3, Math.max(0, Math.ceil(-Math.log10(width)))) : 1;
    var labels = [];
    for (var i = 0; i < n; i++) {
      var lo = h.edges[i], hi = h.edges[i + 1];
      labels.push(isNum(lo) && isNum(hi) ? fmtNumber((lo + hi) * 500, digits) : String(i));
    }
    chart.$edges = h.edges.slice();
    chart.data.labels = labels;
    chart.data.datasets[0].data = h.counts.map(function (c) { return isNum(c) ? c : 0; });
    return true;
  }

  function clearHistogram(chart) {
    chart.data.labels = [];
    chart.data.datasets[0].data = [];
  }

  // One line for a workload description (docs/events.md: status.workload, the experiment summary's workload),
  // e.g. "chats.json (5 rows) · prefix 10 tok ×2 · 3 turns" or "trace conv.jsonl at 2×"; "" for synthetic single
  // prompts.
  function workloadText(workload) {
    if (!workload || typeof workload !== "object") return "";
    var parts = [];
    var d = workload.dataset, p = workload.prefix, m = workload.multi_turn, t = workload.trace;
    if (t) parts.push("trace " + String(t.path).split(/[\\/]/).pop() + (isNum(t.speed) && t.speed !== 1 ? " at " + t.speed + "×" : ""));
    if (d) parts.push(String(d.name || d.source || "dataset") + (isNum(d.rows) ? " (" + plural(d.rows, "row") + ")" : ""));
    if (p) {
      var size = isNum(p.tokens) ? p.tokens + " tok" : isNum(p.ratio) ? Math.round(p.ratio * 100) + " %" : "?";
      parts.push("prefix " + size + (isNum(p.groups) && p.groups > 1 ? " ×" + p.groups : ""));
    }
    if (m) {
      parts.push(m.turns === "dataset" ? "conversations" : plural(m.turns, "turn"));
      if (isNum(m.think_time) && m.think_time > 0) parts.push("think " + m.think_time + " s");
    }
    return parts.join(" · ");
  }

  window.GenaiCommon = {
    workloadText: workloadText,
    COLORS: COLORS,
    PALETTE: PALETTE,
    isNum: isNum,
    stat: stat,
    fmtNumber: fmtNumber,
    fmtMsValue: fmtMsValue,
    fmtMs: fmtMs,
    fmtRate: fmtRate,
    fmtPercentValue: fmtPercentValue,
    fmtPercent: fmtPercent,
    fmtDuration: fmtDuration,
    plural: plural,
    errorText: errorText,
    baseName: baseName,
    el: el,
    setText: setText,
    fetchWithTimeout: fetchWithTimeout,
    applyChartDefaults: applyChartDefaults,
    concurrencyLabelsPlugin: concurrencyLabelsPlugin,
    runRate: runRate,
    runBatch: runBatch,
    fmtRequestRate: fmtRequestRate,
    runLoadLabel: runLoadLabel,
    runLoadText: runLoadText,
    histogramChart: histogramChart,
    setHistogramData: setHistogramData,
    clearHistogram: clearHistogram,
  };
})();
