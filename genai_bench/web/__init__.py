"""The web layer: a Flask app factory over an event bus and the experiment folders it serves (spec §7.4–§7.6)."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask
from prometheus_client import CollectorRegistry
from werkzeug.exceptions import HTTPException

from genai_bench.assets import asset_folder
from genai_bench.events import EventBus
from genai_bench.replay import Replayer
from genai_bench.results import ExperimentLibrary
from genai_bench.state import DashboardState, attach_state
from genai_bench.web import api, pages, panels, results, security, stream
from genai_bench.web.context import WebContext, error_response
from genai_bench.web.static_url import StaticAssets


def create_app(bus: EventBus, library: ExperimentLibrary | None = None, mode: str = "live", token: str | None = None,
               heartbeat_interval: float = 10.0, state: DashboardState | None = None, title: str = "genai-bench",
               allowed_hosts: Iterable[str] = (), static_url: str | None = None,
               metrics: CollectorRegistry | None = None) -> Flask:
    """Build the dashboard app around a bus and the experiment folders it serves; nothing is global.

    This is the one place a bus, its dashboard state and the app are wired together (pass `state` only when the
    caller already folds the bus into one). mode is "live" when a benchmark publishes on the bus, "serve" when only
    finished experiments are shown. An empty token is refused (ConfigError); without a token, only loopback Host names,
    addresses and `allowed_hosts` (the bound host, --streaming-allowed-hosts; "*" for any) are accepted.
    `static_url` (--static-url) loads the page's assets from a mirror of static/, pinned by integrity hashes.
    `metrics` is the registry /metrics exposes (a benchmark's exporter.LiveMetricsExporter; empty without one).
    """
    token = security.checked_token(token)
    state = state or attach_state(bus)
    library = library or ExperimentLibrary()
    app = Flask(__name__, template_folder=str(asset_folder("templates")), static_folder=str(asset_folder("static")))
    app.extensions["genai_bench"] = WebContext(bus, state, library, Replayer(bus, library), mode, token,
                                               heartbeat_interval, title=title, panels=panels.installed_panels(),
                                               metrics=metrics or CollectorRegistry(auto_describe=False))
    app.jinja_env.globals["static_assets"] = StaticAssets.of(asset_folder("static"), static_url)
    security.init_app(app, allowed_hosts)
    app.register_error_handler(HTTPException, lambda exc: error_response(exc.code or 500, exc.description))
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(results.blueprint)
    app.register_blueprint(panels.blueprint)
    stream.init_app(app)
    return app
