"""The capacity search and repeats in the views: the live panel, the results banner and the error bars."""

from __future__ import annotations

import json

import pytest

from genai_bench import events
from genai_bench.config import BenchmarkConfig
from genai_bench.live_events import SearchProgress, SearchStep
from genai_bench.live_events import search as search_data
from genai_bench.report import write_report
from genai_bench.results import load_experiment
from genai_bench.scenarios import parse_scenario
from genai_bench.session import BenchmarkSession

READY = "document.getElementById('results-root').dataset.ready === 'true'"
PROGRESS = SearchProgress("max-rate", {"ttft_p90": 0.5}, 0.9, 0.05, 12, (
    SearchStep("k1", 8.0, 1.0, True), SearchStep("k2", 16.0, 0.42, False, oversaturated=True),
    SearchStep("k3", 12.0, 0.97, True)), low=12.0, high=16.0)


def test_live_page_shows_the_search_bounds_and_steps(dashboard_server, page):
    publisher, server = dashboard_server()
    publisher.bus.publish(events.SEARCH, search_data(PROGRESS))
    page.goto(server.url)
    page.wait_for_selector("#search:not([hidden])")
    assert page.inner_text("#search-summary") == ("Searching for the highest load at ≥90% SLO attainment: "
                                                  "passed 12 req/s, failed 16 req/s")
    assert "ttft_p90 ≤ 0.5" in page.inner_text("#search-goal")
    rows = page.locator("#search-body tr")
    assert rows.count() == 3 and "failed (oversaturated)" in rows.nth(1).inner_text()
    done = search_data(SearchProgress(**{**PROGRESS.__dict__, "done": True, "stop_reason": "converged"}))
    publisher.bus.publish(events.SEARCH, done)
    page.wait_for_function("document.getElementById('search-summary').textContent.startsWith('Capacity: 12 req/s')")


@pytest.fixture
def repeated_experiment(tmp_path, fast_simulator):
    """Two concurrencies run three times each, with a search outcome in the metadata (as a search writes it)."""
    config = BenchmarkConfig(api_base=fast_simulator.url, traffic_scenarios=[parse_scenario("D(20,10)")],
                             concurrencies=[1, 2], max_requests_per_run=8, experiment_base_dir=str(tmp_path),
                             experiment_folder_name="exp", seed=5, repeats=3)
    session = BenchmarkSession(config)
    session.run()
    session.close()
    metadata_path = tmp_path / "exp" / "experiment_metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata["search"] = search_data(SearchProgress(**{**PROGRESS.__dict__, "done": True, "stop_reason": "converged"}))
    metadata_path.write_text(json.dumps(metadata))
    return tmp_path / "exp"


def test_report_shows_the_capacity_first_and_one_point_per_load_with_its_interval(repeated_experiment, page):
    path = write_report(load_experiment(repeated_experiment), "html")
    page.goto(path.as_uri())
    page.wait_for_function(READY)
    banner = page.locator("#rv-search")
    assert banner.is_visible()
    assert banner.inner_text().startswith("Capacity: 12 req/s at ≥90% SLO attainment (bounds 12–16)")
    assert page.evaluate("document.querySelector('.rv').firstElementChild.id") == "rv-search"
    for chart in ("ttft", "errors", "metric"):
        assert page.evaluate(f"window.genaiReport.curvePointCounts('{chart}')") == [2]
        assert page.evaluate(f"window.genaiReport.errorBarCounts('{chart}')") == [2]
