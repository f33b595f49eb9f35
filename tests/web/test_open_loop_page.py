"""Open-loop experiments on the pages: `genai-bench benchmark --request-rate 2,6` (one run per arrival rate, the same
max concurrency for every run) served by `genai-bench serve` and opened in headless Chromium. Runs are labelled and
placed by their rate ("r=2/s", a request-rate x axis, a "Rate (req/s)" table column) instead of by concurrency, and
the schedule metrics are offered in the metric selector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.processes import run_genai_bench, serve_experiments

pytestmark = pytest.mark.slow

READY = "document.getElementById('results-root').dataset.ready === 'true'"
SCHEDULE_METRICS = ["schedule_lag", "ttft_from_schedule", "e2e_latency_from_schedule"]


@pytest.fixture(scope="module")
def open_loop_folder(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("open-loop")
    done = run_genai_bench(base, "benchmark", "--request-rate", "2,6", "--max-requests-per-run", "6",
                           "--max-time-per-run", "0.3", "--experiment-base-dir", str(base), "--experiment-folder-name", "ol")
    assert done.returncode == 0, f"open-loop benchmark failed:\n{done.stdout}\n{done.stderr}"
    folder = base / "ol"
    assert len(list(folder.glob("*_request_rate_*.json"))) == 2
    return folder


@pytest.fixture(scope="module")
def served(open_loop_folder):
    server = serve_experiments([open_loop_folder])
    yield server
    server.stop()


def open_results(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function(READY, timeout=15_000)
    page.wait_for_function("document.querySelectorAll('#rv-rows tr').length === 2", timeout=10_000)
    page.wait_for_timeout(150)   # let the charts draw


def test_runs_are_labelled_and_placed_by_rate(page, served, open_loop_folder):
    open_results(page, served.url)
    view = "window.GenaiResults.current"

    # Curve point labels (the texts drawn next to each point) name the rate, not the (shared) concurrency.
    for chart in ("ttft", "errors", "metric"):
        labels = page.evaluate(f"n => {view}.charts[n].$pointLabels", chart)
        assert sorted(labels) == ["r=2/s", "r=6/s"], (chart, labels)
    # The load charts put the runs at their rate, on a request-rate axis.
    for chart in ("errors", "metric"):
        xs = page.evaluate(f"n => {view}.charts[n].data.datasets[0].data.map(p => p.x)", chart)
        assert xs == [2, 6]
        assert page.evaluate(f"n => {view}.charts[n].options.scales.x.title.text", chart) == "request rate (req/s)"
    assert page.text_content("#rv-fig-errors .rv-chart-title") == "Error rate vs request rate"
    assert page.text_content("#rv-fig-metric .rv-chart-title").endswith(" vs request rate")

    # The table gains a rate column next to the concurrency.
    heads = page.evaluate("[...document.querySelectorAll('#rv-table thead th')].map(th => th.dataset.col)")
    assert heads.index("request_rate") == heads.index("concurrency") + 1
    rate_head = page.text_content("#rv-table thead th[data-col=request_rate]")
    assert "Rate" in rate_head and "req/s" in rate_head
    rates = page.evaluate("[...document.querySelectorAll('#rv-rows td[data-col=request_rate]')].map(td => td.textContent)")
    assert sorted(rates) == ["2", "6"]
    concurrencies = page.evaluate("[...document.querySelectorAll('#rv-rows td[data-col=concurrency]')].map(td => td.textContent)")
    assert concurrencies == ["256", "256"]

    # The drill-down names the rate.
    page.click("#rv-rows tr:has(td[data-col=request_rate]:text-is('6'))")
    page.wait_for_function("document.getElementById('rv-drill') && !document.getElementById('rv-drill').hidden", timeout=10_000)
    title = page.text_content("#rv-drill-title")
    assert "rate 6 req/s" in title

    # The schedule metrics are offered, and chartable.
    for key in SCHEDULE_METRICS:
        assert page.evaluate("k => { const o = document.querySelector('#rv-metric option[value=' + k + ']');"
                             " return !!o && !o.hidden && !o.disabled; }", key)
    page.select_option("#rv-metric", "schedule_lag")
    page.wait_for_timeout(100)
    ys = page.evaluate(f"{view}.charts.metric.data.datasets[0].data.map(p => p.y)")
    lags = [json.loads(next(open_loop_folder.glob(f"*_request_rate_{rate}*.json")).read_text())
            ["aggregated_metrics"]["stats"]["schedule_lag"]["p50"] for rate in (2, 6)]
    assert ys == pytest.approx([lag * 1000 for lag in lags])  # the run files' p50, in ms
    assert page.text_content("#rv-fig-metric .rv-chart-title").startswith("Schedule lag")


def test_closed_loop_experiment_has_no_rate_column_nor_schedule_metrics(page, tmp_path, run_cli, child_processes):
    done = run_cli("benchmark", "--num-concurrency", "1,2", "--max-requests-per-run", "2", "--max-time-per-run", "0.3",
                   "--experiment-base-dir", str(tmp_path), "--experiment-folder-name", "cl")
    assert done.returncode == 0, f"closed-loop benchmark failed:\n{done.stdout}\n{done.stderr}"
    server = serve_experiments([tmp_path / "cl"], child_processes)
    open_results(page, server.url)
    view = "window.GenaiResults.current"
    assert sorted(page.evaluate(f"{view}.charts.errors.$pointLabels")) == ["c=1", "c=2"]
    assert page.evaluate(f"{view}.charts.errors.options.scales.x.title.text") == "concurrency"
    assert page.text_content("#rv-fig-errors .rv-chart-title") == "Error rate vs concurrency"
    assert page.locator("#rv-table thead th[data-col=request_rate]").count() == 0
    for key in SCHEDULE_METRICS:
        assert page.evaluate("k => { const o = document.querySelector('#rv-metric option[value=' + k + ']');"
                             " return !o || (o.hidden && o.disabled); }", key)


def test_live_dashboard_labels_open_loop_runs_by_rate(start_benchmark, page):
    bench = start_benchmark("--request-rate", "2,6", "--max-requests-per-run", "6", "--max-time-per-run", "0.3")
    page.goto(bench.url)
    page.wait_for_function("document.body.dataset.finalStatus === 'completed'", timeout=60_000)
    assert bench.wait_exit(30) == 0

    heads = page.evaluate("[...document.querySelectorAll('#runs-table thead th')].map(th => th.textContent.trim())")
    assert heads[1] == "Concurrency" and heads[2].startswith("Rate") and "req/s" in heads[2]
    rows = page.evaluate("[...document.querySelectorAll('#runs-body tr')].map(r => [r.cells[1].textContent, r.cells[2].textContent])")
    assert rows == [["256", "2"], ["256", "6"]]
    points = page.evaluate("window.genaiDashboard.charts.scatter.data.datasets.map(d => d.data.map(p => p.request_rate))")
    assert points == [[2, 6]]
    labels = page.evaluate("window.genaiDashboard.charts.scatter.data.datasets[0].data.map(p => GenaiCommon.runLoadLabel(p))")
    assert labels == ["r=2/s", "r=6/s"]
