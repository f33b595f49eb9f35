"""Serving the dashboard app in-process on gevent's WSGI server."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from pathlib import Path

import gevent
from flask import Flask
from gevent.event import Event as GeventEvent
from gevent.pywsgi import WSGIServer

from genai_bench.events import EventBus
from genai_bench.results import ExperimentLibrary
from genai_bench.web import create_app

log = logging.getLogger(__name__)


class DashboardServer:
    """The dashboard's WSGI server: binds on start (so a busy port fails early), ends open streams on stop."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.app = app
        self.bus = app.extensions["genai_bench"].bus
        self.host = host
        self.port = port
        self.wsgi: WSGIServer | None = None
        self.stopped = GeventEvent()

    def start(self) -> DashboardServer:
        """Bind and start serving in the background; raises OSError when the port is taken."""
        self.wsgi = WSGIServer((self.host, self.port), self.app, log=None, error_log=log)
        self.wsgi.start()
        self.port = self.wsgi.server_port
        self.stopped.clear()
        return self

    @property
    def url(self) -> str:
        """The page's address."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def serve_until_signalled(self, announce: Callable[[], None] = lambda: None) -> None:
        """Call `announce` once Ctrl-C and SIGTERM are handled, then block until one arrives (or stop()), and stop."""
        handlers = [gevent.signal_handler(sig, self.stop) for sig in (signal.SIGINT, signal.SIGTERM)]
        try:
            announce()
            self.stopped.wait()
        finally:
            for handler in handlers:
                handler.cancel()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """True once the server has stopped (waits up to `timeout` seconds)."""
        return self.stopped.wait(timeout)

    def stop(self, timeout: float = 2.0) -> None:
        """End every open stream, then stop the server."""
        self.bus.close()
        if self.wsgi is not None:
            self.wsgi.stop(timeout=timeout)
        self.stopped.set()


def results_server(folders: list[Path], host: str = "127.0.0.1", port: int = 8080,
                   token: str | None = None) -> DashboardServer:
    """A dashboard over finished experiment folders (`genai-bench serve`), bound but not yet waited on.

    Replays drive its live view through the bus the way a benchmark would.
    """
    app = create_app(EventBus(), ExperimentLibrary(folders), mode="serve", token=token)
    return DashboardServer(app, host=host, port=port).start()
