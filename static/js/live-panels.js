/* genai-bench live page: panels from plugins (the genai_bench.panels entry points, docs/plugins.md).
 *
 * The server lists the installed panels in #plugin-panels's data-panels attribute ([{name, title, events, script}])
 * and loads each panel's script after this one. A panel script registers itself:
 *
 *   window.genaiPanels.register({
 *     name: "my-panel",                 // its entry point's name
 *     mount: function (el) { ... },     // once: build the panel inside `el`, the card's body
 *     onEvent: function (event) { ... } // every event of the declared types: {id, event_type, timestamp, data}
 *   });
 *
 * The page gives each registered panel a card in #plugin-panels and feeds it from the same event stream the page
 * draws from (dashboard.js dispatches each envelope on document as "genai:event"). First, as the page loads its own
 * state from api/state, a panel is replayed the buffered events of its types (GET api/events?types=..., the newest
 * REPLAY_LIMIT), so a page opened mid-run shows it filled; live events arriving meanwhile wait, and none is given
 * twice. A panel that throws gets a note in its card and keeps receiving events; the rest of the page never sees its
 * errors.
 */
(function () {
  "use strict";

  var declared = {};
  var mounted = [];
  var REPLAY_LIMIT = 2000;       // buffered events replayed to a panel at most (the newest)
  var REPLAY_TIMEOUT_MS = 10000; // a replay not answered by then is given up: the panel goes on with live events

  function readDeclared() {
    var node = document.getElementById("plugin-panels");
    if (!node) return;
    try {
      JSON.parse(node.getAttribute("data-panels") || "[]").forEach(function (d) { declared[d.name] = d; });
    } catch (e) { /* a malformed list: no panel */ }
  }

  function note(card, error) {
    var slot = card.querySelector(".plugin-panel-error");
    slot.textContent = "panel error: " + (error && error.message ? error.message : String(error));
    slot.hidden = false;
  }

  function createCard(decl) {
    var section = document.getElementById("plugin-panels");
    var card = document.createElement("figure");
    card.className = "panel chart-panel plugin-panel";
    card.id = "plugin-panel-" + decl.name;
    card.setAttribute("data-panel", decl.name);
    var caption = document.createElement("figcaption");
    caption.textContent = decl.title || decl.name;
    var body = document.createElement("div");
    body.className = "plugin-panel-body";
    var error = document.createElement("p");
    error.className = "plugin-panel-error";
    error.hidden = true;
    card.appendChild(caption);
    card.appendChild(body);
    card.appendChild(error);
    section.appendChild(card);
    section.hidden = false;
    return card;
  }

  function register(panel) {
    if (!panel || typeof panel.name !== "string" || !declared[panel.name]) {
      console.error("genaiPanels.register: no installed panel is named", panel && panel.name);
      return false;
    }
    var decl = declared[panel.name];
    if (mounted.some(function (m) { return m.decl.name === decl.name; })) return false;
    var card = createCard(decl);
    var entry = { decl: decl, panel: panel, card: card, types: decl.events || [], lastId: 0, waiting: [] };
    mounted.push(entry);
    try {
      if (typeof panel.mount === "function") panel.mount(card.querySelector(".plugin-panel-body"));
    } catch (e) { note(card, e); }
    replay(entry);
    return true;
  }

  function wantsAll(entry) {
    return entry.types.length === 0 || entry.types.indexOf("*") >= 0;
  }

  function wants(entry, type) {
    return wantsAll(entry) || entry.types.indexOf(type) >= 0;
  }

  function give(entry, env) {
    if (!env || !wants(entry, env.event_type) || typeof entry.panel.onEvent !== "function") return;
    if (typeof env.id === "number") {
      if (env.id <= entry.lastId) return;  // replayed already
      entry.lastId = env.id;
    }
    try { entry.panel.onEvent(env); } catch (err) { note(entry.card, err); }
  }

  // The buffered events of the panel's types, then what arrived live meanwhile (newer ones only).
  function replay(entry) {
    var query = "limit=" + REPLAY_LIMIT + (wantsAll(entry) ? "" : "&types=" + encodeURIComponent(entry.types.join(",")));
    var finish = function (events) {
      if (!entry.waiting) return;
      var waiting = entry.waiting;
      entry.waiting = null;
      events.concat(waiting).forEach(function (env) { give(entry, env); });
    };
    var timer = setTimeout(function () { finish([]); }, REPLAY_TIMEOUT_MS);
    fetch("api/events?" + query, { cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error("api/events answered HTTP " + r.status);
        return r.json();
      })
      .then(function (body) { clearTimeout(timer); finish((body && body.events) || []); })
      .catch(function (err) {
        clearTimeout(timer);
        console.warn("panel " + entry.decl.name + ": no replay of the events so far (" + err + ")");
        finish([]);
      });
  }

  document.addEventListener("genai:event", function (e) {
    var env = e.detail;
    if (!env) return;
    mounted.forEach(function (entry) {
      if (entry.waiting) entry.waiting.push(env);
      else give(entry, env);
    });
  });

  readDeclared();
  window.genaiPanels = Object.freeze({
    version: 1,
    register: register,
    installed: function () { return Object.keys(declared); },
    mounted: function () { return mounted.map(function (m) { return m.decl.name; }); },
  });
})();
