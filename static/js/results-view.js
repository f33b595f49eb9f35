/* genai-bench results view: finished (and just-finished) experiments, per scenario curves across concurrency,
 * a sortable per-run table and a per-run drill-down.
 *
 *   window.GenaiResults.mount(rootElement, source, options) -> controller
 *   source: see results-sources.js. options: select ("newest", "all", an id or ids), heading, onReplay(summary,
 *   speed, answer), onSelection(summaries), requestsHint, scrollIntoView.
 *
 * The mount owns the view's state and loading; its parts draw it (results-picker.js, results-curves.js,
 * results-table.js, results-drill.js), each given the shared context `view`.
 * Needs common.js, results-base.js and the parts loaded first.
 */
(function () {
  "use strict";

  var C = window.GenaiCommon, GenaiResults = window.GenaiResults, U = GenaiResults.util;
  var el = C.el, errorText = C.errorText;

  function mount(root, source, options) {
    options = options || {};
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
    if (window.Chart) C.applyChartDefaults(window.Chart);

    var message = el("p", { className: "rv-message", id: "rv-message", role: "status", hidden: true });
    function showMessage(text) {
      message.textContent = text || "";
      message.hidden = !text;
    }

    // What the parts share: the state, the source, the charts, and how to ask for a redraw or a run.
    var view = {
      state: state,
      source: source,
      options: options,
      charts: charts,
      showMessage: showMessage,
      selectedExperiments: selectedExperiments,
      scenariosOf: scenariosOf,
      renderAll: renderAll,
      renderCurves: function () { curves.render(); },
      openRun: function (id, key) { return drill.open(id, key); },
      markOpen: function (id, key) { table.markOpen(id, key); },
    };
    var picker = GenaiResults.createPicker(view);
    var curves = GenaiResults.createCurves(view);
    var table = GenaiResults.createTable(view);
    var drill = GenaiResults.createDrill(view);
    // Served lists can be filtered by the server (results-filters.js; absent from the report, which needs none).
    var filters = GenaiResults.createFilters && source.served ? GenaiResults.createFilters(view, function () {
      // Keep the ticked experiments the filter still lists; with none left, show the newest listed.
      return refresh(state.selected.slice()).then(function () {
        if (state.selected.length || !state.list.length) return;
        state.selected = [state.list[0].id];
        picker.render();
        return renderAll();
      });
    }) : null;
    if (filters) picker.head.insertBefore(filters.node, picker.head.children[1] || null);

    // A capacity search's outcome comes first: it is the experiment's answer.
    var searchBanner = el("section", { className: "rv-search", id: "rv-search", "aria-label": "Capacity search", hidden: true });
    function renderSearch() {
      var lines = selectedExperiments().filter(function (e) { return e.metadata && e.metadata.search; }).map(function (e) {
        var s = e.metadata.search, name = (e.summary || {}).name || (e.summary || {}).id;
        var slos = Object.keys(s.slos || {}).map(function (k) { return k + " ≤ " + s.slos[k]; }).join(", ");
        var line = el("p", { className: "rv-search-line" });
        line.append(el("strong", null, s.summary), el("span", { className: "panel-note" },
          " · " + name + " · SLOs " + slos + " · " + (s.steps || []).length + " steps (" + s.kind + ")"));
        return line;
      });
      searchBanner.replaceChildren.apply(searchBanner, lines);
      searchBanner.hidden = !lines.length;
    }

    // --alert: the rules that fired during each selected experiment, and the one that stopped it.
    var alertsBanner = el("section", { className: "rv-search rv-alerts", id: "rv-alerts", "aria-label": "Alerts", hidden: true });
    function renderAlerts() {
      var lines = selectedExperiments().filter(function (e) { return e.metadata && (e.metadata.alerts || []).length; }).map(function (e) {
        var m = e.metadata, name = (e.summary || {}).name || (e.summary || {}).id, fired = {};
        m.alerts.forEach(function (a) { if (a.state === "firing") fired[a.rule] = (fired[a.rule] || 0) + 1; });
        var rules = Object.keys(fired).map(function (rule) { return rule + (fired[rule] > 1 ? " ×" + fired[rule] : ""); });
        var line = el("p", { className: "rv-search-line" });
        line.append(el("strong", { className: "alert-rule" }, "Alerts fired: " + (rules.join(", ") || "none")),
          el("span", { className: "panel-note" }, " · " + name + (m.stopped_by_alert ? " · stopped by alert " + m.stopped_by_alert : "")));
        return line;
      });
      alertsBanner.replaceChildren.apply(alertsBanner, lines);
      alertsBanner.hidden = !lines.length;
    }

    root.replaceChildren();
    var page = el("div", { className: "rv" });
    page.append(searchBanner, alertsBanner, picker.head, picker.cards, message, curves.node, table.node, drill.node);
    root.appendChild(page);
    if (!window.Chart) showMessage("The chart library did not load: the table still works.");

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
      return source.experiments(state.filter).then(function (answer) {
        if (state.destroyed) return;
        var info = U.asList(answer);
        state.mode = info.mode;
        state.list = info.experiments.filter(function (s) { return s && s.id !== undefined && s.id !== null; });
        if (filters) filters.update(state.list);
        var ids = state.list.map(function (s) { return s.id; });
        var wanted = selection || options.select || "newest";
        var chosen;
        if (wanted === "all") chosen = ids.slice();
        else if (wanted === "newest") chosen = ids.slice(0, 1);
        else if (Array.isArray(wanted)) chosen = wanted.filter(function (id) { return ids.indexOf(id) >= 0; });
        else chosen = ids.indexOf(wanted) >= 0 ? [wanted] : ids.slice(0, 1);
        if (!chosen.length && ids.length && !Array.isArray(wanted)) chosen = ids.slice(0, 1);
        state.selected = chosen;
        picker.render();
        return renderAll();
      }, function (err) {
        picker.note("could not list the experiments");
        showMessage("Could not load the experiments: " + errorText(err));
        throw err;
      });
    }

    // ---- main render
    function selectedExperiments() {
      return state.selected.map(function (id) { return state.data[id]; }).filter(Boolean);
    }

    function scenariosOf(exp) {
      var seen = [];
      (exp.runs || []).forEach(function (r) { if (seen.indexOf(r.scenario) < 0) seen.push(r.scenario); });
      return seen;
    }

    function renderAll() {
      var seq = ++state.renderSeq;
      picker.swatches();
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
        picker.scenarios();
        picker.renderCards();
        renderSearch();
        renderAlerts();
        curves.render();
        table.render();
        if (state.drill && state.selected.indexOf(state.drill.id) < 0) drill.close();
        if (options.onSelection) {
          try { options.onSelection(selectedExperiments().map(function (e) { return e.summary; })); } catch (e) { /* ignore */ }
        }
        root.setAttribute("data-ready", "true");
      });
    }

    function eachChart(fn) {
      [charts.ttft, charts.tpot, charts.e2e, charts.inputs, charts.errors, charts.metric, charts.goodput, charts.drillScatter,
        charts.drillHist.ttft, charts.drillHist.tpot, charts.drillHist.e2e, charts.drillServer].forEach(function (c) { if (c) fn(c); });
    }

    var controller = {
      source: source,
      state: state,
      charts: charts,
      ready: null,
      refresh: function (selection) { return refresh(selection); },
      select: function (ids) {
        state.selected = ids.filter(function (id) { return !!summaryOf(id); });
        picker.render();
        return renderAll();
      },
      openRun: drill.open,
      closeRun: drill.close,
      resize: function () { eachChart(function (c) { c.resize(); }); },
      destroy: function () {
        state.destroyed = true;
        eachChart(function (c) { c.destroy(); });
        root.replaceChildren();
        root.removeAttribute("data-ready");
      },
      // For tests and debugging.
      errorBarCounts: function (name) {
        var c = charts[name || "ttft"];
        return c ? c.data.datasets.map(function (d) { return d.data.filter(function (p) { return isFinite(p.yHigh); }).length; }) : [];
      },
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

  GenaiResults.mount = mount;
  GenaiResults.current = null;
})();
