/* genai-bench served page (templates/index.html): the Live and Results tabs, and the results view of the
 * experiments the server lists, or of the benchmark this page just watched.
 *
 * Listens on document to the live view's CustomEvents (dashboard.js):
 *   "genai:benchmark-completed"  detail: benchmark_completed data (experiment: its Summary) + {runs, replay}
 *   "genai:replay-started"       a replay began
 * and fires "genai:view-shown" (detail {view: "live" | "results"}) when a tab is shown again.
 * Needs common.js and the results-*.js files loaded first (the report mounts the view itself and leaves this out).
 */
(function () {
  "use strict";

  var GenaiResults = window.GenaiResults;

  function initPage() {
    var view = document.getElementById("results-view");
    var root = document.getElementById("results-root");
    var live = document.getElementById("live-view");
    var tabs = document.getElementById("view-tabs");
    if (!view || !root || !live || !tabs) return;
    var tabLive = document.getElementById("tab-live");
    var tabResults = document.getElementById("tab-results");
    var api = GenaiResults.apiSource();
    var controller = null;
    var mode = null;
    var completedHandled = false;
    var replayed = false;   // the live view shows (or showed) a replay: its model name is the replay's

    function showView(name) {
      var results = name === "results" && !!controller;
      view.hidden = !results;
      live.hidden = results;
      document.body.classList.toggle("view-results", results);
      document.body.classList.toggle("view-live", !results);
      tabLive.setAttribute("aria-selected", results ? "false" : "true");
      if (!results) tabLive.classList.remove("has-news");
      tabResults.setAttribute("aria-selected", results ? "true" : "false");
      if (results && controller) controller.resize();
      document.dispatchEvent(new CustomEvent("genai:view-shown", { detail: { view: results ? "results" : "live" } }));
    }

    function useController(src, select, opts) {
      if (controller && controller.source === src) {
        controller.refresh(select);
      } else {
        if (controller) controller.destroy();
        controller = GenaiResults.mount(root, src, Object.assign({ select: select, onReplay: onReplay, onSelection: onSelection }, opts || {}));
      }
      window.genaiResultsView = controller;
      tabs.hidden = false;
      tabResults.disabled = false;
      return controller;
    }

    function onReplay() {
      showView("live");
      try { window.scrollTo(0, 0); } catch (e) { /* ignore */ }
    }

    function onSelection(summaries) {
      if (mode !== "serve") return;
      var models = [];
      summaries.forEach(function (s) { if (s && s.model && models.indexOf(s.model) < 0) models.push(String(s.model)); });
      var node = document.getElementById("model-name");
      if (node && models.length && !replayed) node.textContent = models.join(", ");
    }

    tabLive.addEventListener("click", function () { showView("live"); });
    tabResults.addEventListener("click", function () { if (controller) showView("results"); });

    // A benchmark that just finished: its experiment from the API, or, when the server has gone, from the events
    // this page already received (so the view never goes blank).
    function completed(detail) {
      if (detail.replay) {
        if (controller) { tabs.hidden = false; }
        return;
      }
      if (completedHandled) return;
      completedHandled = true;
      var folder = detail.experiment_folder ? String(detail.experiment_folder) : null;
      api.experiments().then(function (info) {
        if (info.mode === "serve") return null;   // finished experiments: the serve-mode start below shows them
        var list = info.experiments;
        var match = list.filter(function (s) { return folder && s.folder === folder; })[0]
          || list.filter(function (s) { return s.live; })[0] || list[0];
        if (!match) throw new Error("no experiment listed");
        return api.experiment(match.id).then(function () { return match.id; });
      }).then(function (id) {
        if (id === null) return;
        useController(api, [id], {
          requestsHint: folder ? "Reopen the results with: genai-bench serve --experiment-folder " + folder : "",
        });
        showView("results");
      }, function () {
        useController(GenaiResults.completedBenchmarkSource(detail), "all", {
          requestsHint: "The dashboard server has stopped; reopen the results with: genai-bench serve --experiment-folder " + (folder || "<folder>"),
        });
        showView("results");
      });
    }

    // The live view loads its state asynchronously, after this page registered: no event is missed.
    document.addEventListener("genai:benchmark-completed", function (e) { completed(e.detail); });
    // A replay started elsewhere (another tab) only flags the Live tab; this page's own Replay button switches.
    document.addEventListener("genai:replay-started", function () {
      replayed = true;
      if (document.body.classList.contains("view-results")) tabLive.classList.add("has-news");
    });

    api.experiments().then(function (info) {
      mode = info.mode;
      document.body.setAttribute("data-mode", mode || "live");
      if (mode !== "serve") return;
      tabLive.textContent = "Live / replay";
      useController(api, "newest");
      var replaying = api.replayStatus().then(function (r) { return !!(r && r.replaying); }, function () { return false; });
      replaying.then(function (busy) { showView(busy ? "live" : "results"); });
    }, function () { /* no results API: the live page alone */ });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", initPage);
  else initPage();
})();
