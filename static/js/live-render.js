/* genai-bench live dashboard: draws the model (live-model.js) into the page (templates/index.html) and its charts.
 *
 *   var view = GenaiLive.createView(charts)   charts: GenaiLive.createCharts() (null: figures and tables only)
 *   view.all(model)              everything again (first load, a replay starting over)
 *   view.update(model, type)     what an applied event of that event_type changed
 *   view.eta(model)              the ETA (a clock ticks it every second)
 *   view.connection(state)       the connection badge (connecting, live, reconnecting, closed)
 *   view.resize()                the charts after their view became visible again
 *
 * Nothing from the server is ever inserted as HTML: all text goes through textContent.
 * Needs common.js (window.GenaiCommon) and live-model.js loaded first.
 */
(function () {
  "use strict";

  var C = window.GenaiCommon, L = window.GenaiLive;
  var PALETTE = C.PALETTE, FINAL_STATUSES = L.FINAL_STATUSES;
  var isNum = C.isNum, stat = C.stat, fmtMs = C.fmtMs, fmtRate = C.fmtRate, fmtPercent = C.fmtPercent,
    fmtDuration = C.fmtDuration, fmtNumber = C.fmtNumber, plural = C.plural, el = C.el, setText = C.setText;

  var MAX_POINTS = 2000;            // points kept per time-series dataset (as many as the model keeps)
  var TIME_CHARTS = ["latency", "throughput", "errors"];
  var BANNER_TITLES = { completed: "Benchmark finished.", stopped: "Benchmark stopped early.", failed: "Benchmark failed." };
  var WAITING = "Waiting for the first measurements…";

  function $(id) { return document.getElementById(id); }

  function ms(seconds) { return isNum(seconds) ? seconds * 1000 : null; }

  function fmtClock(unixSeconds) {
    if (!isNum(unixSeconds)) return "";
    var d = new Date(unixSeconds * 1000);
    return [d.getHours(), d.getMinutes(), d.getSeconds()].map(function (n) { return String(n).padStart(2, "0"); }).join(":");
  }

  function shellQuote(s) {
    return /^[A-Za-z0-9_\/.,:=+@%-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'";
  }

  // The latest progress when it is about the run under way (a new run's first tick has not come yet otherwise).
  function currentProgress(model) {
    var p = model.progress, started = model.runStarted;
    return p && (!started || p.run_key === started.run_key) ? p : null;
  }

  function totalPercent(model) {
    if (model.finalStatus === "completed") return 100;
    var v = model.progress ? model.progress.total_progress_percentage : model.status && model.status.progress_percentage;
    return isNum(v) ? v : 0;
  }

  function createView(charts) {
    charts = charts || {};
    var server = charts.latency && L.createServerPanel ? L.createServerPanel() : null;   // the servers' /metrics
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

    // ------------------------------------------------------------ header: status, current run, progress bars
    function header(model) {
      var s = model.status || {};
      var status = String(s.status || "idle");
      // After benchmark_completed the badge shows how it ended, even if no final status event came.
      var dataStatus = model.completed && !FINAL_STATUSES[status] ? model.finalStatus : status;
      var shown = model.replay && dataStatus === "running" ? "replaying" : dataStatus;   // a replayed run says so
      var badge = $("status-badge");
      setText(badge, shown);
      badge.className = "badge badge-" + (/^(idle|running|completed|failed|stopped|replaying)$/.test(shown) ? shown : "idle");
      badge.setAttribute("data-status", dataStatus);
      if (s.model) setText("model-name", String(s.model));
      sloTargets(s.slo);
      var workload = C.workloadText(s.workload);
      $("workload-fact").hidden = !workload;
      setText("current-workload", workload || "—");

      // The run under way: its run_started, else the latest live metrics, else the status.
      var started = model.runStarted, live = model.metrics;
      var run = started || live || { scenario: s.current_scenario || s.traffic_scenario, concurrency: s.current_concurrency,
        request_rate: s.current_request_rate };
      setText("current-scenario", run.scenario ? String(run.scenario) : "—");
      setText("current-concurrency", loadText(run));

      var progress = currentProgress(model);
      var counter = "—", requests = "—", runPct = 0;
      if (progress && isNum(progress.total_runs) && progress.total_runs > 0 && isNum(progress.runs_done)) {
        counter = (progress.runs_done >= progress.total_runs ? progress.total_runs : progress.runs_done + 1) + " / " + progress.total_runs;
      } else if (started && isNum(started.run_index) && isNum(started.total_runs)) {
        counter = started.run_index + " / " + started.total_runs;
      } else if (isNum(s.current_iteration) && isNum(s.total_iterations) && s.total_iterations > 0) {
        counter = s.current_iteration + " / " + s.total_iterations;
      }
      if (progress) {
        runPct = isNum(progress.run_progress_percentage) ? progress.run_progress_percentage : 0;
        if (isNum(progress.requests_done)) {
          requests = String(progress.requests_done);
          if (isNum(progress.max_requests) && progress.max_requests > 0) requests += " / " + progress.max_requests;
          if (isNum(progress.in_flight) && progress.in_flight > 0) requests += " (" + progress.in_flight + " in flight)";
        }
      } else if (started) {
        requests = "0" + (isNum(started.max_requests) ? " / " + started.max_requests : "");
      }
      setText("run-counter", counter);
      setText("run-requests", requests);
      setBar("run", model.finalStatus === "completed" ? 100 : runPct);
      setBar("total", totalPercent(model));
      eta(model);
      setText("reopen-command", "genai-bench serve --experiment-folder " + shellQuote(model.experimentFolder || "<experiment folder>"));
      done(model);
    }

    // The status's SLO targets as dashed lines on the latency chart, redrawn only when they change.
    function sloTargets(targets) {
      var chart = charts.latency;
      if (!chart || !L.sloLines) return;
      var lines = L.sloLines(targets);
      if (JSON.stringify(lines) === JSON.stringify(chart.$sloLines || [])) return;
      chart.$sloLines = lines;
      requestDraw(chart);
    }

    // The current run's load: its concurrency, or for an open-loop run its arrival rate (concurrency is then the cap).
    function loadText(run) {
      if (run.concurrency === undefined || run.concurrency === null) return "—";
      var rate = C.runRate(run);
      return rate !== null ? "r=" + C.fmtRequestRate(rate) + "/s (≤" + run.concurrency + " in flight)" : String(run.concurrency);
    }

    // name: "run" or "total" (the #<name>-progress bar, its -fill and its -text).
    function setBar(name, pct) {
      pct = Math.max(0, Math.min(100, pct));
      $(name + "-progress-fill").style.width = pct.toFixed(1) + "%";
      $(name + "-progress").setAttribute("aria-valuenow", pct.toFixed(0));
      setText(name + "-progress-text", pct.toFixed(0) + "%");
    }

    function eta(model) {
      var s = model.status || {};
      var now = Date.now() / 1000, pct = totalPercent(model);
      if (L.isDone(model)) setText("eta", "done");
      else if (model.replay) setText("eta", "replay " + (model.replay.speed || 1) + "×");
      else if (isNum(s.estimated_end_time) && s.estimated_end_time > 0) setText("eta", fmtDuration(s.estimated_end_time - now));
      else if (isNum(s.start_time) && pct > 1 && s.status === "running") setText("eta", "~" + fmtDuration((now - s.start_time) * (100 - pct) / pct));
      else setText("eta", "—");
    }

    // ------------------------------------------------------------ the completed view (banner, final table)
    function done(model) {
      var status = model.finalStatus;
      var body = document.body;
      body.classList.toggle("is-done", !!status);
      var banner = $("banner"), results = $("results");
      results.classList.toggle("is-final", !!status);
      if (!status) {
        body.removeAttribute("data-final-status");
        banner.hidden = true;
        setText("results-title", "Completed runs");
        setText("results-note", "Runs appear here as they finish.");
        return;
      }
      body.setAttribute("data-final-status", status);
      banner.className = "banner banner-" + status;
      setText("banner-title", (model.replay ? "Replay: " : "") + BANNER_TITLES[status]);
      var n = model.runs.length, folder = model.experimentFolder;
      var errorMessage = model.status && model.status.error_message;
      var text = plural(n, "run") + " completed; the charts are frozen and the tables hold the results.";
      if (status === "stopped") text = "The results of " + plural(n, "run") + " are kept (the last one may be partial).";
      if (status === "failed") text = (errorMessage ? String(errorMessage) + " " : "") + "Results of " + plural(n, "finished run") + " are kept.";
      if (folder) text += " Experiment folder: " + folder;
      setText("banner-text", text);
      banner.hidden = false;
      setText("results-title", "Results");
      setText("results-note", plural(n, "run") + (folder ? " · " + folder : ""));
    }

    // ------------------------------------------------------------ KPI tiles
    function setKpi(id, text) { setText($(id).querySelector(".kpi-value"), text); }

    function kpis(model) {
      var live = model.metrics || {};
      var stats = live.stats || {};
      setKpi("kpi-ttft-p50", fmtMs(stat(stats, "ttft", "p50")));
      setKpi("kpi-ttft-p99", fmtMs(stat(stats, "ttft", "p99")));
      setKpi("kpi-tpot-p50", fmtMs(stat(stats, "tpot", "p50")));
      setKpi("kpi-tpot-p99", fmtMs(stat(stats, "tpot", "p99")));
      setKpi("kpi-e2e-p50", fmtMs(stat(stats, "e2e_latency", "p50")));
      setKpi("kpi-e2e-p99", fmtMs(stat(stats, "e2e_latency", "p99")));
      setKpi("kpi-output-tps", fmtRate(live.output_tokens_per_second));
      setKpi("kpi-rps", fmtRate(live.requests_per_second));
      setKpi("kpi-inputs-ps", fmtRate(live.inputs_per_second));
      setKpi("kpi-input-tps", fmtRate(live.input_tokens_per_second));
      taskView(model);
      // Reasoning models only: the answer's own TTFT and the tokens spent thinking.
      var answer = stat(stats, "ttft_answer", "p50"), thinking = stat(stats, "num_reasoning_tokens", "mean");
      $("kpi-ttft-answer-p50").hidden = !isNum(answer);
      $("kpi-reasoning-tokens").hidden = !isNum(thinking);
      setKpi("kpi-ttft-answer-p50", fmtMs(answer));
      setKpi("kpi-reasoning-tokens", isNum(thinking) ? fmtNumber(thinking) : "—");
      // With --slo: goodput (requests meeting every SLO, per second) and the share of the latest requests meeting them.
      var slo = live.slo;
      $("kpi-goodput").hidden = $("kpi-slo-attainment").hidden = !slo;
      setKpi("kpi-goodput", slo ? fmtRate(slo.goodput_requests_per_second) : "—");
      setKpi("kpi-slo-attainment", slo ? fmtPercent(slo.attainment) : "—");
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
      if (context.length) setText("kpi-context", (L.isDone(model) ? "Last run: " : "Current run: ") + context.join(" · "));
      else setText("kpi-context", model.replay ? "Replaying " + L.replayText(model.replay) + "…" : WAITING);
      if (isNum(model.lastUpdate)) setText("last-update", "last update " + fmtClock(model.lastUpdate));
    }

    // ------------------------------------------------------------ what the task measures
    // The status context names the task: embeddings and rerank answers are not streamed, so their views show E2E
    // and inputs/s, and no TTFT/TPOT tile, series or panel (a status without a task is a text-to-text one).
    var STREAMED_ONLY = ["kpi-ttft-p50", "kpi-ttft-p99", "kpi-tpot-p50", "kpi-tpot-p99", "kpi-output-tps",
      "panel-hist-ttft", "panel-scatter"];
    var BATCHED_ONLY = ["kpi-inputs-ps", "kpi-input-tps"];

    function taskView(model) {
      var task = model.status && model.status.task;
      var streamed = !task || task.streamed !== false;
      STREAMED_ONLY.forEach(function (id) { $(id).hidden = !streamed; });
      BATCHED_ONLY.forEach(function (id) { $(id).hidden = streamed; });
      if (!charts.latency) return;
      // Datasets 0-2 are TTFT p50, TTFT p99 and TPOT p50 (live-charts.js); 0 of throughput is output tok/s.
      [charts.latency.data.datasets[0], charts.latency.data.datasets[1], charts.latency.data.datasets[2],
        charts.throughput.data.datasets[0]].forEach(function (d) { d.hidden = !streamed; });
    }

    // ------------------------------------------------------------ time series
    // The chart points of one model point, per time chart and dataset.
    function plotPoint(entry) {
      var p = entry.p;
      var ys = {
        latency: [ms(p.ttft_p50), ms(p.ttft_p99), ms(p.tpot_p50), ms(p.e2e_latency_p50), ms(p.ttft_answer_p50)],
        throughput: [p.output_tokens_per_second, p.requests_per_second],
        errors: [p.errors, isNum(p.error_rate) ? p.error_rate * 100 : null, isNum(p.slo_attainment) ? p.slo_attainment * 100 : null],
      };
      TIME_CHARTS.forEach(function (name) {
        charts[name].data.datasets.forEach(function (d, i) {
          var y = ys[name][i];
          if (isNum(y)) d.$seen = true;  // an optional series (answer TTFT) joins the legend once it has data
          d.data.push({ x: entry.x, y: isNum(y) ? y : null, t: p.t, scenario: p.scenario, concurrency: p.concurrency });
          if (d.data.length > MAX_POINTS) d.data.splice(0, d.data.length - MAX_POINTS);
        });
      });
    }

    function drawSeries(model) {
      TIME_CHARTS.forEach(function (name) {
        charts[name].$runMarks = model.marks;
        requestDraw(charts[name]);
      });
    }

    function series(model) {
      if (!charts.latency) return;
      TIME_CHARTS.forEach(function (name) { charts[name].data.datasets.forEach(function (d) { d.data = []; }); });
      model.points.forEach(plotPoint);
      drawSeries(model);
    }

    // The model's newest point, when the charts do not hold it yet.
    function newPoint(model) {
      var last = model.points[model.points.length - 1];
      var plotted = charts.latency && charts.latency.data.datasets[0].data;
      if (!last || !plotted || (plotted.length && plotted[plotted.length - 1].t === last.p.t)) return;
      plotPoint(last);
      drawSeries(model);
    }

    // ------------------------------------------------------------ per-run histograms
    function histograms(model) {
      var data = model.histogram, started = model.runStarted;
      var context = "current run";
      if (data && data.scenario) {
        context = String(data.scenario) + (data.concurrency !== undefined || C.runRate(data) !== null ? " · " + C.runLoadLabel(data) : "");
      } else if (!data && started && !L.isDone(model)) {
        context = String(started.scenario) + " · " + C.runLoadLabel(started);
      }
      setText("hist-ttft-context", context);
      setText("hist-e2e-context", context);
      var h = data ? data.histograms : {};
      [[charts.ttftHist, h.ttft], [charts.e2eHist, h.e2e_latency]].forEach(function (pair) {
        if (!pair[0]) return;
        if (!C.setHistogramData(pair[0], pair[1])) C.clearHistogram(pair[0]);
        requestDraw(pair[0]);
      });
    }

    // ------------------------------------------------------------ scatter: one point per finished run
    function scatter(model) {
      var chart = charts.scatter;
      if (!chart) return;
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

    // ------------------------------------------------------------ runs table
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

    function runs(model) {
      var rows = document.createDocumentFragment();
      var showRate = model.runs.some(function (r) { return C.runRate(r) !== null; });
      syncRateColumn(showRate);
      model.runs.forEach(function (r) {
        var stats = r.stats || {};
        var tr = el("tr", { className: r.partial ? "partial" : null });
        var requests = isNum(r.num_requests) ? r.num_requests : r.num_completed_requests;
        cell(tr, String(r.scenario === undefined ? "—" : r.scenario), "scenario");
        cell(tr, isNum(r.num_concurrency) ? String(r.num_concurrency) : "—", "num");
        if (showRate) cell(tr, C.fmtRequestRate(C.runRate(r)), "num");
        cell(tr, isNum(requests) ? String(requests) : "—", "num");
        cell(tr, isNum(r.num_error_requests) ? String(r.num_error_requests) : "—", "num" + (r.num_error_requests > 0 ? " has-errors" : ""));
        cell(tr, fmtMs(stat(stats, "ttft", "p50")), "num");
        cell(tr, fmtMs(stat(stats, "ttft", "p99")), "num");
        cell(tr, fmtMs(stat(stats, "tpot", "p50")), "num");
        cell(tr, fmtMs(stat(stats, "e2e_latency", "p50")), "num");
        cell(tr, fmtRate(r.mean_output_throughput_tokens_per_s), "num");
        cell(tr, fmtRate(r.requests_per_second), "num");
        rows.appendChild(tr);
      });
      $("runs-body").replaceChildren(rows);
      $("runs-empty").hidden = model.runs.length > 0;
    }

    // ------------------------------------------------------------ log panel
    function logLine(entry) {
      var li = el("li", { className: "log-" + entry.level });
      li.append(
        el("span", { className: "log-time" }, fmtClock(entry.time)),
        el("span", { className: "log-level" }, entry.level),
        el("span", { className: "log-message" }, entry.message));
      return li;
    }

    // all: every line again; otherwise the newest line is added (the list keeps following the end if it did).
    function logs(model, all) {
      var list = $("log-list");
      var stick = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
      if (all) {
        list.replaceChildren.apply(list, model.logs.map(logLine));
      } else if (model.logs.length) {
        list.appendChild(logLine(model.logs[model.logs.length - 1]));
        while (list.children.length > model.logs.length) list.removeChild(list.firstChild);
      }
      if (stick) list.scrollTop = list.scrollHeight;
    }

    // ------------------------------------------------------------ multi-turn runs: latency by turn index
    function turns(model) {
      var byTurn = (model.metrics || {}).by_turn;
      $("turns").hidden = !byTurn;
      if (!byTurn) return;
      var rows = document.createDocumentFragment();
      Object.keys(byTurn).sort(function (a, b) { return a - b; }).forEach(function (turn) {
        var t = byTurn[turn] || {};
        var tr = el("tr");
        cell(tr, String(turn), "num");
        cell(tr, isNum(t.count) ? String(t.count) : "—", "num");
        cell(tr, fmtMs(t.ttft_p50), "num");
        cell(tr, fmtMs(t.e2e_latency_p50), "num");
        rows.appendChild(tr);
      });
      $("turns-body").replaceChildren(rows);
    }

    // ------------------------------------------------------------ capacity search: its goal, bounds and steps
    function search(model) {
      var data = model.search;
      $("search").hidden = !data;
      if (!data) return;
      var slos = Object.keys(data.slos || {}).map(function (k) { return k + " ≤ " + data.slos[k]; }).join(", ");
      setText("search-goal", data.kind + " · SLOs " + slos + " · ≥" + Math.round(data.attainment_target * 100) + "% attainment");
      setText("search-summary", data.summary);
      var rows = document.createDocumentFragment();
      (data.steps || []).forEach(function (step, i) {
        var tr = el("tr");
        cell(tr, String(i + 1), "num");
        cell(tr, (data.kind === "max-rate" ? step.load + " req/s" : String(step.load)), "num");
        cell(tr, isNum(step.attainment) ? (step.attainment * 100).toFixed(1) + "%" : "—", "num");
        cell(tr, step.passed ? "passed" : step.oversaturated ? "failed (oversaturated)" : "failed",
          step.passed ? "search-pass" : "search-fail");
        rows.appendChild(tr);
      });
      $("search-body").replaceChildren(rows);
    }

    // ------------------------------------------------------------ --alert: the firing banner, marks on the time charts
    function alerts(model) {
      if (!L.drawAlerts) return;
      var timeCharts = charts.latency ? TIME_CHARTS.map(function (name) { return charts[name]; }) : [];
      if (server) timeCharts = timeCharts.concat(Object.keys(server.charts).map(function (k) { return server.charts[k]; }));
      L.drawAlerts(model, timeCharts);
    }

    // ------------------------------------------------------------ the whole page, or what one event changed
    function all(model) {
      header(model);
      kpis(model);
      turns(model);
      search(model);
      series(model);
      histograms(model);
      scatter(model);
      runs(model);
      logs(model, true);
      if (server) server.draw(model);
      alerts(model);
    }

    function update(model, type) {
      switch (type) {
        case "log": logs(model, false); return;
        case "histogram": histograms(model); return;
        case "scatter": scatter(model); return;
        case "run_completed": runs(model); break;
        case "search": search(model); return;
        case "server_metrics": if (server) server.draw(model); return;
        case "alert": alerts(model); return;
        case "run_started": histograms(model); break;
        case "metrics": kpis(model); turns(model); newPoint(model); break;
        default: kpis(model); break;   // status, progress, benchmark_completed
      }
      header(model);
    }

    function connection(state) {
      var badge = $("connection");
      badge.className = "connection conn-" + state;
      badge.setAttribute("data-state", state);
      setText("connection-text", state);
      $("closed-note").hidden = state !== "closed";
    }

    function resize() {
      Object.keys(charts).forEach(function (k) { if (charts[k]) charts[k].resize(); });
    }

    return { all: all, update: update, eta: eta, connection: connection, resize: resize };
  }

  window.GenaiLive = Object.assign(window.GenaiLive || {}, { createView: createView });
})();
