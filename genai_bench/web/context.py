"""What the dashboard's views share: their context (bus, state, library, settings), errors and the token check."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from flask import current_app, jsonify, request

from genai_bench.events import EventBus
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


def web_context() -> WebContext:
    """The WebContext of the current app."""
    return current_app.extensions["genai_bench"]


def error_response(status: int, message: str):
    """The one JSON error shape of the whole API."""
    return jsonify({"error": {"code": status, "message": message}}), status


def presented_token() -> str | None:
    """The token of this request: bearer header, X-Genai-Bench-Token header, or ?token= (for EventSource)."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:]
    return request.headers.get("X-Genai-Bench-Token") or request.args.get("token")


def require_token():
    """Refuse every request without the streaming token, when one is set."""
    expected = web_context().token
    if expected is None:
        return None
    given = presented_token() or ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return error_response(401, "missing or wrong streaming token: send 'Authorization: Bearer <token>' or ?token=<token>")
    return None


def carry_token(endpoint: str, values: dict) -> None:
    """Links the page generates (static assets) carry the token the page itself was opened with."""
    token = web_context().token
    if token and "token" not in values and request and request.args.get("token") == token:
        values["token"] = token
