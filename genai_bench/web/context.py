"""What the dashboard's views share: their context (bus, state, library, settings) and the error shape."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, current_app, has_request_context, jsonify
from prometheus_client import CollectorRegistry

from genai_bench.events import EventBus
from genai_bench.plugins import Panel
from genai_bench.replay import Replayer
from genai_bench.results import ExperimentLibrary
from genai_bench.state import DashboardState


@dataclass
class WebContext:
    """What the views need: the bus to stream, the state to answer from, and settings."""

    bus: EventBus
    state: DashboardState
    library: ExperimentLibrary
    replayer: Replayer
    mode: str = "live"
    token: str | None = None
    heartbeat_interval: float = 10.0
    retry_ms: int = 2000
    title: str = "genai-bench"
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)  # Host names accepted without a token
    panels: dict[str, Panel] = field(default_factory=dict)  # plugins' live-page panels by name (web/panels.py)
    # Gives each request the context of the experiment it names (web/fanout.py: experiments in Redis); None: this one.
    source: Callable[[WebContext], object] | None = None
    metrics: CollectorRegistry | None = None  # what /metrics exposes (exporter.py)


def web_context(app: Flask | None = None) -> WebContext:
    """The WebContext of `app` (default: the current app, as the current request sees it)."""
    context = (app or current_app).extensions["genai_bench"]
    if context.source is not None and app is None and has_request_context():
        return context.source(context)
    return context


def error_response(status: int, message: str):
    """The one JSON error shape of the whole API."""
    return jsonify({"error": {"code": status, "message": message}}), status
