"""The server panel (--server-metrics) in headless Chromium: on the live page against the embedded simulator's
/metrics, hidden without them, and in the results drill-down of a finished run."""

from __future__ import annotations

import pytest

from tests.support.processes import run_genai_bench, serve_experiments

pytestmark = pytest.mark.slow

# About 0.35 s per request on the embedded simulator; 4 users keep its queue at 4 for several seconds.
RUN = ("--traffic-scenario", "D(100,40)", "--num-concurrency", "4", "--max-requests-per-run", "120",
       "--max-time-per-run", "1", "--server-metrics-interval", "0.25")
READY = "document.getElementById('results-root').dataset.ready === 'true'"


def points(page, canvas: str, dataset: int = 0) -> list:
    """The y values a Chart.js chart on the page holds."""
    return page.evaluate("([id, i]) => Chart.getChart(document.getElementById(id)).data.datasets[i].data.map(p => p.y)",
                         [canvas, dataset])


def test_the_live_page_shows_the_servers_queue_kv_and_tokens(page, start_benchmark):
    bench = start_benchmark(*RUN)
    page.goto(bench.url)
    page.wait_for_selector("#server-panel", state="visible", timeout=20_000)
    page.wait_for_function("Chart.getChart(document.getElementById('chart-server-queue')).data.datasets[0].data"
                           ".filter(p => p.y === 4).length >= 3", timeout=20_000)
    assert max(points(page, "chart-server-queue", 1)) == 0  # no queue: the simulator takes every request
    assert max(y for y in points(page, "chart-server-kv") if y is not None) > 0
    assert any(y and y > 0 for y in points(page, "chart-server-tokens", 0))  # the server's generated tok/s
    assert any(y and y > 0 for y in points(page, "chart-server-tokens", 1))  # the client's output tok/s
    assert "vllm" in page.text_content("#server-sources")


def test_the_panel_stays_hidden_without_server_metrics(page, start_benchmark):
    bench = start_benchmark(*RUN, "--server-metrics", "off")
    page.goto(bench.url)
    page.wait_for_function("window.genaiDashboard && window.genaiDashboard.seriesLength() >= 6", timeout=20_000)
    assert page.locator("#server-panel").is_hidden()
    assert page.evaluate("window.genaiDashboard.model.serverPoints.length") == 0


def test_the_drill_down_charts_the_runs_server_metrics(page, tmp_path, child_processes):
    done = run_genai_bench(tmp_path, "benchmark", "--traffic-scenario", "D(20,20)", "--num-concurrency", "2",
                           "--max-requests-per-run", "30", "--server-metrics-interval", "0.2",
                           "--experiment-base-dir", str(tmp_path), "--experiment-folder-name", "exp")
    assert done.returncode == 0, done.stderr
    server = serve_experiments([tmp_path / "exp"], child_processes)
    page.goto(server.url)
    page.wait_for_function(READY, timeout=15_000)
    page.click("#rv-rows tr:nth-child(1)")
    page.wait_for_selector("#rv-drill[data-loaded=true]", timeout=10_000)
    assert page.locator("#rv-drill-server").is_visible()
    running = page.evaluate("window.GenaiResults.current.charts.drillServer.data.datasets[0].data.map(p => p.y)")
    assert max(running) == 2
    assert "Server vs client tokens" in page.text_content("#rv-drill-facts")
