/* genai-bench live dashboard page (templates/index.html): wires the connection (live-transport.js) to the page's
 * state (live-model.js) and its drawing (live-render.js, live-charts.js).
 *
 * Load, a replay starting over and the first paint take one path: a fresh model, then everything drawn from it.
 * Each later event is applied to the model, then only what it changed is drawn again.
 *
 * Tells the rest of the page (results-page.js) through CustomEvents on document:
 *   "genai:replay-started"       detail: the status data of the replay
 *   "genai:benchmark-completed"  detail: the benchmark_completed data + {runs: [run_completed data], replay: bool}
 *   "genai:event"                detail: each envelope from the stream as it arrives (plugin panels, live-panels.js)
 * and listens to "genai:view-shown" (detail {view: "live"}) to fit its charts to the view shown again.
 *
 * window.genaiDashboard is a read-only handle for debugging and tests, not an interface.
 */
(function () {
  "use strict";

  var L = window.GenaiLive;
  var model = L.createModel();
  var charts = null, view = null, link = null;

  function notify(name, detail) {
    try {
      document.dispatchEvent(new CustomEvent(name, { detail: detail }));
    } catch (e) { /* a listener failed: the live view carries on */ }
  }

  function note(level, message) {
    L.addLog(model, { level: level, message: message }, Date.now() / 1000);
    view.update(model, "log");
  }

  function completed() {
    notify("genai:benchmark-completed", Object.assign({}, model.completed, { runs: model.runs.slice(), replay: !!model.replay }));
  }

  // The page starts over from `fresh` (first paint, api/state, a replay starting).
  function show(fresh) {
    model = fresh;
    view.all(model);
    if (!charts) note("error", "Chart library failed to load; figures and tables still update.");
    if (model.replay && !model.completed) notify("genai:replay-started", model.status);
    if (model.completed) completed();
  }

  function onState(state) {
    var fresh = L.createModel();
    L.applyState(fresh, state);
    show(fresh);
  }

  function onEnvelope(env) {
    notify("genai:event", env);
    if (L.startsReplay(model, env)) {
      var fresh = L.createModel();
      L.applyEnvelope(fresh, env);
      show(fresh);
      return;
    }
    var type = L.applyEnvelope(model, env);
    if (!type) return;
    view.update(model, type);
    if (type === "benchmark_completed") completed();
  }

  function start() {
    charts = L.createCharts();
    view = L.createView(charts);
    show(model);
    setInterval(function () { view.eta(model); }, 1000);
    link = L.connect({
      lastEventId: function () { return model.lastEventId; },
      done: function () { return L.isDone(model); },
      state: onState,
      envelope: onEnvelope,
      connection: view.connection,
      error: function (message) { note("error", message); },
    });
    document.addEventListener("genai:view-shown", function (e) {
      if (e.detail && e.detail.view === "live") view.resize();
    });
  }

  window.genaiDashboard = Object.freeze({
    get charts() { return charts || {}; },
    get model() { return model; },
    seriesLength: function () {
      return charts ? charts.latency.data.datasets[0].data.length : 0;
    },
    connection: function () { return link ? link.state() : "connecting"; },
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
