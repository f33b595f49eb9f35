/* genai-bench results view: the curves across load, one series per (experiment, scenario): latency against
 * throughput, the error rate and a chosen metric against concurrency (or request rate, open loop).
 *
 *   var curves = GenaiResults.createCurves(view)   view: the mount's shared context (results-view.js)
 *   curves.node       the charts' section            curves.render()   draws the selected experiments
 * Its charts go into view.charts (ttft, tpot, e2e, inputs, errors, metric, goodput); a click on a point opens that run.
 * Task-aware: TTFT and TPOT panels (and metrics) show only when a shown experiment streams; the inputs/s panel only
 * when one is batched (embeddings, rerank), whose runs sit on the load axis at their batch size.
 * Repeated points (--repeats) are drawn once, at their runs' mean, with the 95% interval the experiment document's
 * `intervals` carry as an error bar.
 *
 * Needs common.js and results-base.js loaded first.
 */
(function () {
  "use strict";

  var C = window.GenaiCommon, GenaiResults = window.GenaiResults, U = GenaiResults.util;
  var PALETTE = C.PALETTE, METRICS = U.METRICS;
  var isNum = C.isNum, el = C.el, setText = C.setText;
  var statOf = U.statOf, aggOf = U.aggOf, metricDef = U.metricDef, axis = U.axis, concurrencyAxis = U.concurrencyAxis,
    curveTooltip = U.curveTooltip, setDatasets = U.setDatasets;

  // Vertical error bars from each point's yLow to yHigh, with the y axis widened to hold them.
  var errorBarsPlugin = {
    id: "genaiErrorBars",
    afterDataLimits: function (chart, args) {
      if (args.scale.axis !== "y") return;
      chart.data.datasets.forEach(function (d) {
        d.data.forEach(function (p) {
          if (isNum(p.yHigh) && p.yHigh > args.scale.max) args.scale.max = p.yHigh;
          if (isNum(p.yLow) && p.yLow < args.scale.min) args.scale.min = p.yLow;
        });
      });
    },
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx, y = chart.scales.y;
      chart.data.datasets.forEach(function (d, di) {
        var meta = chart.getDatasetMeta(di);
        if (meta.hidden) return;
        d.data.forEach(function (p, i) {
          if (!isNum(p.yLow) || !isNum(p.yHigh) || !meta.data[i]) return;
          var x = meta.data[i].x, top = y.getPixelForValue(p.yHigh), bottom = y.getPixelForValue(p.yLow);
          ctx.save();
          ctx.strokeStyle = d.borderColor;
          ctx.lineWidth = 1.2;
          ctx.beginPath();
          ctx.moveTo(x, top); ctx.lineTo(x, bottom);
          ctx.moveTo(x - 4, top); ctx.lineTo(x + 4, top);
          ctx.moveTo(x - 4, bottom); ctx.lineTo(x + 4, bottom);
          ctx.stroke();
          ctx.restore();
        });
      });
    },
  };

  // A scenario's curve points: its runs, or with repeats one per load point, read from the experiment's intervals
  // (mean, low and high each shaped like a run's aggregated metrics, so the charts' accessors read them alike).
  function pointsOf(exp, scenario, runs) {
    var groups = (exp.intervals || []).filter(function (g) { return g.scenario === scenario; });
    if (!groups.some(function (g) { return g.n > 1; })) return runs;
    return groups.map(function (g) {
      var first = runs.filter(function (r) { return r.key === g.run_keys[0]; })[0] || {};
      return {
        key: g.run_keys[0], scenario: scenario, concurrency: g.concurrency, partial: !!first.partial, n: g.n,
        aggregated: Object.assign({}, g.mean, { request_rate: g.request_rate, batch_size: g.batch_size }),
        low: g.low ? { aggregated: g.low } : null, high: g.high ? { aggregated: g.high } : null,
      };
    }).sort(U.byLoad);
  }

  function createCurves(view) {
    var state = view.state, charts = view.charts, Chart = window.Chart;
    var chartGrid = el("section", { className: "rv-charts", "aria-label": "Curves across concurrency" });
    var curveTitles = {};
    function chartPanel(id, titleText, ariaLabel, extraControls) {
      var title = el("span", { className: "rv-chart-title" }, titleText);
      curveTitles[id] = title;
      return U.chartFigure(chartGrid, { className: "panel chart-panel rv-chart", id: "rv-fig-" + id }, title, extraControls,
        { id: "rv-chart-" + id, role: "img", "aria-label": ariaLabel });
    }
    var metricSelect = el("select", { id: "rv-metric", "aria-label": "Metric" });
    METRICS.forEach(function (m) { metricSelect.appendChild(el("option", { value: m.key }, m.label)); });
    var statSelect = el("select", { id: "rv-stat", "aria-label": "Statistic" });
    U.STATS.forEach(function (s) { statSelect.appendChild(el("option", { value: s }, s)); });
    var metricControls = el("span", { className: "rv-inline-controls" });
    metricControls.append(metricSelect, statSelect);

    var canvases = {
      ttft: chartPanel("ttft", "TTFT vs output tokens/s", "TTFT against output tokens per second, per run"),
      tpot: chartPanel("tpot", "TPOT vs output tokens/s", "TPOT against output tokens per second, per run"),
      e2e: chartPanel("e2e", "E2E latency vs requests/s", "End-to-end latency against requests per second, per run"),
      // Batched tasks (embeddings, rerank) only: latency against inputs per second.
      inputs: chartPanel("inputs", "E2E latency vs inputs/s", "End-to-end latency against inputs per second, per run"),
      errors: chartPanel("errors", "Error rate vs concurrency", "Error rate against concurrency"),
      metric: chartPanel("metric", "", "Chosen metric against concurrency", [metricControls]),
      // Runs with --slo only: requests/s meeting every SLO, beside all requests/s.
      goodput: chartPanel("goodput", "Goodput vs concurrency", "Goodput and throughput against concurrency"),
    };

    function curveChart(canvas, xTitle, yTitle, tooltip, xAxis) {
      if (!Chart) return null;
      var opts = U.chartBaseOptions();
      opts.plugins.tooltip = tooltip;
      opts.scales = {
        x: xAxis || axis(xTitle, { grace: "5%" }),
        y: axis(yTitle, { beginAtZero: true, grace: "5%" }),
      };
      opts.onClick = function (evt, elements, chart) {
        if (!elements || !elements.length) return;
        var raw = chart.data.datasets[elements[0].datasetIndex].data[elements[0].index];
        if (raw && raw.expId) view.openRun(raw.expId, raw.key);
      };
      opts.onHover = function (evt, elements, chart) {
        chart.canvas.style.cursor = elements && elements.length ? "pointer" : "default";
      };
      return new Chart(canvas, { type: "scatter", data: { datasets: [] }, options: opts,
        plugins: [U.pointLabelsPlugin, errorBarsPlugin] });
    }

    function pct() { return state.percentile; }
    charts.ttft = curveChart(canvases.ttft, "output tokens/s", "TTFT (ms)",
      curveTooltip("output tokens/s", "tok/s", function () { return "TTFT " + pct(); }, "ms"));
    charts.tpot = curveChart(canvases.tpot, "output tokens/s", "TPOT (ms)",
      curveTooltip("output tokens/s", "tok/s", function () { return "TPOT " + pct(); }, "ms"));
    charts.e2e = curveChart(canvases.e2e, "requests/s", "E2E latency (ms)",
      curveTooltip("requests/s", "req/s", function () { return "E2E " + pct(); }, "ms"));
    charts.inputs = curveChart(canvases.inputs, "inputs/s", "E2E latency (ms)",
      curveTooltip("inputs/s", "inputs/s", function () { return "E2E " + pct(); }, "ms"));
    charts.errors = curveChart(canvases.errors, "concurrency", "error rate (%)",
      curveTooltip("concurrency", "", "error rate", "%"), concurrencyAxis([]));
    charts.goodput = curveChart(canvases.goodput, "concurrency", "requests/s",
      curveTooltip("concurrency", "", "requests/s", "req/s"), concurrencyAxis([]));
    if (charts.goodput) {
      charts.goodput.options.plugins.tooltip.callbacks.afterLabel = function (item) {
        var a = (item.raw || {}).attainment;
        return isNum(a) ? "SLO met: " + C.fmtPercent(a) + "%" : "";
      };
    }
    charts.metric = curveChart(canvases.metric, "concurrency", "",
      curveTooltip("concurrency", "", function () { return metricTitle(); }, function () { return metricDef(state.metric).unit; }),
      concurrencyAxis([]));

    metricSelect.addEventListener("change", function () { state.metric = metricSelect.value; syncStatSelect(); renderCurves(); });
    statSelect.addEventListener("change", function () { state.stat = statSelect.value; renderCurves(); });
    metricSelect.value = state.metric;
    statSelect.value = state.stat;

    function syncStatSelect() {
      var m = metricDef(state.metric);
      statSelect.disabled = m.kind === "run";
      statSelect.title = m.kind === "run" ? "one value per run" : "statistic over the run's requests";
    }
    syncStatSelect();

    // The optional metrics (schedule, SLO) are offered only when a shown run has them, the streamed ones (TTFT,
    // TPOT...) only when a shown experiment streams, inputs/s only when one is batched; otherwise hidden and disabled, and a chosen one falls
    // back to the first offered (TTFT, or E2E latency for batched tasks).
    function syncMetricOptions(runs, tasks) {
      var offered = [];
      METRICS.forEach(function (m) {
        var available = m.streamed ? tasks.streamed : m.batched ? tasks.batched
          : !m.optional || runs.some(function (r) { return U.metricValue(r, m, "mean") !== null; });
        var option = metricSelect.querySelector('option[value="' + m.key + '"]');
        if (option) { option.hidden = !available; option.disabled = !available; }
        if (available) offered.push(m.key);
      });
      if (offered.indexOf(state.metric) < 0 && offered.length) {
        state.metric = offered[0];
        metricSelect.value = state.metric;
        syncStatSelect();
      }
    }

    function metricTitle() {
      var m = metricDef(state.metric);
      return m.label + (m.kind === "run" ? "" : " " + state.stat);
    }

    function seriesList() {
      // One series per (selected experiment, scenario): its runs sorted by concurrency.
      var list = [];
      var compare = state.selected.length > 1;
      var exps = view.selectedExperiments();
      var shown = U.displayNames(exps.map(function (e) { return (e.summary || {}).name || (e.summary || {}).id; }));
      exps.forEach(function (exp, ei) {
        var s = exp.summary || {};
        var name = s.name || s.id;
        view.scenariosOf(exp).forEach(function (scenario, si) {
          if (state.scenario && scenario !== state.scenario) return;
          var runs = pointsOf(exp, scenario, (exp.runs || []).filter(function (r) { return r.scenario === scenario; })
            .sort(U.byLoad));
          list.push({
            id: s.id, name: name, scenario: scenario, runs: runs, streamed: U.expStreamed(exp), batched: U.expBatched(exp),
            color: PALETTE[(compare ? ei : si) % PALETTE.length],
            dash: compare ? U.DASHES[si % U.DASHES.length] : [],
            pointStyle: compare ? U.POINT_STYLES[si % U.POINT_STYLES.length] : "circle",
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
            x: x, y: y, concurrency: run.concurrency, request_rate: C.runRate(run), batch_size: C.runBatch(run), scenario: series.scenario, experiment: series.name,
            expId: series.id, key: run.key, partial: !!run.partial,
            n: run.n || 1, yLow: run.low ? yOf(run.low) : null, yHigh: run.high ? yOf(run.high) : null,
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

    function renderCurves() {
      var list = seriesList();
      var p = state.percentile;
      var ms = function (metric) { return function (run) { var v = statOf(run, metric, p); return v === null ? null : v * 1000; }; };
      var otps = function (run) { return aggOf(run, "mean_output_throughput_tokens_per_s"); };
      var rps = function (run) { return aggOf(run, "requests_per_second"); };
      // Open loop (every shown run has an arrival rate): the load axis is the request rate, not the concurrency.
      var shownRuns = [];
      list.forEach(function (s) { shownRuns = shownRuns.concat(s.runs); });
      var openLoop = shownRuns.length > 0 && shownRuns.every(function (r) { return C.runRate(r) !== null; });
      // Batched tasks: the load is the batch size (every shown run batched), or each run's own (mixed with others).
      var batched = shownRuns.filter(function (r) { return C.runBatch(r) !== null; }).length;
      var allBatched = batched > 0 && batched === shownRuns.length;
      var conc = openLoop || batched ? U.loadOf : function (run) { return run.concurrency; };
      var concurrencies = shownRuns.map(conc);
      var loadName = allBatched ? "batch size" : openLoop ? "request rate" : batched ? "concurrency / batch size" : "concurrency";
      var loadAxisTitle = openLoop && !batched ? "request rate (req/s)" : loadName;
      var tasks = U.taskUnion(view.selectedExperiments());
      syncMetricOptions(shownRuns, tasks);
      showPanel("ttft", tasks.streamed);
      showPanel("tpot", tasks.streamed);
      showPanel("inputs", tasks.batched);

      setText(curveTitles.ttft, "TTFT " + p + " vs output tokens/s");
      setText(curveTitles.tpot, "TPOT " + p + " vs output tokens/s");
      setText(curveTitles.e2e, "E2E latency " + p + " vs requests/s");
      setText(curveTitles.inputs, "E2E latency " + p + " vs inputs/s");
      var m = metricDef(state.metric);
      setText(curveTitles.errors, "Error rate vs " + loadName);
      setText(curveTitles.metric, metricTitle() + " vs " + loadName);
      if (canvases.errors) canvases.errors.setAttribute("aria-label", "Error rate against " + loadName);
      if (canvases.metric) canvases.metric.setAttribute("aria-label", "Chosen metric against " + loadName);

      if (charts.ttft) charts.ttft.options.scales.y.title.text = "TTFT " + p + " (ms)";
      if (charts.tpot) charts.tpot.options.scales.y.title.text = "TPOT " + p + " (ms)";
      if (charts.e2e) charts.e2e.options.scales.y.title.text = "E2E " + p + " (ms)";
      if (charts.inputs) charts.inputs.options.scales.y.title.text = "E2E " + p + " (ms)";
      if (charts.errors) charts.errors.options.scales.x = concurrencyAxis(concurrencies, loadAxisTitle);
      if (charts.metric) {
        charts.metric.options.scales.x = concurrencyAxis(concurrencies, loadAxisTitle);
        charts.metric.options.scales.y.title.text = metricTitle() + " (" + m.unit + ")";
      }
      // Each task's curves only where they mean something (no empty legend entries when tasks are compared).
      var streamedList = list.filter(function (s) { return s.streamed; });
      var batchedList = list.filter(function (s) { return s.batched; });
      setDatasets(charts.ttft, curveDatasets(streamedList, otps, ms("ttft")));
      setDatasets(charts.tpot, curveDatasets(streamedList, otps, ms("tpot")));
      setDatasets(charts.e2e, curveDatasets(list, rps, ms("e2e_latency")));
      setDatasets(charts.inputs, curveDatasets(batchedList, function (run) { return aggOf(run, "inputs_per_second"); },
        ms("e2e_latency")));
      setDatasets(charts.errors, curveDatasets(list, conc, function (run) { var v = aggOf(run, "error_rate"); return v === null ? null : v * 100; }));
      setDatasets(charts.metric, curveDatasets(list, conc, function (run) { return U.metricValue(run, m, state.stat); }));
      goodputCurves(list, shownRuns, conc, concurrencies, loadName, loadAxisTitle);
    }

    function showPanel(id, shown) {
      var figure = canvases[id] && canvases[id].closest("figure");
      if (figure) figure.hidden = !shown;
    }

    // Each series' goodput (solid; its attainment in the tooltip) and its throughput (dotted) against the load;
    // the panel shows only when a shown run has SLOs.
    function goodputCurves(list, shownRuns, conc, concurrencies, loadName, loadAxisTitle) {
      var shown = shownRuns.some(function (r) { return U.sloOf(r, "attainment") !== null; });
      var figure = canvases.goodput && canvases.goodput.closest("figure");
      if (figure) figure.hidden = !shown;
      setText(curveTitles.goodput, "Goodput vs " + loadName);
      if (!charts.goodput) return;
      charts.goodput.options.scales.x = concurrencyAxis(concurrencies, loadAxisTitle);
      var attainment = {};
      shownRuns.forEach(function (r) { attainment[r.key] = U.sloOf(r, "attainment"); });
      var good = curveDatasets(list, conc, function (run) { return U.sloOf(run, "goodput_requests_per_second"); });
      good.forEach(function (d) {
        d.label += " · goodput";
        d.data.forEach(function (p) { p.attainment = attainment[p.key]; });
      });
      var all = curveDatasets(list, conc, function (run) {
        return U.sloOf(run, "attainment") !== null ? aggOf(run, "requests_per_second") : null;
      });
      all.forEach(function (d) {
        Object.assign(d, { label: d.label + " · all requests", borderDash: [2, 3], borderWidth: 1, pointRadius: 2 });
      });
      setDatasets(charts.goodput, shown ? good.concat(all) : []);
    }

    return { node: chartGrid, render: renderCurves };
  }

  GenaiResults.createCurves = createCurves;
})();
