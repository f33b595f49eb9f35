"""A webhook receiver for the alert tests: a real gevent WSGI server on 127.0.0.1:0 keeping every JSON body POSTed."""

from __future__ import annotations

import json
import time

import gevent
from gevent.pywsgi import WSGIServer


class WebhookReceiver:
    """Keeps the JSON bodies POSTed to it (any path) in `messages`; answers `status` (200 by default)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.messages: list[dict] = []
        self.paths: list[str] = []
        self.server = WSGIServer(("127.0.0.1", 0), self._app, log=None, error_log=None)

    def _app(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        self.paths.append(environ["PATH_INFO"])
        if environ["REQUEST_METHOD"] == "POST":
            self.messages.append(json.loads(body))
        start_response(f"{self.status} X", [("Content-Type", "text/plain")])
        return [b"ok"]

    def start(self) -> WebhookReceiver:
        self.server.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/services/T0/B0/secret"

    def wait_for(self, predicate, timeout: float = 30.0) -> list[dict]:
        """Wait (cooperatively) until some message satisfies `predicate`; the messages so far."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(predicate(m) for m in self.messages):
                return self.messages
            gevent.sleep(0.05)
        raise AssertionError(f"no matching webhook message within {timeout:g} s; got {self.messages}")

    def stop(self) -> None:
        self.server.stop(timeout=1)
