"""The dashboard as a WSGI app configured by environment variables, for `gunicorn -k gevent -w 1 wsgi:app` (§7.8)."""

from __future__ import annotations

import logging
import os
import shlex
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import gevent
from flask import Flask

from genai_bench.config import ConfigError
from genai_bench.events import EventBus
from genai_bench.options import parse_benchmark_args
from genai_bench.results import ExperimentLibrary
from genai_bench.session import BenchmarkSession
from genai_bench.sinks import close_sinks
from genai_bench.web import create_app

log = logging.getLogger(__name__)

ENV_TOKEN = "GENAI_BENCH_STREAMING_TOKEN"
ENV_ALLOWED_HOSTS = "GENAI_BENCH_ALLOWED_HOSTS"
ENV_BENCHMARK = "GENAI_BENCH_BENCHMARK"
ENV_FOLDERS = "GENAI_BENCH_EXPERIMENT_FOLDER"
ENV_HEARTBEAT = "GENAI_BENCH_HEARTBEAT_SECONDS"
ENV_STATIC_URL = "GENAI_BENCH_STATIC_URL"  # --static-url of the page (or the benchmark's own --static-url)
ENV_REDIS = "GENAI_BENCH_REDIS_URL"  # serve every experiment in this Redis (web/fanout.py, docs/redis.md)
ENV_RESULTS_DB = "GENAI_BENCH_RESULTS_DB"  # serve a results database's experiments too (docs/database.md)
SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
# A benchmark still running when the worker is told to stop gets this long to drain and write its results.
SHUTDOWN_DRAIN_SECONDS = 10.0


def app_from_environment(environ: Mapping[str, str] = os.environ) -> Flask:
    """A dashboard configured by environment variables.

    GENAI_BENCH_BENCHMARK (benchmark CLI arguments) runs a benchmark and shows it live;
    GENAI_BENCH_EXPERIMENT_FOLDER (folders separated by os.pathsep) serves finished experiments;
    GENAI_BENCH_RESULTS_DB (a --results-db URL) serves that database's experiments too (with those folders);
    GENAI_BENCH_REDIS_URL serves every experiment in that Redis (with those folders);
    with neither, an idle dashboard. GENAI_BENCH_STREAMING_TOKEN protects every endpoint (an empty one is refused);
    without it, GENAI_BENCH_ALLOWED_HOSTS (comma-separated) names the Host names accepted besides loopback and addresses.
    """
    if environ.get(ENV_REDIS):
        if environ.get(ENV_RESULTS_DB):
            raise ConfigError(f"set {ENV_RESULTS_DB} or {ENV_REDIS}, not both: a dashboard of Redis serves folders "
                              "only (load the database's experiments with `genai-bench db import` elsewhere)")
        return redis_app_from_environment(environ)
    bus = EventBus()
    benchmark_args = environ.get(ENV_BENCHMARK)
    session = BenchmarkSession(parse_benchmark_args(shlex.split(benchmark_args)), bus=bus) if benchmark_args else None
    folders = [Path(f) for f in environ.get(ENV_FOLDERS, "").split(os.pathsep) if f]
    library = experiment_library(environ, folders, session.folder if session else None)
    app = create_app(bus, library, mode="live" if session else "serve", token=environ.get(ENV_TOKEN),
                     heartbeat_interval=float(environ.get(ENV_HEARTBEAT, "10")),
                     allowed_hosts=environ.get(ENV_ALLOWED_HOSTS, "").split(","),
                     static_url=environ.get(ENV_STATIC_URL) or (session.config.static_url if session else None),
                     metrics=session.exporter.registry if session else None)
    worker = gevent.spawn(run_session, session) if session else None

    def shutdown() -> None:
        if session is not None:
            session.stop()
            worker.join(timeout=SHUTDOWN_DRAIN_SECONDS)
        bus.close()

    shutdown_before_exit(shutdown)
    return app


def experiment_library(environ: Mapping[str, str], folders: list[Path], live_folder: Path | None):
    """The folders (and the live one), plus the experiments of GENAI_BENCH_RESULTS_DB when it is set."""
    url = environ.get(ENV_RESULTS_DB)
    if not url:
        return ExperimentLibrary(folders, live_folder=live_folder)
    from genai_bench.database.commands import served_library

    try:
        return served_library(url, folders, live_folder)
    except ConfigError as exc:
        raise ConfigError(f"{ENV_RESULTS_DB}: {exc}") from None


def redis_app_from_environment(environ: Mapping[str, str]) -> Flask:
    """GENAI_BENCH_REDIS_URL: every experiment in that Redis, live (any number of workers serve the same events)."""
    from genai_bench.fanout.settings import RedisSettings
    from genai_bench.web.fanout import redis_dashboard

    if environ.get(ENV_BENCHMARK):
        raise ConfigError(f"set {ENV_BENCHMARK} or {ENV_REDIS}, not both: a dashboard of Redis runs no benchmark "
                          f"(give the benchmark --streaming-redis-url to publish there)")
    url = RedisSettings(environ[ENV_REDIS]).validate(ENV_REDIS).url
    folders = [Path(f) for f in environ.get(ENV_FOLDERS, "").split(os.pathsep) if f]
    app, hub = redis_dashboard(url, folders, token=environ.get(ENV_TOKEN),
                               allowed_hosts=environ.get(ENV_ALLOWED_HOSTS, "").split(","),
                               heartbeat_interval=float(environ.get(ENV_HEARTBEAT, "10")),
                               static_url=environ.get(ENV_STATIC_URL))

    def shutdown() -> None:  # end every open stream: the mirrors' and the process's own
        hub.close()
        app.extensions["genai_bench"].bus.close()

    shutdown_before_exit(shutdown)
    return app


def run_session(session: BenchmarkSession) -> None:
    """Run a benchmark in the background; a failure is logged and shown as a failed status, never lost silently."""
    try:
        session.run(handle_signals=False)
    except Exception:
        log.exception("the benchmark given in %s failed", ENV_BENCHMARK)
    finally:
        session.notifications.close()  # the end's notice is delivered (bounded) before the event log closes
        close_sinks(session.sinks)  # the plugins' sinks get what is queued, then close()
        session.event_log.close()
        if session.redis is not None:
            session.redis.close()


def shutdown_before_exit(shutdown: Callable[[], None]) -> None:
    """Under gunicorn, run `shutdown` (drain the benchmark, end open streams) before the worker's own exit handler.

    Open SSE/WebSocket streams would otherwise hold the worker for its whole graceful timeout, and a worker that
    exits at once would kill a benchmark before it wrote what it measured.
    """
    if "gunicorn" not in sys.modules:
        return
    for sig in SHUTDOWN_SIGNALS:
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def graceful(signum, frame, previous=previous):
            shutdown()
            previous(signum, frame)

        signal.signal(sig, lambda signum, frame, graceful=graceful: gevent.spawn(graceful, signum, frame))

