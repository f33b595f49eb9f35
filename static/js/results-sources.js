/* genai-bench results view: where experiments come from. A source answers
 *   experiments(filter) -> {experiments: [Summary], mode} (filter: {model, engine, version, gpu, scenario, since, until},
 *   applied by served sources), experiment(id) -> {summary, metadata, runs, intervals}, requests(id, key)
 * (each a Promise), plus, when served, downloadUrl(id, format), replay(id, speed) and replayStatus().
 *
 *   GenaiResults.apiSource()                          the results API of the server (docs/results-api.md)
 *   GenaiResults.embeddedSource(doc, mode)            experiments held in memory
 *   GenaiResults.embeddedSourceFromElement(element)   the report's embedded JSON document
 *   GenaiResults.completedBenchmarkSource(detail)     the benchmark this page just watched (a "genai:benchmark-completed" detail)
 *
 * Needs common.js and results-base.js loaded first.
 */
(function () {
  "use strict";

  var C = window.GenaiCommon, GenaiResults = window.GenaiResults, U = GenaiResults.util;
  var FETCH_TIMEOUT_MS = 8000;

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

  // The results API of a running genai-bench (relative URLs; the token, if any, rides in the page's cookie).
  function apiSource() {
    function exp(id) { return "api/experiments/" + encodeURIComponent(id); }
    return {
      kind: "api",
      served: true,
      experiments: function (filter) {
        var query = Object.keys(filter || {}).filter(function (k) { return filter[k]; }).map(function (k) {
          return encodeURIComponent(k) + "=" + encodeURIComponent(filter[k]);
        }).join("&");
        return fetchJSON("api/experiments" + (query ? "?" + query : "")).then(U.asList);
      },
      experiment: function (id) { return fetchJSON(exp(id)); },
      requests: function (id, key) { return fetchJSON(exp(id) + "/runs/" + encodeURIComponent(key) + "/requests"); },
      downloadUrl: function (id, format) { return exp(id) + "/report." + format; },
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
        return Promise.resolve({ summary: e.summary, metadata: e.metadata || {}, runs: e.runs || [], intervals: e.intervals || [] });
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

  // The benchmark a live page just watched, when the server has gone: the experiment's summary and the runs come
  // from the events it received.
  function completedBenchmarkSource(detail) {
    var runs = detail.runs.map(function (r) {
      return { key: r.run_key, scenario: r.scenario, concurrency: r.num_concurrency, partial: !!r.partial, aggregated: r };
    }).sort(function (a, b) { return String(a.scenario).localeCompare(String(b.scenario)) || U.byLoad(a, b); });
    return embeddedSource({ experiments: [{ summary: detail.experiment, metadata: {}, runs: runs, requests: {},
      requests_note: "this page only received the run summaries" }] }, "events");
  }

  Object.assign(GenaiResults, {
    apiSource: apiSource,
    embeddedSource: embeddedSource,
    embeddedSourceFromElement: embeddedSourceFromElement,
    completedBenchmarkSource: completedBenchmarkSource,
  });
})();
