/* genai-bench results view: the runs table of the selected experiments, sortable by any column; a row opens
 * the run's drill-down.
 *
 *   var table = GenaiResults.createTable(view)   view: the mount's shared context (results-view.js)
 *   table.node          the table's panel            table.render()   the rows of the selected experiments
 *   table.markOpen(id, key)   highlights the row of the run shown in the drill-down (none: null)
 *
 * Needs common.js and results-base.js loaded first.
 */
(function () {
  "use strict";

  var C = window.GenaiCommon, GenaiResults = window.GenaiResults, U = GenaiResults.util;
  var isNum = C.isNum, el = C.el, setText = C.setText, fmtMs = C.fmtMs, fmtRate = C.fmtRate, fmtPercent = C.fmtPercent,
    plural = C.plural, PALETTE = C.PALETTE, statOf = U.statOf, aggOf = U.aggOf, fmtExact = U.fmtExact;

  var COLUMNS = [
    { key: "experiment", label: "Experiment", text: true, get: function (r) { return r.$name; } },
    { key: "scenario", label: "Scenario", text: true, get: function (r) { return r.scenario; } },
    // Batched tasks (embeddings, rerank) sweep the batch size: the concurrency column hides when every row is batched.
    { key: "concurrency", label: "Concurrency", unbatched: true, get: function (r) { return r.concurrency; }, fmt: String },
    { key: "batch_size", label: "Batch size", optional: true, get: function (r) { return C.runBatch(r); }, fmt: String },
    // Open-loop runs only: shown when some shown run has an arrival rate.
    { key: "request_rate", label: "Rate", unit: "req/s", showUnit: true, optional: true, get: function (r) { return C.runRate(r); },
      fmt: C.fmtRequestRate, exact: function (v) { return fmtExact(v, "req/s"); } },
    { key: "requests", label: "Requests", get: function (r) { var v = aggOf(r, "num_requests"); return v === null ? aggOf(r, "num_completed_requests") : v; }, fmt: String },
    { key: "errors", label: "Errors", get: function (r) { return aggOf(r, "num_error_requests"); }, fmt: String },
    { key: "error_rate", label: "Error rate", unit: "%", showUnit: true, get: function (r) { return aggOf(r, "error_rate"); }, fmt: fmtPercent, exact: function (v) { return fmtExact(v * 100, "%"); } },
    latencyColumn("ttft_p50", "TTFT p50", "ttft", "p50", true),
    latencyColumn("ttft_p90", "TTFT p90", "ttft", "p90", true),
    latencyColumn("ttft_p99", "TTFT p99", "ttft", "p99", true),
    latencyColumn("tpot_p50", "TPOT p50", "tpot", "p50", true),
    latencyColumn("tpot_p99", "TPOT p99", "tpot", "p99", true),
    latencyColumn("itl_p50", "ITL p50", "itl", "p50", true),
    latencyColumn("e2e_p50", "E2E p50", "e2e_latency", "p50"),
    latencyColumn("e2e_p99", "E2E p99", "e2e_latency", "p99"),
    { key: "output_tps", label: "Output tok/s", streamed: true, get: function (r) { return aggOf(r, "mean_output_throughput_tokens_per_s"); }, fmt: fmtRate, exact: function (v) { return fmtExact(v, "tok/s"); } },
    { key: "rps", label: "Req/s", get: function (r) { return aggOf(r, "requests_per_second"); }, fmt: fmtRate, exact: function (v) { return fmtExact(v, "req/s"); } },
    { key: "inputs_per_second", label: "Inputs/s", batched: true, get: function (r) { return aggOf(r, "inputs_per_second"); },
      fmt: fmtRate, exact: function (v) { return fmtExact(v, "inputs/s"); } },
  ];

  function latencyColumn(key, label, metric, stat, streamed) {
    return {
      key: key, label: label, unit: "ms", streamed: !!streamed,
      get: function (r) { return statOf(r, metric, stat); },
      fmt: fmtMs,
      exact: function (v) { return fmtExact(v * 1000, "ms"); },
    };
  }

  function createTable(view) {
    var state = view.state;
    var tablePanel = el("section", { className: "panel rv-table-panel", "aria-label": "Runs" });
    var tableHead = el("div", { className: "panel-head" });
    var tableNote = el("span", { className: "panel-note", id: "rv-table-note" }, "click a column to sort, a row for details");
    tableHead.append(el("h2", null, "Runs"), tableNote);
    var tableScroll = el("div", { className: "table-scroll" });
    var table = el("table", { className: "runs-table rv-table", id: "rv-table" });
    var thead = el("thead");
    var tbody = el("tbody", { id: "rv-rows" });
    table.append(thead, tbody);
    tableScroll.appendChild(table);
    var tableEmpty = el("p", { className: "empty", id: "rv-table-empty", hidden: true }, "No run to show.");
    tablePanel.append(tableHead, tableScroll, tableEmpty);

    // The columns to show for these rows: optional ones (the rate, the batch size) only when some row has a value,
    // inputs/s only when some row is batched, streamed ones (TTFT, TPOT, ITL, output tok/s) only when a shown experiment streams, the concurrency
    // unless every row is batched.
    function shownColumns(rows) {
      var streamed = U.taskUnion(view.selectedExperiments()).streamed;
      var allBatched = rows.length > 0 && rows.every(function (r) { return C.runBatch(r) !== null; });
      var anyBatched = rows.some(function (r) { return C.runBatch(r) !== null; });
      return COLUMNS.filter(function (col) {
        if (col.streamed && !streamed) return false;
        if (col.unbatched && allBatched) return false;
        if (col.batched && !anyBatched) return false;
        if (!col.optional) return true;
        return rows.some(function (r) { var v = col.get(r); return v !== null && v !== undefined; });
      });
    }

    function renderTableHead(columns) {
      var tr = el("tr");
      columns.forEach(function (col) {
        var th = el("th", { scope: "col", className: col.text ? "" : "num", "data-col": col.key });
        var sorted = state.sort && state.sort.key === col.key;
        th.setAttribute("aria-sort", sorted ? (state.sort.dir > 0 ? "ascending" : "descending") : "none");
        var button = el("button", { type: "button", className: "rv-sort", "data-col": col.key, title: "Sort by " + col.label });
        button.appendChild(document.createTextNode(col.label));
        if (col.unit === "ms" || col.showUnit) button.appendChild(el("span", { className: "unit" }, col.unit));
        button.appendChild(el("span", { className: "rv-sort-mark", "aria-hidden": "true" }, sorted ? (state.sort.dir > 0 ? "▲" : "▼") : ""));
        button.addEventListener("click", function () {
          if (state.sort && state.sort.key === col.key) state.sort = { key: col.key, dir: -state.sort.dir };
          else state.sort = { key: col.key, dir: 1 };
          renderTable();
        });
        th.appendChild(button);
        tr.appendChild(th);
      });
      thead.replaceChildren(tr);
    }

    function tableRows() {
      var rows = [];
      var exps = view.selectedExperiments();
      var shown = U.displayNames(exps.map(function (e) { return (e.summary || {}).name || (e.summary || {}).id; }));
      exps.forEach(function (exp, ei) {
        var s = exp.summary || {};
        (exp.runs || []).forEach(function (run, ri) {
          if (state.scenario && run.scenario !== state.scenario) return;
          rows.push(Object.assign({}, run, { $id: s.id, $name: s.name || s.id, $short: shown[ei], $order: ei * 100000 + ri, $exp: ei }));
        });
      });
      if (state.sort) {
        var col = COLUMNS.filter(function (c) { return c.key === state.sort.key; })[0];
        var dir = state.sort.dir;
        rows.sort(function (a, b) {
          var va = col.get(a), vb = col.get(b);
          var na = va === null || va === undefined, nb = vb === null || vb === undefined;
          if (na || nb) return na === nb ? a.$order - b.$order : na ? 1 : -1;   // no value: always last
          var c = col.text ? String(va).localeCompare(String(vb), undefined, { numeric: true }) : va - vb;
          return c !== 0 ? c * dir : a.$order - b.$order;
        });
      }
      return rows;
    }

    function renderTable() {
      var rows = tableRows();
      var columns = shownColumns(rows);
      renderTableHead(columns);
      var compare = state.selected.length > 1;
      var frag = document.createDocumentFragment();
      rows.forEach(function (run) {
        var tr = el("tr", { tabindex: "0", "data-exp": String(run.$id), "data-key": String(run.key), "aria-label": "Details of " + run.scenario + " at " + C.runLoadText(run) });
        if (run.partial) tr.classList.add("partial");
        if (state.drill && state.drill.id === run.$id && state.drill.key === run.key) tr.classList.add("is-open");
        columns.forEach(function (col) {
          var v = col.get(run);
          var td = el("td", { className: col.text ? (col.key === "scenario" ? "scenario" : "rv-exp") : "num", "data-col": col.key });
          if (col.text) {
            td.textContent = v === null || v === undefined ? "—" : String(v);
            if (col.key === "experiment") {
              td.textContent = run.$short;
              td.title = String(v);
              if (compare) td.style.boxShadow = "inset 3px 0 0 " + PALETTE[run.$exp % PALETTE.length];
            }
          } else {
            td.textContent = v === null || v === undefined ? "—" : col.fmt(v);
            if (isNum(v)) {
              td.setAttribute("data-value", String(v));
              if (col.exact) td.title = col.exact(v);
            }
          }
          if (col.key === "errors" && isNum(v) && v > 0) td.classList.add("has-errors");
          tr.appendChild(td);
        });
        tr.addEventListener("click", function () { view.openRun(run.$id, run.key); });
        tr.addEventListener("keydown", function (e) {
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); view.openRun(run.$id, run.key); }
        });
        frag.appendChild(tr);
      });
      tbody.replaceChildren(frag);
      tableEmpty.hidden = rows.length > 0;
      var total = rows.length;
      setText(tableNote, plural(total, "run") + " · click a column to sort, a row for details");
    }

    function markOpen(id, key) {
      Array.prototype.forEach.call(tbody.rows, function (tr) {
        tr.classList.toggle("is-open", tr.getAttribute("data-exp") === String(id) && tr.getAttribute("data-key") === String(key));
      });
    }

    return { node: tablePanel, render: renderTable, markOpen: markOpen };
  }

  GenaiResults.createTable = createTable;
})();
