"""The live dashboard page (spec §7.6) against a real `genai-bench benchmark --enable-streaming` run on the
embedded simulator, driven by headless Chromium."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.slow

XSS_MODEL = "<script>alert(1)</script>"
KPI_IDS = ("kpi-ttft-p50", "kpi-ttft-p99", "kpi-tpot-p50", "kpi-tpot-p99", "kpi-e2e-p50", "kpi-e2e-p99",
           "kpi-output-tps", "kpi-rps", "kpi-error-rate")
# About 0.35 s per request on the embedded simulator (40 ms TTFT + 39 tokens x 8 ms).
SCENARIO = ("--traffic-scenario", "D(100,40)")
LONG_RUN = (*SCENARIO, "--num-concurrency", "1", "--max-requests-per-run", "150", "--max-time-per-run", "1")


def kpi_texts(page) -> dict[str, str]:
    """The value shown in each KPI tile."""
    return page.evaluate("ids => Object.fromEntries(ids.map(id => "
                         "[id, document.querySelector('#' + id + ' .kpi-value').textContent]))", list(KPI_IDS))


def series_length(page) -> int:
    """Points in the latency time-series chart."""
    return page.evaluate("window.genaiDashboard.seriesLength()")


def wait_series(page, at_least: int, timeout: float = 20.0) -> None:
    """Wait until the latency chart holds `at_least` points."""
    page.wait_for_function("n => window.genaiDashboard && window.genaiDashboard.seriesLength() >= n",
                           arg=at_least, timeout=timeout * 1000)


def test_kpis_and_time_series_change_during_a_run(start_benchmark, page):
    bench = start_benchmark(*LONG_RUN)
    page.goto(bench.url)
    wait_series(page, 3)
    page.wait_for_function("document.querySelector('#kpi-rps .kpi-value').textContent !== '—'")
    first_tiles, first_length = kpi_texts(page), series_length(page)
    for key in ("kpi-ttft-p50", "kpi-e2e-p50", "kpi-output-tps", "kpi-rps", "kpi-error-rate"):
        assert any(ch.isdigit() for ch in first_tiles[key]), (key, first_tiles)

    page.wait_for_function("([ids, before]) => ids.some(id => "
                           "document.querySelector('#' + id + ' .kpi-value').textContent !== before[id])",
                           arg=[list(KPI_IDS), first_tiles], timeout=15_000)
    wait_series(page, first_length + 4)
    second_tiles, second_length = kpi_texts(page), series_length(page)

    assert second_tiles != first_tiles
    assert second_length > first_length
    datasets = page.evaluate("window.genaiDashboard.charts.throughput.data.datasets.map(d => d.data.length)")
    assert min(datasets) >= second_length - 1 > 0  # every chart gets the same points
    assert page.locator("#connection").get_attribute("data-state") == "live"
    assert page.locator("#status-badge").inner_text().lower() == "running"
    # No reasoning in this run: its tiles and series stay out of sight.
    assert page.locator("#kpi-ttft-answer-p50").is_hidden() and page.locator("#kpi-reasoning-tokens").is_hidden()


def test_reload_mid_run_keeps_earlier_points(start_benchmark, page):
    bench = start_benchmark(*LONG_RUN)
    page.goto(bench.url)
    wait_series(page, 10)
    before_length = series_length(page)
    before_first_t = page.evaluate("window.genaiDashboard.charts.latency.data.datasets[0].data[0].t")

    page.reload()
    page.wait_for_function("window.genaiDashboard && window.genaiDashboard.model.lastEventId > 0 "
                           "&& window.genaiDashboard.seriesLength() > 0")
    after_length = series_length(page)
    after_first_t = page.evaluate("window.genaiDashboard.charts.latency.data.datasets[0].data[0].t")

    assert after_length >= before_length
    assert after_first_t == before_first_t  # the history came back from the server, not just new points
    wait_series(page, after_length + 2)  # and live updates resume after the reload
    ts = page.evaluate("window.genaiDashboard.charts.latency.data.datasets[0].data.map(p => p.t)")
    assert ts == sorted(ts) and len(ts) == len(set(ts))  # no point twice (state + replayed events)


def test_model_name_with_markup_is_shown_as_text(start_benchmark, page):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    bench = start_benchmark("--model", XSS_MODEL, *SCENARIO, "--num-concurrency", "1", "--max-requests-per-run", "40")
    page.goto(bench.url)
    page.wait_for_function("t => document.getElementById('model-name').textContent === t", arg=XSS_MODEL)
    wait_series(page, 3)

    assert page.locator("#model-name").inner_text() == XSS_MODEL
    assert page.evaluate("document.getElementById('model-name').children.length") == 0
    inline_scripts = page.evaluate("[...document.scripts].filter(s => !s.src).map(s => s.textContent)")
    assert inline_scripts == []
    # The server-rendered template escapes it too (the status event carrying the model has been published).
    html = urllib.request.urlopen(bench.url, timeout=5).read().decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert XSS_MODEL not in html
    page.wait_for_timeout(300)
    assert dialogs == []


def test_completed_state_and_one_table_row_per_run(start_benchmark, page):
    bench = start_benchmark(*SCENARIO, "--num-concurrency", "1,2,4", "--max-requests-per-run", "12")
    page.goto(bench.url)
    page.wait_for_function("document.body.dataset.finalStatus === 'completed'", timeout=40_000)
    assert bench.wait_exit(30) == 0

    assert page.locator("#banner").is_visible()
    assert "finished" in page.locator("#banner").inner_text().lower()
    assert page.locator("#status-badge").inner_text().lower() == "completed"
    assert "is-final" in page.locator("#results").get_attribute("class")
    rows = page.locator("#runs-body tr")
    assert rows.count() == 3
    concurrencies = page.evaluate("[...document.querySelectorAll('#runs-body tr')].map(r => r.cells[1].textContent)")
    assert concurrencies == ["1", "2", "4"]
    requests = page.evaluate("[...document.querySelectorAll('#runs-body tr')].map(r => r.cells[2].textContent)")
    assert requests == ["12", "12", "12"]
    scatter_points = page.evaluate("window.genaiDashboard.charts.scatter.data.datasets.map(d => d.data.length)")
    assert scatter_points == [3]
    # Frozen: the charts no longer move.
    frozen = series_length(page)
    page.wait_for_timeout(500)
    assert series_length(page) == frozen > 0

    # Phone width: no sideways page scroll; the table scrolls inside its box instead.
    page.set_viewport_size({"width": 375, "height": 800})
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.evaluate("(() => { const b = document.querySelector('.table-scroll'); "
                         "return b.scrollWidth > b.clientWidth; })()")
    tiles = page.evaluate("[...document.querySelectorAll('.kpi')].map(k => k.getBoundingClientRect().right)")
    assert max(tiles) <= 375


def test_page_keeps_its_content_when_the_server_dies(start_benchmark, page):
    bench = start_benchmark(*LONG_RUN)
    folder = bench.wait_for(r"Experiment folder: (\S+)", 10).group(1)
    page.goto(bench.url)
    wait_series(page, 6)
    page.wait_for_function("document.querySelector('#kpi-ttft-p50 .kpi-value').textContent !== '—'")
    tiles, length = kpi_texts(page), series_length(page)

    bench.kill()
    page.wait_for_function("window.genaiDashboard.connection() === 'closed'", timeout=20_000)

    assert page.locator("#connection").get_attribute("data-state") == "closed"
    assert page.locator("#connection-text").inner_text() == "closed"
    note = page.locator("#closed-note")
    assert note.is_visible()
    assert "The dashboard server has stopped." in note.inner_text()
    assert f"genai-bench serve --experiment-folder {folder}" in note.inner_text()
    assert series_length(page) >= length
    assert kpi_texts(page) == tiles  # nothing was wiped
    assert page.locator("#model-name").inner_text() != ""


def test_token_is_passed_on_every_request(start_benchmark, page):
    bench = start_benchmark(*LONG_RUN, "--streaming-token", "s3cret-t0ken")
    try:
        urllib.request.urlopen(bench.url + "api/state", timeout=5)
        raise AssertionError("api/state answered without the token")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401
    page.goto(bench.url + "?token=s3cret-t0ken")
    wait_series(page, 3)
    page.wait_for_function("window.genaiDashboard.connection() === 'live'")
    assert page.evaluate("typeof window.Chart") == "function"  # the vendored chart library loaded too


def test_open_loop_run_is_shown_by_its_rate_while_it_runs(start_benchmark, page):
    bench = start_benchmark(*SCENARIO, "--request-rate", "3", "--max-concurrency", "4", "--max-requests-per-run", "60",
                            "--max-time-per-run", "1")
    page.goto(bench.url)
    wait_series(page, 2)
    assert page.locator("#status-badge").inner_text().lower() == "running"
    assert page.text_content("#current-concurrency") == "r=3/s (≤4 in flight)"
    page.wait_for_function("document.getElementById('hist-ttft-context').textContent.includes('r=3/s')")


def test_a_reasoning_model_shows_its_answer_ttft_and_reasoning_tokens(cli, start_benchmark, page):
    simulator = cli("simulate", "--port", "0", "--reasoning-tokens", "6", "--ttft-ms", "20", "--itl-ms", "5")
    url = simulator.wait_for(r"at (http://127\.0\.0\.1:\d+)/v1").group(1)
    bench = start_benchmark("--api-base", url, "--traffic-scenario", "D(50,20)", "--num-concurrency", "1",
                            "--max-requests-per-run", "60", "--max-time-per-run", "1")
    page.goto(bench.url)
    page.wait_for_function("!document.getElementById('kpi-ttft-answer-p50').hidden")
    answer_ms = float(page.locator("#kpi-ttft-answer-p50 .kpi-value").inner_text())
    ttft_ms = float(page.locator("#kpi-ttft-p50 .kpi-value").inner_text())
    # Six reasoning tokens 5 ms apart come first: the answer starts about 30 ms after the first token.
    assert answer_ms - ttft_ms >= 25
    assert page.locator("#kpi-reasoning-tokens .kpi-value").inner_text() == "6"
    legend = page.evaluate("window.genaiDashboard.charts.latency.legend.legendItems.map(i => i.text)")
    assert "Answer TTFT p50" in legend


def test_multi_turn_runs_show_latency_by_turn(start_benchmark, page):
    bench = start_benchmark(*SCENARIO, "--turns", "3", "--num-concurrency", "2", "--max-requests-per-run", "60",
                            "--max-time-per-run", "1")
    page.goto(bench.url)
    page.wait_for_function("document.querySelectorAll('#turns-body tr').length === 3")
    assert page.locator("#turns").is_visible()
    turns = page.locator("#turns-body tr td:first-child").all_inner_texts()
    assert turns == ["1", "2", "3"]
    first_ttft = page.locator("#turns-body tr:first-child td:nth-child(3)").inner_text()
    assert any(ch.isdigit() for ch in first_ttft)
    assert page.locator("#current-workload").inner_text() == "3 turns"


def test_slos_show_a_goodput_tile_dashed_target_lines_and_attainment_over_time(start_benchmark, page):
    bench = start_benchmark(*SCENARIO, "--num-concurrency", "1", "--max-requests-per-run", "60", "--max-time-per-run",
                            "1", "--slo", "ttft=1s,tpot=50ms", "--slo", "e2e=5s")
    page.goto(bench.url)
    page.wait_for_function("!document.getElementById('kpi-goodput').hidden")
    page.wait_for_function("document.querySelector('#kpi-slo-attainment .kpi-value').textContent !== '—'")
    # The embedded simulator answers in about 0.35 s: every request meets these SLOs.
    assert page.locator("#kpi-slo-attainment .kpi-value").inner_text() == "100.0"
    assert any(ch.isdigit() for ch in page.locator("#kpi-goodput .kpi-value").inner_text())
    lines = page.evaluate("window.genaiDashboard.charts.latency.$sloLines.map(l => l.label)")
    assert lines == ["TTFT SLO 1,000 ms", "TPOT SLO 50 ms", "E2E SLO 5,000 ms"]
    # The latency axis stretches so that the highest target's line is in sight.
    assert page.evaluate("window.genaiDashboard.charts.latency.scales.y.max") >= 5000
    wait_series(page, 3)
    legend = page.evaluate("window.genaiDashboard.charts.errors.legend.legendItems.map(i => i.text)")
    assert "SLO met %" in legend


def test_an_embeddings_run_shows_no_ttft_tiles_or_panels(start_benchmark, page):
    bench = start_benchmark("--task", "text-to-embeddings", "--batch-size", "4", "--max-time-per-run", "0.25",
                            "--max-requests-per-run", "100000", "--keep-serving")
    page.goto(bench.url)
    page.wait_for_function("document.querySelector('#kpi-inputs-ps .kpi-value').textContent !== '—'")
    for hidden in ("kpi-ttft-p50", "kpi-ttft-p99", "kpi-tpot-p50", "kpi-output-tps", "panel-hist-ttft"):
        assert page.locator("#" + hidden).is_hidden(), hidden
    for shown in ("kpi-e2e-p50", "kpi-inputs-ps", "kpi-input-tps", "kpi-rps"):
        assert page.locator("#" + shown).is_visible(), shown
    assert any(ch.isdigit() for ch in page.locator("#kpi-e2e-p50 .kpi-value").inner_text())
    hidden_series = page.evaluate("window.genaiDashboard.charts.latency.data.datasets.filter(d => d.hidden)"
                                  ".map(d => d.label)")
    assert hidden_series == ["TTFT p50", "TTFT p99", "TPOT p50"]
