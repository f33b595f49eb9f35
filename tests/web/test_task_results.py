"""The results view per task: an embeddings experiment (batched, not streamed) shows E2E latency against inputs/s and
its runs at their batch size, with no TTFT/TPOT panels, metrics or columns; compared with a text-to-text experiment,
the view shows the union. Real experiments written in process against the simulator, driven by headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genai_bench.report import write_report
from genai_bench.results import load_experiment
from genai_bench.scenarios import parse_scenario
from tests.support.processes import serve_experiments
from tests.support.servers import run_benchmark
from tests.web.test_results_page import READY, column, column_values, open_results, point_counts, select

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("task-experiments")
    emb = run_benchmark(base, "emb", concurrencies=(1,), requests=6, task="text-to-embeddings",
                        traffic_scenarios=[parse_scenario("E(32)")], batch_sizes=[1, 4])
    txt = run_benchmark(base, "txt", concurrencies=(1, 2), requests=4)
    return {"emb": emb, "txt": txt}


@pytest.fixture(scope="module")
def served(folders):
    server = serve_experiments([folders["emb"], folders["txt"]])
    yield server
    server.stop()


def batch_runs(folder: Path) -> list[dict]:
    """The aggregated metrics of the embeddings runs, by batch size."""
    return [json.loads(next(folder.glob(f"*_batch_size_{b}_time_*.json")).read_text())["aggregated_metrics"]
            for b in (1, 4)]


def visible_options(page) -> list[str]:
    return page.evaluate("[...document.querySelectorAll('#rv-metric option')].filter(o => !o.hidden).map(o => o.value)")


def test_embeddings_experiment_shows_e2e_against_inputs_per_second_by_batch_size(served, folders, page):
    open_results(page, served.url)
    select(page, "emb")

    assert page.locator("#rv-fig-ttft").is_hidden() and page.locator("#rv-fig-tpot").is_hidden()
    assert page.locator("#rv-fig-inputs").is_visible() and page.locator("#rv-fig-e2e").is_visible()
    assert "vs inputs/s" in page.locator("#rv-fig-inputs figcaption").inner_text()
    # One point per batch size (not merged as repeats of concurrency 1), labelled b=1, b=4.
    assert point_counts(page, "inputs") == [2]
    assert point_counts(page, "e2e") == [2]
    expected = batch_runs(folders["emb"])
    points = page.evaluate("window.GenaiResults.current.charts.inputs.data.datasets[0].data.map(p => [p.batch_size, p.x, p.y])")
    assert [p[0] for p in points] == [1, 4]
    assert [p[1] for p in points] == pytest.approx([m["inputs_per_second"] for m in expected])
    assert [p[2] for p in points] == pytest.approx([m["stats"]["e2e_latency"]["p50"] * 1000 for m in expected])
    labels = page.evaluate("window.GenaiResults.current.charts.inputs.$pointLabels")
    assert labels == ["b=1", "b=4"]
    # The load axis is the batch size.
    assert page.evaluate("window.GenaiResults.current.charts.errors.options.scales.x.title.text") == "batch size"
    assert "vs batch size" in page.locator("#rv-fig-errors figcaption").inner_text()
    xs = page.evaluate("window.GenaiResults.current.charts.metric.data.datasets[0].data.map(p => p.x)")
    assert xs == [1, 4]

    # No streamed metric to choose; inputs/s is one, and the chosen metric fell back to E2E latency.
    options = visible_options(page)
    assert not {"ttft", "tpot", "itl", "mean_output_throughput_tokens_per_s"} & set(options)
    assert {"e2e_latency", "inputs_per_second", "requests_per_second"} <= set(options)
    assert page.evaluate("window.GenaiResults.current.state.metric") == "e2e_latency"
    page.select_option("#rv-metric", "inputs_per_second")
    ys = page.evaluate("window.GenaiResults.current.charts.metric.data.datasets[0].data.map(p => p.y)")
    assert ys == pytest.approx([m["inputs_per_second"] for m in expected])

    # The table: batch size instead of concurrency, inputs/s, no TTFT/TPOT columns.
    headers = page.evaluate("[...document.querySelectorAll('#rv-table th')].map(th => th.dataset.col)")
    assert "batch_size" in headers and "inputs_per_second" in headers and "e2e_p50" in headers
    assert not {"concurrency", "ttft_p50", "tpot_p50", "itl_p50", "output_tps"} & set(headers)
    assert column(page, "batch_size") == ["1", "4"]
    assert column_values(page, "inputs_per_second") == pytest.approx([m["inputs_per_second"] for m in expected])

    # The drill-down: no TTFT/TPOT histograms, E2E over time.
    page.click("#rv-rows tr:nth-child(2)")
    page.wait_for_selector("#rv-drill[data-loaded=true]", timeout=10_000)
    assert "batch size 4" in page.locator("#rv-drill-title").inner_text()
    assert page.locator("#rv-drill-hist-ttft").is_hidden() and page.locator("#rv-drill-hist-e2e").is_visible()
    assert page.input_value("#rv-drill-metric") == "e2e_latency"
    assert page.evaluate("window.GenaiResults.current.scatterPointCount()") == 6
    facts = page.evaluate("document.getElementById('rv-drill-facts').textContent")
    assert "Inputs/s" in facts and "TTFT" not in facts and "generated tok/s" not in facts


def test_embeddings_and_text_compared_show_the_union(served, page):
    open_results(page, served.url)
    select(page, "emb", "txt")
    for figure in ("ttft", "tpot", "e2e", "inputs", "errors", "metric"):
        assert page.locator(f"#rv-fig-{figure}").is_visible(), figure
    assert point_counts(page, "ttft") == [2]  # the text experiment's curve only
    assert point_counts(page, "inputs") == [2]  # the embeddings experiment's
    assert {"ttft", "inputs_per_second"} <= set(visible_options(page))
    headers = page.evaluate("[...document.querySelectorAll('#rv-table th')].map(th => th.dataset.col)")
    assert {"concurrency", "batch_size", "ttft_p50", "inputs_per_second"} <= set(headers)
    labels = sorted(page.evaluate("window.GenaiResults.current.charts.errors.$pointLabels"))
    assert labels == ["b=1", "b=4", "c=1", "c=2"]
    # Text alone is as before: no inputs/s panel, the TTFT curves.
    select(page, "txt")
    assert page.locator("#rv-fig-inputs").is_hidden() and page.locator("#rv-fig-ttft").is_visible()
    assert "inputs_per_second" not in visible_options(page)
    assert column(page, "concurrency") == ["1", "2"]


def test_embeddings_report_from_disk(folders, tmp_path, page):
    report = write_report(load_experiment(folders["emb"]), "html", tmp_path / "report.html")
    page.goto(report.as_uri())
    page.wait_for_function(READY, timeout=15_000)
    assert page.locator("#rv-fig-ttft").is_hidden()
    assert point_counts(page, "inputs") == [2]
    assert column(page, "batch_size") == ["1", "4"]
