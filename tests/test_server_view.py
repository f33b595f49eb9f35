"""Whole benchmarks against the simulator with --server-metrics: what is scraped matches what the simulator knows."""

from __future__ import annotations

import json
import statistics

from gevent.pywsgi import WSGIServer

from genai_bench.config import BenchmarkConfig
from genai_bench.events import SERVER_METRICS
from genai_bench.scenarios import parse_scenario
from genai_bench.session import BenchmarkSession
from genai_bench.simulator import SimulatorConfig, make_simulator_app
from genai_bench.state import attach_state


def benchmark(tmp_path, api_base: str, **fields) -> tuple[BenchmarkSession, list[tuple[str, str]], dict]:
    """Run a one-run benchmark; its session, log lines (level, message) and run file."""
    settings = dict(api_base=api_base, traffic_scenarios=[parse_scenario("D(20,60)")], concurrencies=[4],
                    max_requests_per_run=24, experiment_base_dir=str(tmp_path), experiment_folder_name="exp",
                    server_metrics_interval=0.1, seed=1)
    session = BenchmarkSession(BenchmarkConfig(**{**settings, **fields}))
    lines: list[tuple[str, str]] = []
    session.hooks.log.add_listener(lambda message, level: lines.append((level, message)))
    session.state = attach_state(session.bus)
    try:
        session.run(handle_signals=False)
    finally:
        session.close()
    run_file = next(p for p in session.folder.glob("D*.json"))
    return session, lines, json.loads(run_file.read_text())


def test_closed_loop_running_is_the_concurrency_and_the_token_counter_matches_the_client(tmp_path, start_simulator):
    server = start_simulator(ttft_ms=5.0, itl_ms=5.0, seed=1)
    session, lines, run = benchmark(tmp_path, server.url)
    aggregated, series = run["aggregated_metrics"], run["server_metrics"]
    middle = series["running"][2:-2]  # steady state: past the baseline scrape and before the last requests end
    assert statistics.median(middle) == 4.0
    assert max(series["waiting"]) == 0.0
    summary = aggregated["server"]
    assert summary["generated_tokens"] == summary["client_output_tokens"] == aggregated["stats"]["num_output_tokens"]["sum"] == 24 * 60
    assert aggregated["server_token_mismatch"] is False
    assert 0 < summary["kv_cache_usage_max"] <= 100 * 4 * 80 / 65536 + 1e-9
    assert summary["generation_tokens_per_second_mean"] > 0
    assert not [m for _, m in lines if "metrics" in m.lower()]
    state = session.state.document()  # /api/state: the latest scrape and their history, keyed by run
    assert {point["run_key"] for point in state["server_timeseries"]} - {None} == {session.writer.run_files[0].stem}
    assert state["server"]["values"]["running"] is not None and state["server"]["sources"][0]["engine"] == "vllm"


def test_users_beyond_max_concurrency_wait_on_the_server(tmp_path, start_simulator):
    server = start_simulator(ttft_ms=5.0, itl_ms=5.0, max_concurrency=2, seed=1)
    _, _, run = benchmark(tmp_path, server.url, concurrencies=[5], max_requests_per_run=20)
    summary = run["aggregated_metrics"]["server"]
    assert summary["running_max"] == 2.0
    assert summary["waiting_max"] >= 2.0
    assert statistics.median(run["server_metrics"]["waiting"][2:-2]) == 3.0


def test_a_server_that_miscounts_is_flagged_in_the_run_and_the_log(tmp_path, start_simulator):
    server = start_simulator(ttft_ms=2.0, itl_ms=1.0, usage_scale=1.25, seed=1)
    _, lines, run = benchmark(tmp_path, server.url, max_requests_per_run=8)
    assert run["aggregated_metrics"]["server_token_mismatch"] is True
    assert run["aggregated_metrics"]["server"]["token_difference"] == -0.2
    warnings = [m for level, m in lines if level == "warning" and "the server generated" in m]
    assert len(warnings) == 1 and "another client sharing the server" in warnings[0]


class MetricsCounter:
    """A simulator that serves no /metrics (404), counting how often one was asked for."""

    def __init__(self) -> None:
        self.app = make_simulator_app(SimulatorConfig(ttft_ms=2.0, itl_ms=1.0, seed=1))
        self.asked = 0

    def __call__(self, environ, start_response):
        if environ["PATH_INFO"] == "/metrics":
            self.asked += 1
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        return self.app(environ, start_response)


def serve(app) -> tuple[WSGIServer, str]:
    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    return server, f"http://127.0.0.1:{server.server_port}"


def test_a_server_without_metrics_runs_cleanly_with_exactly_one_log_line(tmp_path):
    app = MetricsCounter()
    server, url = serve(app)
    try:
        session, lines, run = benchmark(tmp_path, url, max_requests_per_run=6)
    finally:
        server.stop()
    assert [m for _, m in lines if "metrics" in m.lower()] == [
        f"No server metrics: {url}/metrics gave none (HTTP 404); the server panel stays empty "
        "(--server-metrics URL names another endpoint, off silences this)"]
    assert app.asked == 1
    assert "server_metrics" not in run and run["aggregated_metrics"]["server"] is None
    assert session.state.document()["server"] is None
    assert not [e for e in session.bus.history if e.event_type == SERVER_METRICS]


def test_server_metrics_off_scrapes_nothing(tmp_path):
    app = MetricsCounter()
    server, url = serve(app)
    try:
        _, lines, run = benchmark(tmp_path, url, max_requests_per_run=6, server_metrics=("off",))
    finally:
        server.stop()
    assert app.asked == 0
    assert not [m for _, m in lines if "metrics" in m.lower()]
    assert "server_metrics" not in run
