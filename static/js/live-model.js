/* genai-bench live dashboard: the page's state, with no DOM (docs/events.md).
 *
 *   GenaiLive.createModel()              the empty state: the page before anything arrived
 *   GenaiLive.applyState(model, state)   folds a GET api/state document into a fresh model
 *   GenaiLive.applyEnvelope(model, env)  folds one event envelope; returns its event_type, or null when it changed nothing
 *   GenaiLive.startsReplay(model, env)   true for a new status "replaying" envelope: the page starts over from a fresh model
 *   GenaiLive.addLog(model, data, time)  a log line (from a log event, or written by the page itself)
 *   GenaiLive.isDone(model)              the benchmark ended: the charts and per-run panels are frozen
 *
 * Events carry what the page shows: the model keeps them as they came (a status replaces the previous one, a
 * metrics event brings its ready-made time-series point), keyed by run_key where they belong to one run.
 * Needs common.js (window.GenaiCommon) loaded first.
 */
(function () {
  "use strict";

  var C = window.GenaiCommon;
  var isNum = C.isNum;

  var MAX_POINTS = 2000;            // time-series points kept
  var MAX_LOG_LINES = 200;          // log lines kept
  var FINAL_STATUSES = { completed: true, stopped: true, failed: true };

  function createModel() {
    return {
      lastEventId: 0,
      status: null,          // the latest status data (complete: each status event replaces it)
      runStarted: null,      // the latest run_started data
      progress: null,        // the latest progress data
      metrics: null,         // the latest metrics data's live_metrics
      lastUpdate: null,      // unix s of the latest live metrics event
      histogram: null,       // the current run's histogram data (null again when a run starts)
      scatter: {},           // run_key -> scatter point of a finished run
      runs: [],              // run_completed data, one per run_key, in arrival order
      points: [],            // plotted time-series points: {x: s on the time axes, p: the metrics event's point}
      marks: [],             // where a new run starts on the time axes: {x, run_key, label}
      t0: null,              // unix s the time axes count from
      logs: [],              // {level, message, time (unix s)}
      search: null,          // the latest search data (a capacity search's goal, steps and bounds), else null
      server: null,          // the latest server_metrics data (the servers' /metrics, normalized), else null
      serverPoints: [],      // {x: s on the time axes, s: server_metrics data}
      completed: null,       // benchmark_completed data once the sweep ended
      finalStatus: null,     // completed, stopped or failed once the benchmark ended
      experimentFolder: null,
      replay: null,          // {what, speed} while the page shows a replayed event log (POST api/replay)
      alerts: { firing: {}, events: [] },   // --alert: the rules firing now, and every alert event (live-alerts.js)
    };
  }

  function isDone(model) { return model.finalStatus !== null; }

  function pushBounded(list, item, max) {
    list.push(item);
    if (list.length > max) list.splice(0, list.length - max);
  }

  // ---------------------------------------------------------------- time series
  function addPoint(model, p) {
    if (isDone(model) || !p || !isNum(p.t)) return false;
    var last = model.points[model.points.length - 1];
    if (last && p.t <= last.p.t) return false;   // already plotted (snapshot or replayed event)
    // A replay runs `speed` times faster than the benchmark did: its time axes show the original timeline.
    var speed = model.replay && model.replay.speed > 0 ? model.replay.speed : 1;
    if (model.t0 === null) model.t0 = p.t - (isNum(p.elapsed) ? Math.max(0, p.elapsed) : 0) / speed;
    var x = (p.t - model.t0) * speed;
    var mark = model.marks[model.marks.length - 1];
    if (!mark || mark.run_key !== p.run_key) model.marks.push({ x: x, run_key: p.run_key, label: C.runLoadLabel(p) });
    pushBounded(model.points, { x: x, p: p }, MAX_POINTS);
    var first = model.points[0];
    while (model.marks.length > 1 && model.marks[1].x <= first.x) model.marks.shift();
    return true;
  }

  // A scrape of the servers' /metrics, on the time axes of the client's points.
  function addServerPoint(model, data) {
    if (isDone(model) || !data || !isNum(data.t)) return false;
    var last = model.serverPoints[model.serverPoints.length - 1];
    if (last && data.t <= last.s.t) return false;
    var speed = model.replay && model.replay.speed > 0 ? model.replay.speed : 1;
    if (model.t0 === null) model.t0 = data.t;   // a run's first scrape comes before its first live tick
    model.server = data;
    pushBounded(model.serverPoints, { x: (data.t - model.t0) * speed, s: data }, MAX_POINTS);
    return true;
  }

  // ---------------------------------------------------------------- one event type each
  function applyStatus(model, data) {
    model.status = data;
    if (data.experiment_folder) model.experimentFolder = String(data.experiment_folder);
    if (FINAL_STATUSES[data.status]) model.finalStatus = data.status;
    model.replay = replayOf(data) || model.replay;
  }

  // What a status says about a replay under way ({what, speed}), or null when it is not one.
  function replayOf(status) {
    if (status.status !== "replaying" && !isNum(status.replay_speed)) return null;
    var folder = status.experiment_folder ? String(status.experiment_folder) : "";
    return {
      what: folder ? C.baseName(folder) : status.experiment ? String(status.experiment) : "a finished experiment",
      speed: isNum(status.replay_speed) ? status.replay_speed : null,
    };
  }

  function applyRunStarted(model, data) {
    model.runStarted = data;
    if (!isDone(model)) model.histogram = null;   // the per-run panels start empty for the new run
  }

  function applyMetrics(model, data, timestamp) {
    model.metrics = data.live_metrics || null;
    if (isNum(timestamp)) {
      model.lastUpdate = timestamp;
      addPoint(model, data.point);
    }
  }

  function applyHistogram(model, data) {
    if (isDone(model) || !data.histograms) return false;
    model.histogram = data;
    return true;
  }

  function applyScatter(model, data) {
    (Array.isArray(data.points) ? data.points : []).forEach(function (p) {
      if (p) model.scatter[p.run_key] = p;
    });
  }

  function applyRunCompleted(model, data) {
    var i = model.runs.findIndex(function (r) { return r.run_key === data.run_key; });
    if (i >= 0) model.runs[i] = data; else model.runs.push(data);
  }

  function addLog(model, data, time) {
    var level = String(data.level || "info").toLowerCase();
    if (level === "warn") level = "warning";
    pushBounded(model.logs, {
      level: /^(info|warning|error)$/.test(level) ? level : "info",
      message: String(data.message === undefined ? "" : data.message),
      time: isNum(data.timestamp) ? data.timestamp : time,
    }, MAX_LOG_LINES);
  }

  // live-alerts.js keeps the alerts (loaded after this file: looked up when an alert comes).
  function applyAlert(model, data) {
    var L = window.GenaiLive;
    return !!L.applyAlert && L.applyAlert(model, data);
  }

  function applyCompleted(model, data) {
    model.completed = data;
    if (data.experiment_folder) model.experimentFolder = String(data.experiment_folder);
    model.finalStatus = FINAL_STATUSES[data.status] ? String(data.status) : "completed";
  }

  // ---------------------------------------------------------------- envelopes and the api/state document
  function startsReplay(model, env) {
    return !!env && env.event_type === "status" && !!env.data && env.data.status === "replaying"
      && !(isNum(env.id) && env.id <= model.lastEventId);
  }

  function applyEnvelope(model, env) {
    if (!env || typeof env !== "object" || !env.data) return null;
    var data = env.data;
    // Snapshot events we already hold carry ids we have seen: only the status is taken again.
    var seen = isNum(env.id) && env.id <= model.lastEventId;
    if (seen && env.event_type !== "status") return null;
    if (isNum(env.id) && !seen) model.lastEventId = env.id;
    switch (env.event_type) {
      case "status": applyStatus(model, data); break;
      case "run_started": applyRunStarted(model, data); break;
      case "progress": model.progress = data; break;
      case "metrics": applyMetrics(model, data, env.timestamp); break;
      case "histogram": if (!applyHistogram(model, data)) return null; break;
      case "scatter": applyScatter(model, data); break;
      case "run_completed": applyRunCompleted(model, data); break;
      case "log": addLog(model, data, env.timestamp); break;
      case "search": model.search = data; break;
      case "server_metrics": if (!addServerPoint(model, data)) return null; break;
      case "benchmark_completed": applyCompleted(model, data); break;
      case "alert": if (!applyAlert(model, data)) return null; break;
      default: return null;
    }
    if (!seen && env.event_type === "status" && data.status === "replaying") {
      addLog(model, { level: "info", message: "Replaying " + replayText(model.replay) }, env.timestamp);
    }
    return env.event_type;
  }

  // "<experiment> at 10×"
  function replayText(replay) {
    return replay.what + (replay.speed !== null ? " at " + replay.speed + "×" : "");
  }

  function applyState(model, state) {
    var status = state.status;
    // The time axes count from the benchmark's start (a replay's: from its first point); points go in before a
    // final status freezes the charts.
    model.replay = status ? replayOf(status) : null;
    if (status && !model.replay && isNum(status.start_time) && status.start_time > 0) model.t0 = status.start_time;
    (state.timeseries || []).forEach(function (p) { addPoint(model, p); });
    (state.server_timeseries || []).forEach(function (s) { addServerPoint(model, s); });
    (state.history || []).forEach(function (r) { applyRunCompleted(model, r); });
    (state.logs || []).forEach(function (l) { addLog(model, l, null); });
    (state.alerts || []).forEach(function (a) { applyAlert(model, a); });
    if (state.scatter) applyScatter(model, state.scatter);
    if (state.histogram) applyHistogram(model, state.histogram);
    if (state.progress) model.progress = state.progress;
    if (state.search) model.search = state.search;
    if (state.metrics) applyMetrics(model, state.metrics, null);
    if (status) applyStatus(model, status);
    if (state.completed) applyCompleted(model, state.completed);
    if (isNum(state.last_event_id)) model.lastEventId = state.last_event_id;
  }

  window.GenaiLive = Object.assign(window.GenaiLive || {}, {
    createModel: createModel,
    applyState: applyState,
    applyEnvelope: applyEnvelope,
    startsReplay: startsReplay,
    addLog: addLog,
    isDone: isDone,
    replayText: replayText,
    FINAL_STATUSES: FINAL_STATUSES,
  });
})();
