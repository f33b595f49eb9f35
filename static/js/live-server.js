/* genai-bench live dashboard: the server panel, what the servers' own /metrics say (server_metrics events), on the
 * time axis of the client's charts.
 *
 *   var panel = GenaiLive.createServerPanel()   null without Chart.js
 *   panel.draw(model)                          the panel again from model.serverPoints (hidden while there are none)
 *
 * Charts: the queue (running, waiting), KV cache usage (%), and the server's generated tokens/s against the
 * client's output tokens/s. Needs common.js, live-model.js and live-charts.js loaded first.
 */
(function () {
  "use strict";

  var C = window.GenaiCommon, L = window.GenaiLive;
  var COLORS = C.COLORS, isNum = C.isNum, setText = C.setText;

  function $(id) { return document.getElementById(id); }

  function chart(canvasId, yTitle, datasets) {
    var options = L.timeChartOptions(yTitle);
    return new window.Chart($(canvasId), {
      type: "line", data: { datasets: datasets }, options: options, plugins: [L.runMarkersPlugin],
    });
  }

  function createServerPanel() {
    if (!window.Chart || !$("server-panel")) return null;
    var charts = {
      queue: chart("chart-server-queue", "requests", [
        L.lineDataset("Running", COLORS.blue, { stepped: true }),
        L.lineDataset("Waiting", COLORS.orange, { stepped: true }),
      ]),
      kv: chart("chart-server-kv", "%", [L.lineDataset("KV cache usage %", COLORS.purple)]),
      tokens: chart("chart-server-tokens", "tokens/s", [
        L.lineDataset("Server generated tok/s", COLORS.green),
        L.lineDataset("Client output tok/s", COLORS.blue, { borderDash: [5, 3] }),
      ]),
    };
    charts.kv.options.scales.y.suggestedMax = 100;

    function point(x, y, data) {
      return { x: x, y: isNum(y) ? y : null, t: data.t, scenario: data.scenario, concurrency: data.concurrency };
    }

    function draw(model) {
      var points = model.serverPoints;
      $("server-panel").hidden = !points.length;
      if (!points.length) return;
      var series = { running: [], waiting: [], kv: [], generated: [] };
      points.forEach(function (entry) {
        var v = entry.s.values || {};
        series.running.push(point(entry.x, v.running, entry.s));
        series.waiting.push(point(entry.x, v.waiting, entry.s));
        series.kv.push(point(entry.x, v.kv_cache_usage, entry.s));
        series.generated.push(point(entry.x, v.generation_tokens_per_second, entry.s));
      });
      var client = model.points.map(function (entry) { return point(entry.x, entry.p.output_tokens_per_second, entry.p); });
      charts.queue.data.datasets[0].data = series.running;
      charts.queue.data.datasets[1].data = series.waiting;
      charts.kv.data.datasets[0].data = series.kv;
      charts.tokens.data.datasets[0].data = series.generated;
      charts.tokens.data.datasets[1].data = client;
      Object.keys(charts).forEach(function (name) {
        charts[name].$runMarks = model.marks;
        charts[name].update("none");
      });
      var latest = model.server || {};
      var sources = (latest.sources || []).map(function (s) { return (s.engine || "unknown") + " · " + s.url; });
      setText("server-sources", sources.join(", "));
    }

    return { draw: draw, charts: charts };
  }

  window.GenaiLive = Object.assign(window.GenaiLive || {}, { createServerPanel: createServerPanel });
})();
