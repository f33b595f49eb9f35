"""--alert on the live page in headless Chromium: the banner while a rule fires, gone when it resolves, and the
moments marked on the time charts."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# The embedded simulator adds 0.05 ms of prefill per prompt token: D(4000,2) gets its first token ~240 ms after it
# is sent, D(10,2) after ~40 ms. Each run lasts 6 s, so the rule fires in the first and resolves in the second.
RUN = ("--traffic-scenario", "D(4000,2)", "--traffic-scenario", "D(10,2)", "--num-concurrency", "2",
       "--max-requests-per-run", "1000", "--max-time-per-run", "0.1", "--alert", "ttft.p50>150ms")


def test_the_banner_shows_a_firing_rule_and_the_charts_mark_it(page, start_benchmark):
    bench = start_benchmark(*RUN, "--keep-serving")
    page.goto(bench.url)
    banner = page.locator("#alerts-banner")
    banner.wait_for(state="visible", timeout=20_000)
    assert "ttft.p50>150ms" in page.text_content("#alerts-list")
    assert "ttft.p50 = " in page.text_content("#alerts-list") and "D(4000,2)" in page.text_content("#alerts-list")
    page.wait_for_function("Chart.getChart(document.getElementById('chart-latency')).$alertMarksDrawn > 0")
    marks = page.evaluate("Chart.getChart(document.getElementById('chart-latency')).$alertMarks")
    assert [m["firing"] for m in marks] == [True] and marks[0]["x"] > 0
    banner.wait_for(state="hidden", timeout=20_000)  # resolved in the second run
    marks = page.evaluate("Chart.getChart(document.getElementById('chart-throughput')).$alertMarks")
    assert [m["firing"] for m in marks] == [True, False] and marks[1]["x"] > marks[0]["x"]
    states = page.evaluate("window.genaiDashboard.model.alerts.events.map(a => a.state)")
    assert states == ["firing", "resolved"]
    log = page.text_content("#log-list")
    assert "Alert firing: ttft.p50>150ms" in log and "Alert resolved: ttft.p50>150ms" in log
    # Once it finished, the results view says which rules fired (from the metadata's alerts).
    page.locator("#rv-alerts").wait_for(state="visible", timeout=30_000)
    assert page.text_content("#rv-alerts").startswith("Alerts fired: ttft.p50>150ms · ")


def test_a_page_opened_while_a_rule_fires_shows_it_from_the_state(page, start_benchmark):
    bench = start_benchmark(*RUN)
    bench.wait_for(r"Alert firing: ttft\.p50>150ms", 20)
    page.goto(bench.url)  # the alert happened before the page loaded: /api/state brings it
    page.locator("#alerts-banner").wait_for(state="visible", timeout=10_000)
    assert page.evaluate("Object.keys(window.genaiDashboard.model.alerts.firing)") == ["ttft.p50>150ms"]


def test_a_rule_still_firing_when_the_benchmark_ends_clears_the_banner(page, start_benchmark):
    bench = start_benchmark("--traffic-scenario", "D(4000,2)", "--num-concurrency", "2", "--max-requests-per-run",
                            "1000", "--max-time-per-run", "0.05", "--alert", "ttft.p50>150ms", "--keep-serving")
    page.goto(bench.url)
    banner = page.locator("#alerts-banner")
    banner.wait_for(state="visible", timeout=20_000)
    banner.wait_for(state="hidden", timeout=30_000)  # no run resolves it: the benchmark's end does
    alerts = page.evaluate("window.genaiDashboard.model.alerts.events.map(a => [a.state, a.reason])")
    assert alerts == [["firing", None], ["resolved", "benchmark ended"]]
    assert "Alert resolved: ttft.p50>150ms (benchmark ended; ttft.p50 = " in page.text_content("#log-list")
    page.wait_for_function("window.genaiDashboard.model.completed !== null")
