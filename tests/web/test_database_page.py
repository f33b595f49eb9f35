"""`genai-bench serve --results-db`: the results view over a SQLite results database, its filter controls and a
comparison of two experiments, in headless Chromium."""

from __future__ import annotations


import pytest

from tests.support.processes import ChildProcess, genai_bench_command
from tests.support.servers import run_benchmark

pytestmark = pytest.mark.slow
READY = "document.getElementById('results-root').dataset.ready === 'true'"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("db")
    database = base / "results.db"
    run_benchmark(base, "exp-vllm", results_db=str(database), server_engine="vllm", server_gpu_type="H100")
    run_benchmark(base, "exp-sglang", results_db=str(database), server_engine="sglang", server_gpu_type="H100",
                  concurrencies=(1, 2, 4))
    child = ChildProcess(genai_bench_command("serve", "--port", "0", "--results-db", f"sqlite:///{database}"))
    child.url = child.wait_for(r"Serving the results database sqlite:///\S+ at (http://\S+?/)", 20).group(1)
    yield child
    child.stop()


def listed(page) -> list[str]:
    return page.evaluate("[...document.querySelectorAll('#rv-picker-list .rv-pick-name')].map(n => n.textContent)")


def test_the_view_filters_and_compares_experiments_from_the_database(served, page):
    page.goto(served.url)
    page.wait_for_function(READY, timeout=15_000)
    assert page.locator("#rv-filters").is_visible()
    assert sorted(listed(page)) == ["exp-sglang", "exp-vllm"]
    engines = page.evaluate("[...document.querySelectorAll('#rv-filter-engine option')].map(o => o.value)")
    assert engines == ["", "sglang", "vllm"]

    page.select_option("#rv-filter-engine", "vllm")
    page.wait_for_function("document.querySelectorAll('#rv-picker-list .rv-pick').length === 1", timeout=10_000)
    assert listed(page) == ["exp-vllm"]
    page.wait_for_function("document.querySelectorAll('.rv-card').length === 1 && " + READY, timeout=10_000)
    assert page.evaluate("window.GenaiResults.current.curvePointCounts('ttft')") == [2]
    # The choices stay: another engine can be picked without clearing first.
    assert page.evaluate("[...document.querySelectorAll('#rv-filter-engine option')].length") == 3

    page.fill("#rv-filter-since", "2999-01-01")
    page.wait_for_function("document.querySelectorAll('#rv-picker-list .rv-pick').length === 0", timeout=10_000)
    page.click("#rv-filter-clear")
    page.wait_for_function("document.querySelectorAll('#rv-picker-list .rv-pick').length === 2", timeout=10_000)

    # Compare: tick both; their curves are overlaid (2 and 3 load points).
    page.evaluate("[...document.querySelectorAll('#rv-picker-list input[type=checkbox]')].forEach(i => i.checked || i.click())")
    page.wait_for_function("document.querySelectorAll('.rv-card').length === 2", timeout=10_000)
    page.wait_for_function("window.GenaiResults.current.curvePointCounts('ttft').length === 2", timeout=10_000)
    assert sorted(page.evaluate("window.GenaiResults.current.curvePointCounts('ttft')")) == [2, 3]
    # The drill-down reads the stored request records.
    page.locator("#rv-rows tr").first.click()
    page.wait_for_function("window.GenaiResults.current.scatterPointCount() === 6", timeout=10_000)
