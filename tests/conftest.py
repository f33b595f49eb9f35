"""Shared fixtures: real simulators on free loopback ports and the real CLI as a subprocess."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import genai_bench  # noqa: F401  (patches gevent before anything else opens a socket)
import pytest

from genai_bench.simulator import SimulatorConfig, SimulatorServer

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def start_simulator():
    """Start real simulators on 127.0.0.1:0 with the given config fields; all are stopped at teardown."""
    servers: list[SimulatorServer] = []

    def start(**fields) -> SimulatorServer:
        server = SimulatorServer(SimulatorConfig(**fields)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def fast_simulator(start_simulator) -> SimulatorServer:
    """A simulator with small delays, so a test run takes little time."""
    return start_simulator(ttft_ms=5.0, itl_ms=1.0, seed=1)


class CliProcess:
    """A `genai-bench` subprocess whose output lines can be waited for."""

    def __init__(self, args: list[str], cwd: Path, env: dict | None = None) -> None:
        self.args = args
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "genai_bench", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self.fd = self.proc.stdout.fileno()
        self.partial = ""

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match:
        """Read output until a line matches `pattern`; on timeout, fail showing everything the child printed."""
        regex = re.compile(pattern)
        for line in self.lines:
            if match := regex.search(line):
                return match
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Raw reads: a buffered readline() can hold lines the selector no longer reports as readable.
            if not select.select([self.fd], [], [], 0.2)[0]:
                continue
            chunk = os.read(self.fd, 65536)
            if not chunk:
                break
            *complete, self.partial = (self.partial + chunk.decode(errors="replace")).split("\n")
            for line in complete:
                self.lines.append(line)
                if match := regex.search(line):
                    return match
        self.kill()
        pytest.fail(f"no line matching {pattern!r} from genai-bench {' '.join(self.args)}; output:\n" + self.output())

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for exit, collecting the rest of the output; returns the exit code."""
        try:
            rest, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"genai-bench {' '.join(self.args)} did not exit within {timeout} s; output:\n" + self.output())
        self.lines.extend((self.partial + rest.decode(errors="replace")).splitlines())
        self.partial = ""
        return self.proc.returncode

    def interrupt(self) -> None:
        """Send Ctrl-C."""
        self.proc.send_signal(signal.SIGINT)

    def kill(self) -> None:
        """Kill the child if it still runs."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def output(self) -> str:
        """Everything read so far."""
        return "\n".join(self.lines)


@pytest.fixture
def cli(tmp_path):
    """Start `genai-bench ARGS` subprocesses in tmp_path; every one is killed at teardown."""
    processes: list[CliProcess] = []

    def start(*args: str, env: dict | None = None) -> CliProcess:
        process = CliProcess(list(args), tmp_path, env)
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()


def run_cli(tmp_path: Path, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Run `genai-bench ARGS` to completion."""
    return subprocess.run([sys.executable, "-m", "genai_bench", *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def dashboard_server():
    """Start real dashboard servers (bus + state + Flask app on gevent's WSGI server, port 0); stopped at teardown."""
    from genai_bench.streaming import EventDashboard
    from genai_bench.web import create_app
    from genai_bench.web.server import DashboardServer

    servers = []

    def start(token: str | None = None, heartbeat_interval: float = 10.0, queue_size: int = 512):
        from genai_bench.events import EventBus

        publisher = EventDashboard(EventBus(subscriber_queue_size=queue_size), context={"model": "test-model"})
        app = create_app(publisher.bus, token=token, heartbeat_interval=heartbeat_interval, state=publisher.state)
        server = DashboardServer(app, port=0).start()
        servers.append(server)
        return publisher, server

    yield start
    for server in servers:
        server.stop()


class SSEReader:
    """A real HTTP client reading a text/event-stream frame by frame (http.client, chunked decoding)."""

    def __init__(self, url: str, headers: dict | None = None, timeout: float = 10.0) -> None:
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self.connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
        self.response = self.connection.getresponse()

    def frame(self) -> dict:
        """The next frame as {field: value}; `data` is parsed JSON when it is JSON."""
        import json

        frame: dict = {}
        while True:
            line = self.response.readline().decode()
            if line == "":
                raise EOFError("stream ended")
            line = line.rstrip("\n")
            if not line:
                if frame:
                    return frame
                continue
            name, _, value = line.partition(":")
            frame[name] = value[1:] if value.startswith(" ") else value
            if name == "data":
                try:
                    frame["data"] = json.loads(frame["data"])
                except ValueError:
                    pass

    def events(self, count: int) -> list[dict]:
        """The next `count` event envelopes (frames with data), skipping retry hints."""
        out = []
        while len(out) < count:
            frame = self.frame()
            if "data" in frame:
                out.append(frame)
        return out

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


def run_benchmark(base: Path, name: str = "exp", concurrencies=(1, 2), requests: int = 6, **fields) -> Path:
    """A real benchmark against a fast in-process simulator; returns its experiment folder."""
    from genai_bench.config import BenchmarkConfig
    from genai_bench.scenarios import parse_scenario
    from genai_bench.session import BenchmarkSession

    with SimulatorServer(SimulatorConfig(ttft_ms=2.0, itl_ms=0.5, seed=1)).start() as server:
        settings = dict(api_base=server.url, traffic_scenarios=[parse_scenario("D(20,10)")],
                        concurrencies=list(concurrencies), max_requests_per_run=requests, max_time_per_run=1.0,
                        experiment_base_dir=str(base), experiment_folder_name=name, seed=3)
        settings.update(fields)
        session = BenchmarkSession(BenchmarkConfig(**settings))
        session.run(handle_signals=False)
        session.close()
    return base / name


@pytest.fixture(scope="session")
def finished_experiment(tmp_path_factory) -> Path:
    """One finished two-run experiment folder, shared read-only by the tests that only read it."""
    return run_benchmark(tmp_path_factory.mktemp("experiments"))


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (Debian's, no download) for the whole session: playwright's sync API allows one."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
