/* genai-bench live dashboard: the experiment picker, for a server that serves experiments from Redis
 * (genai-bench serve --redis-url, docs/redis.md).
 *
 * The page of one experiment lives at <base>/live/<id>/ (its relative API and stream URLs stay inside it). The
 * picker lists Redis's experiments (api/redis/experiments: the registry alone, cheap to poll; running ones first)
 * and opens the chosen one's page. It asks only a dashboard whose api/experiments says mode "redis", and stays
 * hidden on others. The list is fetched again every few seconds, so a benchmark started later shows up.
 */
(function () {
  "use strict";

  var POLL_MS = 5000;
  var PAGE = /live\/([^/]+)\/$/;

  function currentId() {
    var match = location.pathname.match(PAGE);
    return match ? decodeURIComponent(match[1]) : null;
  }

  function basePath() {
    return location.pathname.replace(PAGE, "").replace(/[^/]*$/, "");
  }

  function label(e) {
    var state = e.live ? "live" : (e.status || "finished");
    return (e.live ? "\u25cf " : "") + (e.name || e.id) + (e.model ? " \u00b7 " + e.model : "") + " (" + state + ")";
  }

  function fill(select, list, here) {
    var signature = JSON.stringify(list.map(function (e) { return [e.id, e.live, e.status]; }));
    if (select.dataset.signature === signature) return;
    select.dataset.signature = signature;
    select.textContent = "";
    if (here === null) {
      var none = document.createElement("option");
      none.value = "";
      none.textContent = "choose an experiment";
      select.appendChild(none);
    }
    list.forEach(function (e) {
      var option = document.createElement("option");
      option.value = e.id;
      option.textContent = label(e);  // text, never markup
      option.selected = e.id === here;
      select.appendChild(option);
    });
  }

  function getJSON(url) {
    return fetch(url, { cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; });
  }

  function refresh(select, picker) {
    getJSON("api/redis/experiments")
      .then(function (doc) {
        var list = (doc && doc.experiments) || [];
        list.sort(function (a, b) { return (b.live ? 1 : 0) - (a.live ? 1 : 0); });
        if (!list.length) return;
        fill(select, list, currentId());
        picker.hidden = false;
      })
      .catch(function () { /* the connection badge already says when the server is gone */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var picker = document.getElementById("experiment-picker");
    var select = document.getElementById("experiment-select");
    if (!picker || !select) return;
    select.addEventListener("change", function () {
      if (select.value) location.href = basePath() + "live/" + encodeURIComponent(select.value) + "/";
    });
    getJSON("api/experiments").then(function (doc) {
      if (!doc || doc.mode !== "redis") return;  // no Redis behind this dashboard: no picker
      refresh(select, picker);
      setInterval(function () { refresh(select, picker); }, POLL_MS);
    }).catch(function () { /* the page reports an unreachable server itself */ });
  });
})();
