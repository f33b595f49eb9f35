/* genai-bench live dashboard: the connection to the server (docs/events.md).
 *
 *   var link = GenaiLive.connect(handlers)
 *   handlers: lastEventId()   the id of the newest event the page holds (the stream resumes after it)
 *             done()          the benchmark ended (a failing stream then means the server has gone)
 *             state(doc)      the GET api/state document, once, before the stream opens
 *             envelope(env)   each event envelope of the stream, parsed
 *             connection(s)   the connection changed: connecting, live, reconnecting or closed
 *             error(message)  api/state could not be loaded
 *   link.state()              the current connection state
 *
 * GET api/state, then EventSource(events?last_event_id=N); a stream silent for too long is reopened, and a server
 * that stays unreachable ends in "closed". Needs common.js (window.GenaiCommon) loaded first.
 */
(function () {
  "use strict";

  var C = window.GenaiCommon;

  var CLOSED_AFTER_MS = 10000;      // reconnect failures for this long => "closed"
  var STALE_STREAM_MS = 35000;      // no message (not even a heartbeat) for this long => reopen the stream
  var STATE_RETRY_MS = 1500;        // first api/state retry delay

  function connect(handlers) {
    var connection = "connecting";
    var source = null;
    var failingSince = null;
    var closedTimer = null;
    var watchdog = null;
    var lastMessageAt = 0;

    function setConnection(state) {
      connection = state;
      handlers.connection(state);
    }

    function markClosed() {
      if (source) { source.close(); source = null; }
      if (closedTimer) { clearTimeout(closedTimer); closedTimer = null; }
      if (watchdog) { clearInterval(watchdog); watchdog = null; }
      setConnection("closed");
    }

    function closeUnlessLive() {
      closedTimer = null;
      if (connection !== "live") markClosed();
    }

    function probeServer(callback) {
      C.fetchWithTimeout("healthz", { cache: "no-store" }, 3000)
        .then(function (r) { callback(r.ok); })
        .catch(function () { callback(false); });
    }

    function onError() {
      if (connection === "closed") return;
      if (failingSince === null) failingSince = Date.now();
      if (source && source.readyState === EventSource.CLOSED) {
        // The server refused the stream (e.g. HTTP error): the browser will not retry by itself.
        probeServer(function (alive) {
          if (alive && Date.now() - failingSince < CLOSED_AFTER_MS) {
            setConnection("reconnecting");
            setTimeout(function () { if (connection !== "closed") openStream(); }, STATE_RETRY_MS);
          } else {
            markClosed();
          }
        });
        return;
      }
      setConnection("reconnecting");
      if (!closedTimer) closedTimer = setTimeout(closeUnlessLive, Math.max(0, CLOSED_AFTER_MS - (Date.now() - failingSince)));
      // A finished benchmark's server usually exits right after the stream ends: confirm and close at once.
      if (handlers.done()) {
        probeServer(function (alive) { if (!alive && connection !== "live") markClosed(); });
      }
    }

    function openStream() {
      if (source) source.close();
      source = new EventSource("events?last_event_id=" + encodeURIComponent(String(handlers.lastEventId())));
      lastMessageAt = Date.now();
      source.onopen = function () {
        failingSince = null;
        if (closedTimer) { clearTimeout(closedTimer); closedTimer = null; }
        lastMessageAt = Date.now();
        setConnection("live");
      };
      source.onmessage = function (msg) {
        lastMessageAt = Date.now();
        if (connection !== "live") setConnection("live");
        var env;
        try { env = JSON.parse(msg.data); } catch (e) { return; }
        handlers.envelope(env);
      };
      source.onerror = onError;
      if (!watchdog) {
        watchdog = setInterval(function () {
          if (connection === "live" && Date.now() - lastMessageAt > STALE_STREAM_MS) {
            // Silent half-open connection: reopen, asking for what we missed.
            setConnection("reconnecting");
            failingSince = Date.now();
            openStream();
            closedTimer = setTimeout(closeUnlessLive, CLOSED_AFTER_MS);
          }
        }, 5000);
      }
    }

    var started = Date.now();
    function loadState(attempt) {
      fetch("api/state", { cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (r) {
          if (!r.ok) throw new Error("api/state answered HTTP " + r.status);
          return r.json();
        })
        .then(function (state) {
          handlers.state(state || {});
          openStream();
        })
        .catch(function (err) {
          if (Date.now() - started > CLOSED_AFTER_MS) {
            handlers.error("Could not load the dashboard state: " + C.errorText(err));
            markClosed();
            return;
          }
          setConnection(attempt === 0 ? "connecting" : "reconnecting");
          setTimeout(function () { loadState(attempt + 1); }, Math.min(STATE_RETRY_MS * (attempt + 1), 4000));
        });
    }

    setConnection("connecting");
    loadState(0);
    return { state: function () { return connection; } };
  }

  window.GenaiLive = Object.assign(window.GenaiLive || {}, { connect: connect });
})();
