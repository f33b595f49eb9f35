"""The interactive results view (spec §7.6 "when the benchmark completes", docs/results-api.md): `genai-bench serve`
on real experiment folders written by `genai-bench benchmark` on the embedded simulator, the self-contained HTML
report opened from disk with the network cut, a partial experiment, replay, and the switch at the end of a live run.
Driven by headless Chromium."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from genai_bench.report import write_report
from genai_bench.results import load_experiment
from tests.support.processes import ChildProcess, genai_bench_command, serve_experiments
from tests.support.servers import run_benchmark

pytestmark = pytest.mark.slow

XSS_MODEL = "<img src=x onerror=alert(1)>"
# About 0.35 s per request on the embedded simulator (40 ms TTFT + 39 tokens x 8 ms).
COMMON = ("--traffic-scenario", "D(100,40)", "--max-requests-per-run", "8", "--max-time-per-run", "0.5")
SLOW_DOWN = 30
READY = "document.getElementById('results-root').dataset.ready === 'true'"


def benchmark_command(base: Path, name: str, *args: str) -> list[str]:
    return genai_bench_command("benchmark", "--experiment-base-dir", str(base), "--experiment-folder-name", name,
                               *COMMON, *args)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """Three experiment folders: A (concurrency 1,2,4), B (1,2, another model) and a partial copy of A."""
    base = tmp_path_factory.mktemp("experiments")
    commands = {
        "a": benchmark_command(base, "exp-a", "--num-concurrency", "1,2,4", "--server-version", "v1"),
        "b": benchmark_command(base, "exp-b", "--num-concurrency", "1,2", "--server-version", "v2",
                               "--model", XSS_MODEL),
    }
    children = {key: ChildProcess(command, cwd=base) for key, command in commands.items()}  # both at once
    try:
        for key, child in children.items():
            assert child.wait_exit(timeout=60) == 0, f"benchmark {key} failed:\n{child.output}"
    finally:
        for child in children.values():
            child.stop()
    a, b = base / "exp-a", base / "exp-b"
    partial = base / "exp-partial"
    shutil.copytree(a, partial)
    events = partial / "events.ndjson"
    text = events.read_bytes()
    events.write_bytes(text[: len(text) - 120])  # cut the last line in the middle
    run_file(partial, 4).unlink()
    # A's event log with its clock slowed down 30 times: a 100x replay then lasts long enough (~1.5 s) to watch,
    # as it would for a real sweep of a few minutes.
    slow = base / "exp-slow"
    shutil.copytree(a, slow)
    envelopes = [json.loads(line) for line in (a / "events.ndjson").read_text().splitlines()]
    origin = envelopes[0]["timestamp"]
    for envelope in envelopes:
        envelope["timestamp"] = origin + (envelope["timestamp"] - origin) * SLOW_DOWN
    (slow / "events.ndjson").write_text("".join(json.dumps(e) + "\n" for e in envelopes))
    return {"a": a, "b": b, "partial": partial, "slow": slow, "slow_log_seconds": envelopes[-1]["timestamp"] - origin}


def run_file(folder: Path, concurrency: int) -> Path:
    """The run file of one concurrency (single-scenario experiments)."""
    (path,) = folder.glob(f"*_num_concurrency_{concurrency}_time_*.json")
    return path


def run_document(folder: Path, concurrency: int) -> dict:
    return json.loads(run_file(folder, concurrency).read_text())


def fmt_ms(seconds: float) -> str:
    """The page's latency format: ms with 2 decimals under 10, 1 under 100, none above; thousands separated."""
    v = seconds * 1000
    digits = 2 if abs(v) < 10 else 1 if abs(v) < 100 else 0
    return f"{v:,.{digits}f}"


@pytest.fixture(scope="module")
def served(folders):
    server = serve_experiments([folders["a"], folders["b"], folders["partial"], folders["slow"]])
    yield server
    server.stop()


def open_results(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function(READY, timeout=15_000)


def select(page, *ids: str) -> None:
    """Tick exactly these experiments in the picker and wait for the view to redraw."""
    page.evaluate("""ids => {
        const inputs = [...document.querySelectorAll('#rv-picker-list input[type=checkbox]')];
        for (const input of inputs) {
            const want = ids.includes(input.dataset.id);
            if (input.checked !== want) input.click();
        }
    }""", list(ids))
    page.wait_for_function("ids => { const c = window.GenaiResults.current; return c.state.selected.slice().sort().join('|') === ids.slice().sort().join('|')"
                           " && ids.every(id => c.state.data[id]) && document.querySelectorAll('.rv-card').length === ids.length; }",
                           arg=list(ids), timeout=10_000)
    page.wait_for_timeout(100)


def column(page, key: str) -> list[str]:
    return page.evaluate("k => [...document.querySelectorAll('#rv-rows td[data-col=\"' + k + '\"]')].map(td => td.textContent)", key)


def column_values(page, key: str) -> list[float | None]:
    return page.evaluate("k => [...document.querySelectorAll('#rv-rows td[data-col=\"' + k + '\"]')]"
                         ".map(td => td.dataset.value === undefined ? null : Number(td.dataset.value))", key)


def point_counts(page, chart: str) -> list[int]:
    return page.evaluate("name => window.GenaiResults.current.curvePointCounts(name)", chart)


def test_completed_view_curves_and_table_match_the_run_files(served, folders, page):
    open_results(page, served.url)
    assert page.locator("#results-view").is_visible()
    assert page.locator("#live-view").is_hidden()
    select(page, "exp-a")

    for chart in ("ttft", "tpot", "e2e", "errors", "metric"):
        assert point_counts(page, chart) == [3], chart
    assert column(page, "concurrency") == ["1", "2", "4"]
    assert column(page, "requests") == ["8", "8", "8"]
    expected = [run_document(folders["a"], c)["aggregated_metrics"] for c in (1, 2, 4)]
    assert column_values(page, "ttft_p50") == [m["stats"]["ttft"]["p50"] for m in expected]
    assert column_values(page, "output_tps") == [m["mean_output_throughput_tokens_per_s"] for m in expected]
    assert column(page, "e2e_p99")[1] == fmt_ms(expected[1]["stats"]["e2e_latency"]["p99"])
    # The curve points carry the same numbers: x output tok/s, y TTFT p50 in ms.
    points = page.evaluate("window.GenaiResults.current.charts.ttft.data.datasets[0].data.map(p => [p.concurrency, p.x, p.y])")
    assert [p[0] for p in points] == [1, 2, 4]
    assert points[2][1] == pytest.approx(expected[2]["mean_output_throughput_tokens_per_s"])
    assert points[2][2] == pytest.approx(expected[2]["stats"]["ttft"]["p50"] * 1000)

    # The percentile selector switches the curves to p99.
    page.select_option("#rv-percentile", "p99")
    p99 = page.evaluate("window.GenaiResults.current.charts.ttft.data.datasets[0].data.map(p => p.y)")
    assert p99 == pytest.approx([m["stats"]["ttft"]["p99"] * 1000 for m in expected])
    assert "p99" in page.locator("#rv-fig-ttft figcaption").inner_text()

    # Tooltips give the exact values.
    label = page.evaluate("""(() => {
        const chart = window.GenaiResults.current.charts.ttft;
        const item = {raw: chart.data.datasets[0].data[1], chart};
        return [chart.options.plugins.tooltip.callbacks.title([item]), chart.options.plugins.tooltip.callbacks.label(item)];
    })()""")
    assert label[0] == "exp-a / D(100,40)"
    assert label[1][0] == "concurrency 2" and label[1][1].startswith("TTFT p99: ") and label[1][1].endswith(" ms")

    # Served: download links point at the API.
    hrefs = page.evaluate("[...document.querySelectorAll('.rv-download')].map(a => a.getAttribute('href'))")
    assert hrefs == [f"api/experiments/exp-a/report.{f}" for f in ("html", "csv", "json")]

    # Phone width: no sideways page scroll, the table scrolls in its box, the charts stack.
    page.set_viewport_size({"width": 375, "height": 800})
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.evaluate("(() => { const b = document.querySelector('.rv .table-scroll'); return b.scrollWidth > b.clientWidth; })()")
    lefts = page.evaluate("[...document.querySelectorAll('.rv-chart:not([hidden])')].map(f => Math.round(f.getBoundingClientRect().left))")
    assert len(set(lefts)) == 1


def test_two_experiments_are_overlaid(served, folders, page):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_results(page, served.url)
    select(page, "exp-a", "exp-b")

    labels = page.evaluate("window.GenaiResults.current.charts.ttft.data.datasets.map(d => d.label)")
    assert sorted(labels) == ["a / D(100,40)", "b / D(100,40)"]  # one curve each; shared prefix "exp-" dropped
    counts = dict(zip(labels, point_counts(page, "ttft")))
    assert counts == {"a / D(100,40)": 3, "b / D(100,40)": 2}
    assert sorted(point_counts(page, "errors")) == [2, 3]
    colors = page.evaluate("window.GenaiResults.current.charts.ttft.data.datasets.map(d => d.borderColor)")
    assert colors[0] != colors[1]
    assert len(column(page, "concurrency")) == 5
    # The markup in B's model name is shown as text, never parsed.
    assert XSS_MODEL in page.locator("#rv-cards").inner_text()
    assert page.evaluate("document.querySelectorAll('#results-root img').length") == 0
    page.wait_for_timeout(200)
    assert dialogs == []


def test_sorting_by_a_column_reorders_rows(served, page):
    open_results(page, served.url)
    select(page, "exp-a", "exp-b")
    page.click("th[data-col=concurrency] button")
    assert column(page, "concurrency") == ["1", "1", "2", "2", "4"]
    assert page.get_attribute("th[data-col=concurrency]", "aria-sort") == "ascending"
    page.click("th[data-col=concurrency] button")
    assert column(page, "concurrency") == ["4", "2", "2", "1", "1"]
    assert page.get_attribute("th[data-col=concurrency]", "aria-sort") == "descending"

    page.click("th[data-col=ttft_p99] button")
    values = column_values(page, "ttft_p99")
    assert values == sorted(values) and len(values) == 5
    page.click("th[data-col=ttft_p99] button")
    assert column_values(page, "ttft_p99") == sorted(values, reverse=True)


def test_drill_down_shows_histograms_and_every_request(served, folders, page):
    open_results(page, served.url)
    select(page, "exp-a")
    page.click("#rv-rows tr[data-key$='_num_concurrency_4_time_30s']")
    page.wait_for_selector("#rv-drill[data-loaded=true]", timeout=10_000)

    requests = run_document(folders["a"], 4)["individual_request_metrics"]
    assert page.evaluate("window.GenaiResults.current.scatterPointCount()") == len(requests) == 8
    xs = page.evaluate("window.GenaiResults.current.charts.drillScatter.data.datasets[0].data.map(p => p.x)")
    starts = sorted(r["start_time"] for r in requests)
    assert sorted(xs) == pytest.approx([s - starts[0] for s in starts], abs=1e-6)
    for name in ("ttft", "tpot", "e2e"):
        counts = page.evaluate("n => window.GenaiResults.current.charts.drillHist[n].data.datasets[0].data", name)
        assert sum(counts) == len(requests) and len(counts) > 1, name
    assert "concurrency 4" in page.locator("#rv-drill-title").inner_text()
    assert page.locator("#rv-drill").is_visible()
    page.click("#rv-drill-close")
    assert page.locator("#rv-drill").is_hidden()


def test_report_opens_from_disk_without_network(folders, tmp_path, browser, run_cli):
    report = tmp_path / "report.html"
    done = run_cli("report", "--experiment-folder", str(folders["a"]), "--format", "html", "--output", str(report))
    assert done.returncode == 0, done.stderr
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    context.route("**/*", lambda route: (outside.append(route.request.url), route.abort())
                  if not route.request.url.startswith("file:") else route.continue_())
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(report.as_uri())
        page.wait_for_function(READY, timeout=15_000)

        assert point_counts(page, "ttft") == [3]
        assert point_counts(page, "e2e") == [3]
        expected = [run_document(folders["a"], c)["aggregated_metrics"] for c in (1, 2, 4)]
        assert column(page, "concurrency") == ["1", "2", "4"]
        assert column_values(page, "ttft_p99") == [m["stats"]["ttft"]["p99"] for m in expected]
        assert column(page, "ttft_p50")[0] == fmt_ms(expected[0]["stats"]["ttft"]["p50"])
        assert page.locator(".rv-download").count() == 0 and page.locator(".rv-replay-button").count() == 0
        # The drill-down works from the embedded per-request data.
        page.click("#rv-rows tr:nth-child(2)")
        page.wait_for_selector("#rv-drill[data-loaded=true]", timeout=10_000)
        assert page.evaluate("window.GenaiResults.current.scatterPointCount()") == 8
        assert outside == []
        assert page.evaluate("[...document.querySelectorAll('script[src], link[rel=stylesheet]')].length") == 0
        assert errors == []
    finally:
        context.close()


def test_partial_experiment_loads_marked_partial(served, folders, page):
    open_results(page, served.url)
    select(page, "exp-partial")

    marker = page.locator(".rv-card .rv-partial-marker")
    assert marker.is_visible() and marker.inner_text().lower() == "partial"
    reasons = page.locator(".rv-card .rv-reasons").inner_text()
    assert "missing" in reasons and "events.ndjson" in reasons
    assert page.locator(".rv-pick:has(input[data-id='exp-partial']) .rv-badge-partial").is_visible()
    assert column(page, "concurrency") == ["1", "2"]  # what it measured
    assert point_counts(page, "ttft") == [2]


def test_replay_animates_the_live_view(served, folders, page):
    open_results(page, served.url)
    # A first (fast) replay fills the live view...
    select(page, "exp-a")
    page.select_option(".rv-card .rv-speed", "100")
    page.click(".rv-card .rv-replay-button")
    page.wait_for_function("document.body.classList.contains('view-live') && document.body.dataset.finalStatus === 'completed'",
                           timeout=20_000)
    before = page.evaluate("window.genaiDashboard.seriesLength()")
    assert before > 3

    # ...a second one starts it over and animates it. Record the live chart's length as the events arrive.
    page.click("#tab-results")
    select(page, "exp-slow")
    page.select_option(".rv-card .rv-speed", "100")
    page.evaluate("""window.__lengths = [];
        window.__timer = setInterval(() => window.__lengths.push(window.genaiDashboard.seriesLength()), 5);""")
    started = time.monotonic()
    page.click(".rv-card .rv-replay-button")
    page.wait_for_function("document.body.classList.contains('view-live') && !document.body.dataset.finalStatus",
                           timeout=5_000)
    assert page.locator("#live-view").is_visible() and page.locator("#results-view").is_hidden()
    assert page.locator("#status-badge").inner_text().lower() == "replaying"
    page.wait_for_function("document.body.dataset.finalStatus === 'completed'", timeout=20_000)
    elapsed = time.monotonic() - started
    page.evaluate("clearInterval(window.__timer)")
    lengths = page.evaluate("window.__lengths")
    final = page.evaluate("window.genaiDashboard.seriesLength()")

    assert elapsed >= 0.7 * folders["slow_log_seconds"] / 100  # paced at 100x, not dumped at once
    steps = [n for i, n in enumerate(lengths) if i == 0 or n != lengths[i - 1]]
    # The replay reset the charts (a busy machine may run the first 5 ms sample after the reset).
    assert 0 in steps and set(steps[:steps.index(0)]) <= {before}, steps
    grown = steps[steps.index(0):]
    assert grown == sorted(grown) and grown[-1] == final > 3, steps
    assert len([n for n in grown if 0 < n < final]) >= 3, steps  # the chart grew while we watched
    assert page.locator("#status-badge").inner_text().lower() == "completed"
    assert page.locator("#runs-body tr").count() == 3  # the replayed runs, once each
    # The Results tab brings the results back.
    page.click("#tab-results")
    assert page.locator("#results-view").is_visible()


def test_live_benchmark_switches_to_results_when_it_completes(start_benchmark, page):
    bench = start_benchmark("--traffic-scenario", "D(100,40)", "--num-concurrency", "1,2", "--max-requests-per-run", "6")
    page.goto(bench.url)
    page.wait_for_function("document.body.classList.contains('view-results')", timeout=40_000)
    assert bench.wait_exit(30) == 0

    assert page.locator("#results-view").is_visible()
    assert point_counts(page, "ttft") == [2]
    assert column(page, "concurrency") == ["1", "2"]
    assert column(page, "requests") == ["6", "6"]
    # The server has gone: the view stays, and the Live tab still holds the frozen live charts.
    page.wait_for_function("window.genaiDashboard.connection() === 'closed'", timeout=20_000)
    assert len(column(page, "concurrency")) == 2
    page.click("#tab-live")
    assert page.locator("#live-view").is_visible() and page.locator("#results-view").is_hidden()
    assert page.evaluate("window.genaiDashboard.seriesLength()") > 0


def test_report_of_slo_runs_has_goodput_curves_beside_throughput(tmp_path, page):
    folder = run_benchmark(tmp_path, concurrencies=(1, 2), requests=4, slo={"ttft": 60.0, "e2e_latency": 60.0})
    report = write_report(load_experiment(folder), "html", tmp_path / "report.html")
    page.goto(report.as_uri())
    page.wait_for_function(READY, timeout=15_000)
    assert page.locator("#rv-fig-goodput").is_visible()
    # One goodput and one all-requests series; every request meets a minute, so goodput equals throughput.
    assert point_counts(page, "goodput") == [2, 2]
    ys = page.evaluate("window.GenaiResults.current.charts.goodput.data.datasets.map(d => d.data.map(p => p.y))")
    assert ys[0] == pytest.approx(ys[1])
    options = page.evaluate("[...document.querySelectorAll('#rv-metric option')].filter(o => !o.hidden).map(o => o.value)")
    assert {"slo_attainment", "goodput_requests_per_second", "goodput_output_tokens_per_second"} <= set(options)
    page.select_option("#rv-metric", "slo_attainment")
    assert page.evaluate("window.GenaiResults.current.charts.metric.data.datasets[0].data.map(p => p.y)") == [100, 100]


def test_without_slos_the_goodput_panel_stays_hidden(served, page):
    open_results(page, served.url)
    select(page, "exp-a")
    assert page.locator("#rv-fig-goodput").is_hidden()
    assert page.evaluate("document.querySelector('#rv-metric option[value=slo_attainment]').hidden")
