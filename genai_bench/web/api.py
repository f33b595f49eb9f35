"""JSON endpoints: state, status, metrics, history, time series, buffered events, health (spec §7.5)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from genai_bench import events
from genai_bench.events import Event, EventBus
from genai_bench.web.context import error_response, web_context
from genai_bench.web.stream import parse_types

blueprint = Blueprint("api", __name__)


@blueprint.get("/healthz")
def healthz():
    """Liveness."""
    return {"status": "ok"}


@blueprint.get("/api/state")
def state():
    """Everything the page needs on load."""
    return web_context().state.document()


@blueprint.get("/api/status")
def status():
    """The current benchmark status."""
    return web_context().state.status


@blueprint.get("/api/metrics")
def metrics():
    """The latest live metrics snapshot, and as `server` the latest server_metrics data (null without scrapes)."""
    state = web_context().state
    return {**(state.latest.get(events.METRICS) or {"live_metrics": None}),
            "server": state.latest.get(events.SERVER_METRICS)}


@blueprint.get("/api/historical-data")
def historical_data():
    """Aggregated metrics of every completed run, read from the experiment folders (so it survives a restart)."""
    return {"runs": web_context().library.historical_runs()}


@blueprint.get("/api/timeseries")
def timeseries():
    """Points of the live charts so far."""
    return {"points": web_context().state.series.points}


@blueprint.get("/api/events")
def buffered_events():
    """Buffered events newer than ?since=ID, of the ?types= only and the newest ?limit= only when given; complete=false
    when some already left the buffer (the current state's events that left it then come first, see replay_events)."""
    try:
        since = int(request.args.get("since", "0"))
        limit = int(request.args.get("limit", "0"))
    except ValueError:
        return error_response(400, "since and limit must be integers (an event id, a count)")
    try:
        types = parse_types(request.args.get("types"))
    except ValueError as exc:
        return error_response(400, str(exc))
    bus = web_context().bus
    found, complete = replay_events(bus, since)
    found = [e for e in found if types is None or e.event_type in types]
    if limit > 0:
        found = found[-limit:]
    return {"events": [e.to_dict() for e in found], "last_event_id": bus.last_id, "complete": complete}


def replay_events(bus: EventBus, since: int) -> tuple[list[Event], bool]:
    """Events newer than `since`, and whether the buffer held all of them; when it did not, the buffer is preceded by
    the state events older than it (the latest of each state type, the alerts firing now), as a new /events client
    gets them, so a panel replaying a long run still starts from the current state."""
    newer = bus.since(since)
    if newer is not None:
        return newer, True
    first = bus.history[0].id if bus.history else bus.last_id + 1
    return [e for e in bus.snapshot() if e.id < first] + list(bus.history), False


@blueprint.get("/metrics")
def prometheus_metrics():
    """The live benchmark's requests, latency histograms and tokens in Prometheus text format (docs/prometheus.md)."""
    # The app's own context: the benchmark (or the wsgi host's) that this dashboard serves.
    registry = current_app.extensions["genai_bench"].metrics or CollectorRegistry(auto_describe=False)
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
