/* genai-bench results view: the drill-down of one run (its facts, its requests over time, its latency
 * distributions), from the source's per-request data.
 *
 *   var drill = GenaiResults.createDrill(view)   view: the mount's shared context (results-view.js)
 *   drill.node         the panel                  drill.open(id, key) -> Promise (true once the requests are shown)
 *   drill.close()
 * Its charts go into view.charts (drillScatter, drillHist.{ttft, tpot, e2e}, drillServer: the server's /metrics over
 * the run, from the answer's server_metrics, its figure hidden without them).
 *
 * Needs common.js and results-base.js loaded first.
 */
(function () {
  "use strict";

  var C = window.GenaiCommon, GenaiResults = window.GenaiResults, U = GenaiResults.util;
  var COLORS = C.COLORS;
  var isNum = C.isNum, el = C.el, fmtMs = C.fmtMs, fmtRate = C.fmtRate, fmtPercent = C.fmtPercent, plural = C.plural,
    errorText = C.errorText;
  var statOf = U.statOf, fmtExact = U.fmtExact, axis = U.axis;

  function createDrill(view) {
    var state = view.state, charts = view.charts, options = view.options, source = view.source, Chart = window.Chart;
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
      return U.chartFigure(drillGrid, { className: "chart-panel rv-drill-chart" + (id === "scatter" || id === "server" ? " rv-wide" : "") },
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
      server: drillPanel("server", "The server during the run (its /metrics)"),
    };
    var serverFigure = drillCanvases.server.parentNode.parentNode;
    function figureOf(canvas) { return canvas.parentNode.parentNode; }
    serverFigure.hidden = true;
    drill.append(drillHead, drillFacts, drillMessage, drillGrid);

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
      options: Object.assign(U.chartBaseOptions(), {
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
                if (isNum(r.ttft) || isNum(r.tpot)) lines.push("TTFT: " + fmtExact(r.ttft, "ms"), "TPOT: " + fmtExact(r.tpot, "ms"));
                lines.push("E2E: " + fmtExact(r.e2e, "ms"));
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


    // Running and waiting requests (left), KV cache usage % and the server's generated tokens/s (right).
    charts.drillServer = Chart ? new Chart(drillCanvases.server, {
      type: "line",
      data: { datasets: [] },
      options: Object.assign(U.chartBaseOptions(), {
        parsing: false,
        scales: {
          x: axis("t (s since the run started)", { min: 0 }),
          y: axis("requests", { beginAtZero: true }),
          y2: axis("KV %", { position: "right", beginAtZero: true, suggestedMax: 100, grid: { drawOnChartArea: false } }),
          y3: axis("generated tok/s", { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } }),
        },
      }),
    }) : null;

    function renderDrillServer(series) {
      var chart = charts.drillServer;
      serverFigure.hidden = !series || !Array.isArray(series.t) || !series.t.length;
      if (!chart || serverFigure.hidden) return U.setDatasets(chart, []);
      function line(name, label, color, axisId, extra) {
        var values = series[name] || [];
        return Object.assign({
          label: label, yAxisID: axisId, borderColor: color, backgroundColor: color, borderWidth: 1.6, pointRadius: 0,
          data: series.t.map(function (t, i) { return { x: t, y: isNum(values[i]) ? values[i] : null }; }),
        }, extra || {});
      }
      U.setDatasets(chart, [
        line("running", "running", COLORS.blue, "y", { stepped: true }),
        line("waiting", "waiting", COLORS.orange, "y", { stepped: true }),
        line("kv_cache_usage", "KV cache %", COLORS.purple, "y2"),
        line("generation_tokens_per_second", "generated tok/s", COLORS.green, "y3", { borderDash: [5, 3] }),
      ]);
    }

    drillMetricSelect.addEventListener("change", function () { state.drillMetric = drillMetricSelect.value; if (state.drillData) renderDrillScatter(state.drillData); });
    drillClose.addEventListener("click", closeDrill);

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
      view.markOpen(id, key);
      var s = found.exp.summary || {};
      var run = found.run;
      var agg = run.aggregated || {};
      // Batched tasks (embeddings, rerank) do not stream: no TTFT or TPOT to show, E2E over time instead.
      var streamed = U.expStreamed(found.exp);
      figureOf(drillCanvases.ttft).hidden = !streamed;
      figureOf(drillCanvases.tpot).hidden = !streamed;
      Array.prototype.forEach.call(drillMetricSelect.options, function (o) {
        o.hidden = o.disabled = !streamed && o.value !== "e2e_latency";
      });
      if (!streamed && state.drillMetric !== "e2e_latency") state.drillMetric = "e2e_latency";
      drillMetricSelect.value = state.drillMetric;
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
      fact("Errors", (isNum(agg.num_error_requests) ? String(agg.num_error_requests) : "—") + (isNum(agg.error_rate) ? " (" + fmtPercent(agg.error_rate) + " %)" : ""));
      // Our finer breakdown ("timeout", "incomplete_stream", HTTP statuses); upstream's numeric codes when that is all.
      var byKind = agg.error_kinds_frequency || agg.error_codes_frequency;
      var codes = byKind && typeof byKind === "object" ? byKind : {};
      var codeText = Object.keys(codes).map(function (c) { return c + ": " + codes[c]; }).join(", ");
      if (codeText) fact("Error codes", codeText);
      fact("Duration", isNum(agg.run_duration) ? fmtExact(agg.run_duration, "s") : "—");
      if (C.runBatch(run) !== null) fact("Batch size", String(C.runBatch(run)));
      if (streamed) fact("Output tokens/s", fmtRate(agg.mean_output_throughput_tokens_per_s));
      fact("Requests/s", fmtRate(agg.requests_per_second));
      if (C.runBatch(run) !== null && isNum(agg.inputs_per_second)) fact("Inputs/s", fmtRate(agg.inputs_per_second) + (isNum(agg.total_inputs) ? " (" + agg.total_inputs + " inputs)" : ""));
      if (C.runRate(run) !== null) fact("Arrival rate", fmtExact(C.runRate(run), "req/s") + " · ≤" + run.concurrency + " in flight");
      if (U.hasStat(run, "schedule_lag")) fact("Schedule lag p50 / p99", fmtMs(statOf(run, "schedule_lag", "p50")) + " / " + fmtMs(statOf(run, "schedule_lag", "p99")) + " ms");
      if (streamed) fact("TTFT p50 / p99", fmtMs(statOf(run, "ttft", "p50")) + " / " + fmtMs(statOf(run, "ttft", "p99")) + " ms");
      fact("E2E p50 / p99", fmtMs(statOf(run, "e2e_latency", "p50")) + " / " + fmtMs(statOf(run, "e2e_latency", "p99")) + " ms");
      if (agg.tokens_estimated) fact("Tokens", "estimated");
      if (isNum(agg.token_count_mismatch)) {
        fact("Usage vs local count", fmtPercent(agg.token_count_mismatch) + " % of " + agg.token_count_checked + " checked differ > 5 %");
      }
      var server = agg.server;
      if (server && typeof server === "object") {
        fact("Server running mean / max", fmtRate(server.running_mean) + " / " + fmtRate(server.running_max));
        fact("Server waiting max · KV max", fmtRate(server.waiting_max) + " · " + (isNum(server.kv_cache_usage_max) ? fmtRate(server.kv_cache_usage_max) + " %" : "—"));
        if (streamed) fact("Server generated tok/s mean", fmtRate(server.generation_tokens_per_second_mean));
        if (streamed && isNum(server.generated_tokens)) {
          fact("Server vs client tokens", fmtRate(server.generated_tokens) + " vs " + fmtRate(server.client_output_tokens) +
            (isNum(server.token_difference) ? " (" + (server.token_difference >= 0 ? "+" : "") + (server.token_difference * 100).toFixed(1) + " %)" : "") +
            (agg.server_token_mismatch ? " — mismatch" : ""));
        }
      }
      if (U.hasStat(run, "ttft_answer")) {
        fact("Answer TTFT p50 / p99", fmtMs(statOf(run, "ttft_answer", "p50")) + " / " + fmtMs(statOf(run, "ttft_answer", "p99")) + " ms");
        fact("Reasoning tokens mean", fmtRate(statOf(run, "num_reasoning_tokens", "mean")));
      }
      // Multi-turn runs: one line per turn index, so prefix reuse across turns shows.
      var byTurn = agg.stats_by_turn && typeof agg.stats_by_turn === "object" ? agg.stats_by_turn : {};
      Object.keys(byTurn).sort(function (a, b) { return a - b; }).forEach(function (turn) {
        var t = byTurn[turn] || {};
        var ttft = t.ttft || {}, e2e = t.e2e_latency || {};
        fact("Turn " + turn, (isNum(t.count) ? plural(t.count, "request") : "—") + " · TTFT p50 " + fmtMs(ttft.p50) +
          " ms · E2E p50 " + fmtMs(e2e.p50) + " ms" + (isNum(t.num_input_tokens) ? " · " + fmtRate(t.num_input_tokens) + " input tokens" : ""));
      });
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
        renderDrillServer(answer.server_metrics);
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
      U.setDatasets(charts.drillScatter, []);
      renderDrillServer(null);
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
      view.markOpen(null, null);
    }

    return { node: drill, open: openRun, close: closeDrill };
  }

  GenaiResults.createDrill = createDrill;
})();
