"""Serving every experiment kept in Redis from any number of processes (docs/redis.md).

A request names its experiment by path (/live/<id>/..., so the page's relative URLs stay inside it) or by
?experiment=ID; without either it gets the newest running one. The views stay as they are: `web_context()` hands
them the experiment's mirror (bus and state) instead of the process's own bus.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from flask import Flask, abort, g, redirect, request

from genai_bench.config import ConfigError
from genai_bench.events import EventBus
from genai_bench.fanout.library import FanoutLibrary, decoded_entry
from genai_bench.fanout.mirror import MirrorHub, is_live
from genai_bench.web import create_app
from genai_bench.web.context import WebContext, error_response
from genai_bench.web.server import DashboardServer

EXPERIMENT_ENVIRON = "genai_bench.experiment"
PREFIX = "/live/"
PID_HEADER = "X-Genai-Bench-Pid"  # which process answered (several serve one port under gunicorn)
PICKER_FIELDS = ("id", "name", "model", "status", "host", "start_time", "end_time", "last_event_id")
SCOPED = ("bus", "state")  # what a request's experiment changes in the context


class ExperimentPrefix:
    """WSGI middleware: /live/<id>/rest is served as /rest for experiment <id> (/live/<id> redirects to /live/<id>/)."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX):
            name, slash, rest = path[len(PREFIX):].partition("/")
            if name and not slash:
                query = environ.get("QUERY_STRING")
                target = environ.get("SCRIPT_NAME", "") + quote(path) + "/" + (f"?{query}" if query else "")
                return redirect(target, 308)(environ, start_response)
            if name:
                environ[EXPERIMENT_ENVIRON] = name
                environ["PATH_INFO"] = "/" + rest
        return self.wsgi_app(environ, start_response)


class ExperimentView:
    """The context of one request: the app's own, with the bus and state of the experiment it names (resolved on
    first use, so the token check and static files never touch Redis)."""

    def __init__(self, base: WebContext, hub: MirrorHub) -> None:
        self._base = base
        self._hub = hub
        self._resolved: WebContext | None = None

    def __getattr__(self, name: str):
        if name in SCOPED:
            return getattr(self._resolve(), name)
        return getattr(self._base, name)

    def _resolve(self) -> WebContext:
        if self._resolved is None:
            from redis.exceptions import RedisError

            requested = request.environ.get(EXPERIMENT_ENVIRON) or request.args.get("experiment")
            try:
                experiment_id = requested or self._hub.default_id()
                mirror = self._hub.mirror(experiment_id) if experiment_id else None
            except RedisError as exc:
                abort(503, f"Redis at {self._hub.shown_url} is unreachable ({type(exc).__name__}); try again shortly")
            if mirror is None and requested:
                abort(404, f"no experiment {requested!r} in Redis at {self._hub.shown_url}")
            base = self._base
            self._resolved = base if mirror is None else WebContext(
                mirror.bus, mirror.state, base.library, base.replayer, "live", base.token, base.heartbeat_interval,
                base.retry_ms, base.title, base.allowed_hosts)
        return self._resolved


def request_context(base: WebContext, hub: MirrorHub) -> ExperimentView:
    """This request's view of the context (one per request)."""
    view = g.get("genai_bench_view")
    if view is None:
        view = g.genai_bench_view = ExperimentView(base, hub)
    return view


def attach_redis(app: Flask, hub: MirrorHub) -> Flask:
    """Make `app` serve the experiments of `hub`: per-request contexts, /live/<id>/ paths, / opening the newest."""
    context = app.extensions["genai_bench"]
    context.source = lambda base: request_context(base, hub)
    app.wsgi_app = ExperimentPrefix(app.wsgi_app)

    @app.before_request
    def open_experiment():
        """GET / (or /?experiment=ID) opens the page of the experiment: the newest running one by default."""
        if request.path != "/" or EXPERIMENT_ENVIRON in request.environ or request.method != "GET":
            return None
        from redis.exceptions import RedisError

        try:
            target = request.args.get("experiment") or hub.default_id()
        except RedisError:
            return None  # the page then says what is wrong through its API calls
        return redirect(f"{request.script_root}{PREFIX}{quote(target, safe='')}/") if target else None

    @app.get("/api/redis/experiments")
    def redis_experiments():
        """Every experiment in Redis, newest first, from the registry alone (cheap: the page's picker polls it)."""
        from redis.exceptions import RedisError

        try:
            entries = [decoded_entry(e) for e in hub.entries()]
        except RedisError as exc:
            return error_response(503, f"Redis at {hub.shown_url} is unreachable ({type(exc).__name__})")
        return {"experiments": [{**{k: e.get(k) for k in PICKER_FIELDS}, "live": is_live(e)} for e in entries]}

    @app.after_request
    def served_by(response):
        response.headers[PID_HEADER] = str(os.getpid())
        return response

    return app


def redis_dashboard(url: str, folders: Iterable[Path] = (), token: str | None = None,
                    allowed_hosts: Iterable[str] = (), heartbeat_interval: float = 10.0,
                    static_url: str | None = None) -> tuple[Flask, MirrorHub]:
    """The dashboard app over every experiment in the Redis at `url` (and the given folders), and its hub."""
    hub = MirrorHub(url)
    app = create_app(EventBus(), FanoutLibrary(hub, list(folders)), mode="redis", token=token,
                     heartbeat_interval=heartbeat_interval, allowed_hosts=allowed_hosts, static_url=static_url)
    return attach_redis(app, hub), hub


def check_redis(hub: MirrorHub, option: str = "--redis-url") -> int:
    """How many experiments Redis holds; a one-line ConfigError when it does not answer."""
    try:
        return len(hub.entries())
    except Exception as exc:  # redis.RedisError, OSError
        raise ConfigError(f"{option} {hub.shown_url}: Redis does not answer ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}); is redis-server running?") from None


class FanoutServer(DashboardServer):
    """`genai-bench serve --redis-url`: the dashboard server, whose stop also ends the mirrors' streams."""

    def __init__(self, app: Flask, hub: MirrorHub, host: str = "127.0.0.1", port: int = 8080) -> None:
        super().__init__(app, host, port)
        self.hub = hub

    def stop(self, timeout: float = 2.0) -> None:
        """End every stream (mirrors' too), then stop."""
        self.hub.close()
        super().stop(timeout)


def serve_redis(url: str, experiments: list, host: str, port: int, token: str | None,
                allowed_hosts: Iterable[str], static_url: str | None = None) -> None:
    """`genai-bench serve --redis-url`: serve Redis's experiments (and the given folders) until Ctrl-C."""
    import click

    from genai_bench.fanout.settings import RedisSettings
    from genai_bench.web.security import warn_if_exposed

    RedisSettings(url).validate("--redis-url")
    app, hub = redis_dashboard(url, [e.folder for e in experiments], token, (host, *allowed_hosts),
                               static_url=static_url)
    count = check_redis(hub)
    warn_if_exposed(host, token, "watch these benchmarks and read their results")
    try:
        server = FanoutServer(app, hub, host, port).start()
    except OSError as exc:
        raise ConfigError(f"--port {port} on {host} is not available ({exc.strerror or exc}); pick another") from None
    server.serve_until_signalled(lambda: click.echo(
        f"Serving {count} experiment(s) from Redis at {hub.shown_url} and {len(experiments)} folder(s) at "
        f"{server.url} (Ctrl-C to stop)"))
