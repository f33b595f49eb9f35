"""Fixtures for the web tests: a real `genai-bench benchmark --enable-streaming` child process and a fresh browser
page."""

from __future__ import annotations

import pytest

from tests.support.processes import genai_bench_command

STARTUP_TIMEOUT = 20.0


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
    """A fresh desktop-sized page; JavaScript errors on it fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
