"""Serving the dashboard app in-process on gevent's WSGI server."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterable
from pathlib import Path

import gevent
from flask import Flask
from gevent.event import Event as GeventEvent
from gevent.pywsgi import WSGIHandler, WSGIServer

from genai_bench.events import EventBus
from genai_bench.loop_gate import LoopGate
from genai_bench.monitor import ConnectionCounter
from genai_bench.results import ExperimentLibrary
from genai_bench.web import create_app

log = logging.getLogger(__name__)
# New connections accepted per loop iteration: a storm of viewers is taken a few at a time, not 100 at once.
MAX_ACCEPTS_PER_ITERATION = 4


class YieldingHandler(WSGIHandler):
    """A request's handling and the chunks it writes before it first waits pass the server's gate.

    That covers the handshake, a page, and an SSE stream's retry hint and snapshot (or missed events): a storm's
    work comes out in slices, in the loop's idle moments. Once a stream has waited for an event it is live, and its
    events go straight out: gated, a burst of events outran the viewers' writes and overflowed their queues (the
    stalled-client test in tests/web/test_stream.py). The live fan-out's cost is the one measured in
    docs/performance.md (c); the client monitor flags the run when it lags the loop.
    """

    server: ShieldedWSGIServer
    live = False
    last_write_at: float | None = None

    def handle_one_request(self):
        """Parse and dispatch one request once the gate lets it through."""
        self.server.gate.wait()
        return super().handle_one_request()

    def write(self, data: bytes) -> None:
        """Write one chunk, through the gate until the response has had to wait for its next chunk."""
        loop = self.server.loop
        # The loop's clock only moves when the loop iterates: if it moved since the last write, producing this
        # chunk waited (for an event), so the stream is live.
        if self.last_write_at is not None and loop.now() != self.last_write_at:
            self.live = True
        if not self.live:
            self.server.gate.wait()
        super().write(data)
        self.last_write_at = loop.now()


class ShieldedWSGIServer(WSGIServer):
    """gevent's WSGI server with the dashboard's work behind a LoopGate, and every accepted connection counted.

    The benchmark's users share this process's event loop: without the gate, viewers' handshakes and snapshots run
    whenever they arrive, in between (and ahead of) due first tokens; with it they wait for the loop's idle moments.
    """

    handler_class = YieldingHandler
    max_accept = MAX_ACCEPTS_PER_ITERATION

    def __init__(self, *args, connections: ConnectionCounter, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gate = LoopGate()
        self.connections = connections

    def handle(self, sock, address) -> None:
        """Count the connection (the client monitor watches for storms), then serve it."""
        self.connections.note()
        super().handle(sock, address)

    def stop(self, timeout: float | None = None) -> None:
        """Let waiting handlers through so that they see the server stop, then stop."""
        self.gate.close()
        super().stop(timeout=timeout)


class DashboardServer:
    """The dashboard's WSGI server: binds on start (so a busy port fails early), ends open streams on stop."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.app = app
        self.bus = app.extensions["genai_bench"].bus
        self.host = host
        self.port = port
        self.wsgi: WSGIServer | None = None
        self.stopped = GeventEvent()
        self.connections = ConnectionCounter()

    def start(self) -> DashboardServer:
        """Bind and start serving in the background; raises OSError when the port is taken."""
        self.wsgi = ShieldedWSGIServer((self.host, self.port), self.app, log=None, error_log=log,
                                       connections=self.connections)
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


def results_server(folders: list[Path], host: str = "127.0.0.1", port: int = 8080, token: str | None = None,
                   allowed_hosts: Iterable[str] = (), static_url: str | None = None, library=None) -> DashboardServer:
    """A dashboard over finished experiment folders (`genai-bench serve`), bound but not yet waited on; `library`
    (a database.library.CombinedLibrary) serves a results database with the folders.

    Replays drive its live view through the bus the way a benchmark would.
    """
    app = create_app(EventBus(), library or ExperimentLibrary(folders), mode="serve", token=token,
                     allowed_hosts=(host, *allowed_hosts), static_url=static_url)
    return DashboardServer(app, host=host, port=port).start()
