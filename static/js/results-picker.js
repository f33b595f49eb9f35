/* genai-bench results view: the experiments panel (the picker, the scenario and percentile choices) and one card
 * per selected experiment (facts, partial marker and reasons, downloads, replay).
 *
 *   var picker = GenaiResults.createPicker(view)   view: the mount's shared context (results-view.js)
 *   picker.head, picker.cards                      its two elements
 *   picker.render()         the experiment list      picker.swatches()   the colours of the selected experiments
 *   picker.scenarios()      the scenario choices     picker.renderCards()  the cards
 *   picker.note(text)       the panel's note
 *
 * Needs common.js and results-base.js loaded first.
 */
(function () {
  "use strict";

  var C = window.GenaiCommon, GenaiResults = window.GenaiResults, U = GenaiResults.util;
  var PALETTE = C.PALETTE;
  var isNum = C.isNum, el = C.el, setText = C.setText, plural = C.plural, errorText = C.errorText;

  function cssEscape(s) {
    return window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, "\\$&");
  }

  function createPicker(view) {
    var state = view.state, options = view.options, source = view.source;
    var head = el("section", { className: "panel rv-head", "aria-label": "Experiments" });
    var headTop = el("div", { className: "panel-head" });
    var headNote = el("span", { className: "panel-note", id: "rv-head-note" }, "loading…");
    headTop.append(el("h2", null, options.heading || "Results"), headNote);
    var picker = el("fieldset", { className: "rv-picker" });
    picker.appendChild(el("legend", null, "Experiments (tick several to compare)"));
    var pickerList = el("div", { className: "rv-picker-list", id: "rv-picker-list" });
    picker.appendChild(pickerList);
    var controls = el("div", { className: "rv-controls" });
    var scenarioSelect = el("select", { id: "rv-scenario", "aria-label": "Scenario" });
    var percentileSelect = el("select", { id: "rv-percentile", "aria-label": "Percentile" });
    U.PERCENTILES.forEach(function (p) { percentileSelect.appendChild(el("option", { value: p }, p)); });
    controls.append(U.labelled("Scenario", scenarioSelect), U.labelled("Percentile", percentileSelect));
    head.append(headTop, picker, controls);
    var cards = el("div", { className: "rv-cards", id: "rv-cards" });

    percentileSelect.addEventListener("change", function () { state.percentile = percentileSelect.value; view.renderCurves(); });
    scenarioSelect.addEventListener("change", function () { state.scenario = scenarioSelect.value; view.renderAll(); });

    function renderPicker() {
      var frag = document.createDocumentFragment();
      state.list.forEach(function (s, i) {
        var row = el("label", { className: "rv-pick" });
        var box = el("input", { type: "checkbox", value: String(s.id), "data-id": String(s.id) });
        box.checked = state.selected.indexOf(s.id) >= 0;
        box.addEventListener("change", function () {
          var next = state.list.map(function (x) { return x.id; }).filter(function (id) {
            var input = pickerList.querySelector('input[data-id="' + cssEscape(String(id)) + '"]');
            return input && input.checked;
          });
          state.selected = next;
          view.renderAll();
        });
        var swatch = el("span", { className: "rv-swatch", "aria-hidden": "true" });
        var text = el("span", { className: "rv-pick-text" });
        text.appendChild(el("span", { className: "rv-pick-name" }, s.name || s.id));
        var meta = [];
        if (s.model) meta.push(s.model);
        if (s.server_engine || s.server_version) meta.push([s.server_engine, s.server_version].filter(Boolean).join(" "));
        if (isNum(s.start_time)) meta.push(U.fmtDate(s.start_time));
        if (isNum(s.run_count)) meta.push(plural(s.run_count, "run"));
        text.appendChild(el("span", { className: "rv-pick-meta" }, meta.join(" · ")));
        row.append(box, swatch, text);
        if (s.live) row.appendChild(el("span", { className: "rv-badge rv-badge-live" }, "live"));
        if (s.partial) row.appendChild(el("span", { className: "rv-badge rv-badge-partial", title: (s.partial_reasons || []).join("\n") }, "partial"));
        frag.appendChild(row);
      });
      pickerList.replaceChildren(frag);
      setText(picker.querySelector("legend"), state.list.length > 1 ? "Experiments (tick several to compare)" : "Experiment");
      setText(headNote, state.list.length ? plural(state.list.length, "experiment") : "no experiment found");
      if (!state.list.length) view.showMessage("No experiment to show.");
    }

    function updateSwatches() {
      Array.prototype.forEach.call(pickerList.querySelectorAll(".rv-pick"), function (row) {
        var id = row.querySelector("input").getAttribute("data-id");
        var i = state.selected.map(String).indexOf(id);
        var swatch = row.querySelector(".rv-swatch");
        swatch.style.background = i >= 0 && state.selected.length > 1 ? PALETTE[i % PALETTE.length] : "transparent";
        row.classList.toggle("is-selected", i >= 0);
      });
    }

    function renderScenarioSelect() {
      var all = [];
      view.selectedExperiments().forEach(function (e) { view.scenariosOf(e).forEach(function (s) { if (all.indexOf(s) < 0) all.push(s); }); });
      if (state.scenario && all.indexOf(state.scenario) < 0) state.scenario = "";
      var frag = document.createDocumentFragment();
      frag.appendChild(el("option", { value: "" }, all.length > 1 ? "all scenarios (" + all.length + ")" : "all scenarios"));
      all.forEach(function (s) { frag.appendChild(el("option", { value: String(s) }, String(s))); });
      scenarioSelect.replaceChildren(frag);
      scenarioSelect.value = state.scenario;
      scenarioSelect.disabled = all.length < 2;
    }

    // ---- experiment cards: facts, partial marker and reasons, downloads, replay
    function renderCards() {
      var frag = document.createDocumentFragment();
      var compare = state.selected.length > 1;
      view.selectedExperiments().forEach(function (exp, i) {
        var s = exp.summary || {};
        var card = el("article", { className: "panel rv-card" + (s.partial ? " is-partial" : ""), "data-id": String(s.id) });
        if (compare) card.style.borderLeftColor = PALETTE[i % PALETTE.length];
        var title = el("div", { className: "rv-card-title" });
        title.appendChild(el("h3", null, s.name || s.id));
        if (s.live) title.appendChild(el("span", { className: "rv-badge rv-badge-live" }, "live"));
        if (s.partial) title.appendChild(el("span", { className: "rv-badge rv-badge-partial rv-partial-marker" }, "partial"));
        card.appendChild(title);
        var facts = el("dl", { className: "rv-facts" });
        function fact(label, value) {
          if (value === null || value === undefined || value === "") return;
          var div = el("div");
          div.append(el("dt", null, label), el("dd", null, value));
          facts.appendChild(div);
        }
        fact("Model", s.model);
        fact("Backend", s.api_backend);
        fact("Workload", C.workloadText(s.workload));
        fact("Server", [s.server_engine, s.server_version].filter(Boolean).join(" "));
        fact("Started", U.fmtDate(s.start_time));
        fact("Duration", isNum(s.start_time) && isNum(s.end_time) ? C.fmtDuration(s.end_time - s.start_time) : "");
        fact("Runs", isNum(s.run_count) ? String(s.run_count) : String((exp.runs || []).length));
        fact("Folder", s.folder);
        card.appendChild(facts);
        if (s.partial) {
          var note = el("div", { className: "rv-partial-note", role: "note" });
          note.appendChild(el("strong", null, "Partial experiment: showing what it measured."));
          var reasons = Array.isArray(s.partial_reasons) ? s.partial_reasons : [];
          if (reasons.length) {
            var ul = el("ul", { className: "rv-reasons" });
            reasons.forEach(function (r) { ul.appendChild(el("li", null, r)); });
            note.appendChild(ul);
          }
          card.appendChild(note);
        }
        var actions = el("div", { className: "rv-actions" });
        if (source.served && source.downloadUrl) {
          var dl = el("span", { className: "rv-downloads" });
          dl.appendChild(el("span", { className: "rv-actions-label" }, "Download"));
          ["html", "csv", "json"].forEach(function (format) {
            var a = el("a", {
              className: "rv-button rv-download", href: source.downloadUrl(s.id, format),
              download: true, "data-format": format,
            }, format.toUpperCase());
            dl.appendChild(a);
          });
          actions.appendChild(dl);
        }
        if (source.served && source.replay && s.has_events && !s.live) {
          var rp = el("span", { className: "rv-replay" });
          var speed = el("select", { className: "rv-speed", "aria-label": "Replay speed" });
          U.SPEEDS.forEach(function (v) { speed.appendChild(el("option", { value: String(v) }, v + "×")); });
          speed.value = "10";
          var button = el("button", { type: "button", className: "rv-button rv-replay-button" }, "Replay");
          var status = el("span", { className: "rv-replay-status", role: "status" });
          button.addEventListener("click", function () {
            var v = Number(speed.value);
            button.disabled = true;
            status.textContent = "starting…";
            source.replay(s.id, v).then(function (answer) {
              button.disabled = false;
              status.textContent = "";
              if (options.onReplay) options.onReplay(s, v, answer);
            }, function (err) {
              button.disabled = false;
              status.textContent = "Replay failed: " + errorText(err);
            });
          });
          rp.append(el("span", { className: "rv-actions-label" }, "Replay the event log"), speed, button, status);
          actions.appendChild(rp);
        }
        if (actions.childNodes.length) card.appendChild(actions);
        frag.appendChild(card);
      });
      cards.replaceChildren(frag);
    }

    return {
      head: head,
      cards: cards,
      render: renderPicker,
      swatches: updateSwatches,
      scenarios: renderScenarioSelect,
      renderCards: renderCards,
      note: function (text) { setText(headNote, text); },
    };
  }

  GenaiResults.createPicker = createPicker;
})();
