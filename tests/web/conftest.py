"""Fixtures for the web tests: the Flask app in process (test_client), a real `genai-bench benchmark
--enable-streaming` child process, and a fresh browser page."""

from __future__ import annotations

import pytest

from tests.support.processes import genai_bench_command

STARTUP_TIMEOUT = 20.0


@pytest.fixture
def live_app():
    """Build a live dashboard app (bus, state, Flask app; no socket) -> (publisher, test client)."""
    from genai_bench.events import EventBus
    from genai_bench.streaming import EventDashboard
    from genai_bench.web import create_app

    def build(token: str | None = None):
        publisher = EventDashboard(EventBus(), context={"model": "test-model"})
        return publisher, create_app(publisher.bus, token=token, state=publisher.state).test_client()

    return build


@pytest.fixture
def serve_app(finished_experiment):
    """Build the `genai-bench serve` app over some folders (the finished experiment by default) -> test client."""
    from genai_bench.events import EventBus
    from genai_bench.results import ExperimentLibrary
    from genai_bench.web import create_app

    def build(*folders):
        library = ExperimentLibrary(list(folders or [finished_experiment]))
        return create_app(EventBus(), library, mode="serve").test_client()

    return build


@pytest.fixture
def start_benchmark(child_processes, tmp_path):
    """Start `genai-bench benchmark --enable-streaming --streaming-port 0 ARGS` children; each has `url`, the
    address of its live dashboard."""

    def start(*args: str):
        child = child_processes(genai_bench_command("benchmark", "--enable-streaming", "--streaming-port", "0",
                                                    "--experiment-base-dir", str(tmp_path), *args))
        child.url = child.wait_for(r"Live dashboard: (http://\S+)", STARTUP_TIMEOUT).group(1)
        return child

    return start


@pytest.fixture
def page(browser):
    """A fresh desktop-sized page; JavaScript errors on it fail the test.

    Playwright polls string conditions with eval, which the page's CSP forbids, so these pages bypass it;
    test_security.py checks the page under its policy.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
