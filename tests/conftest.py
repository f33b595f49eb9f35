"""Fixtures shared by every test: simulators, child processes, a finished experiment, the browser; and the `slow`
marker on every test that starts a child process or the browser. Helpers live in tests/support."""

from __future__ import annotations

import genai_bench  # noqa: F401  (patches gevent before anything else opens a socket)
import pytest

from genai_bench.simulator import SimulatorConfig, SimulatorServer
from tests.support.processes import ChildProcess, genai_bench_command, run_genai_bench
from tests.support.servers import run_benchmark

# A test using any of these (directly or through another fixture) starts a child process or the browser.
SLOW_FIXTURES = {"child_processes", "run_cli", "browser", "worker_sessions"}


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


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
def webhook():
    """Start real webhook receivers (tests.support.webhooks) on 127.0.0.1:0; stopped at teardown."""
    from tests.support.webhooks import WebhookReceiver

    receivers: list[WebhookReceiver] = []

    def start(status: int = 200) -> WebhookReceiver:
        receivers.append(WebhookReceiver(status).start())
        return receivers[-1]

    yield start
    for receiver in receivers:
        receiver.stop()


@pytest.fixture
def fast_simulator(start_simulator) -> SimulatorServer:
    """A simulator with small delays, so a test run takes little time."""
    return start_simulator(ttft_ms=5.0, itl_ms=1.0, seed=1)


@pytest.fixture
def child_processes(tmp_path):
    """Start ChildProcess(command, cwd=tmp_path unless given, env=...); every one is stopped at teardown."""
    started: list[ChildProcess] = []

    def start(command: list[str], **options) -> ChildProcess:
        options.setdefault("cwd", tmp_path)
        child = ChildProcess(command, **options)
        started.append(child)
        return child

    yield start
    for child in started:
        child.stop()


@pytest.fixture
def cli(child_processes):
    """Start `genai-bench ARGS` children in tmp_path (its results go to tmp_path/experiments)."""
    return lambda *args, env=None: child_processes(genai_bench_command(*args), env=env)


@pytest.fixture
def run_cli(tmp_path):
    """Run `genai-bench ARGS` in tmp_path to completion; a CompletedProcess with text stdout and stderr."""
    return lambda *args, timeout=120.0: run_genai_bench(tmp_path, *args, timeout=timeout)


@pytest.fixture
def dashboard_server():
    """Start real dashboard servers (bus + state + Flask app on gevent's WSGI server, port 0); stopped at teardown."""
    from genai_bench.events import EventBus
    from genai_bench.streaming import EventDashboard
    from genai_bench.web import create_app
    from genai_bench.web.server import DashboardServer

    servers = []

    def start(token: str | None = None, heartbeat_interval: float = 10.0, queue_size: int = 512):
        publisher = EventDashboard(EventBus(subscriber_queue_size=queue_size), context={"model": "test-model"})
        app = create_app(publisher.bus, token=token, heartbeat_interval=heartbeat_interval, state=publisher.state)
        server = DashboardServer(app, port=0).start()
        servers.append(server)
        return publisher, server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def finished_experiment(tmp_path_factory):
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


@pytest.fixture
def redis_server(child_processes, tmp_path):
    """A real redis-server on a free loopback port (tests/support/redis.py); skipped when it is not installed."""
    from tests.support.redis import start_redis

    return start_redis(child_processes, tmp_path / "redis")
