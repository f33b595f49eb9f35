/* genai-bench results view: filters over the served experiments (model, engine, version, GPU, scenario, date),
 * sent to the server as the list's query parameters (docs/results-api.md), so a results database is filtered in SQL.
 *
 *   var filters = GenaiResults.createFilters(view, onChange)   onChange(): list again with view.state.filter
 *   filters.node            the controls (hidden until there is something to filter)
 *   filters.update(list)    offer the values seen in the unfiltered list
 *
 * Shown for served sources only (serve, serve --results-db); the report and the live page list what they hold.
 * Needs common.js and results-base.js loaded first.
 */
(function () {
  "use strict";

  var C = window.GenaiCommon, GenaiResults = window.GenaiResults, U = GenaiResults.util;
  var el = C.el;
  // Query parameter -> [label, the Summary field offering its values].
  var FIELDS = [["model", "Model", "model"], ["engine", "Engine", "server_engine"], ["version", "Version", "server_version"],
    ["gpu", "GPU", "server_gpu_type"], ["scenario", "Scenario", "traffic_scenario"]];

  function createFilters(view, onChange) {
    var state = view.state;
    state.filter = state.filter || {};
    var node = el("div", { className: "rv-controls rv-filters", id: "rv-filters", role: "search", hidden: true });
    var selects = {};
    FIELDS.forEach(function (f) {
      var select = el("select", { id: "rv-filter-" + f[0], "aria-label": "Filter by " + f[1].toLowerCase() });
      select.addEventListener("change", changed);
      selects[f[0]] = select;
      node.appendChild(U.labelled(f[1], select));
    });
    var dates = {};
    [["since", "From"], ["until", "To"]].forEach(function (d) {
      var input = el("input", { type: "date", id: "rv-filter-" + d[0], "aria-label": d[1] + " date" });
      input.addEventListener("change", changed);
      dates[d[0]] = input;
      node.appendChild(U.labelled(d[1], input));
    });
    var clear = el("button", { type: "button", className: "rv-filter-clear", id: "rv-filter-clear" }, "Clear");
    clear.addEventListener("click", function () {
      Object.keys(selects).forEach(function (k) { selects[k].value = ""; });
      Object.keys(dates).forEach(function (k) { dates[k].value = ""; });
      changed();
    });
    node.appendChild(clear);
    var seen = {};  // parameter -> values offered (from every list answered without a filter, so choices stay)

    function changed() {
      var filter = {};
      Object.keys(selects).forEach(function (k) { if (selects[k].value) filter[k] = selects[k].value; });
      Object.keys(dates).forEach(function (k) { if (dates[k].value) filter[k] = dates[k].value; });
      state.filter = filter;
      onChange();
    }

    function update(list) {
      if (!view.source.served || state.mode === "live") return;
      FIELDS.forEach(function (f) {
        var values = seen[f[0]] = seen[f[0]] || [];
        list.forEach(function (s) {
          [].concat(s[f[2]] || []).forEach(function (v) { if (v !== null && values.indexOf(String(v)) < 0) values.push(String(v)); });
        });
        values.sort();
        var select = selects[f[0]], current = state.filter[f[0]] || "";
        var frag = document.createDocumentFragment();
        frag.appendChild(el("option", { value: "" }, "any"));
        values.forEach(function (v) { frag.appendChild(el("option", { value: v }, v)); });
        select.replaceChildren(frag);
        select.value = current;
        select.disabled = values.length < 2 && !current;
      });
      var active = Object.keys(state.filter).length > 0;
      node.hidden = !(active || list.length > 1);
    }

    return { node: node, update: update };
  }

  GenaiResults.createFilters = createFilters;
})();
