"""SLOs end to end against the simulator: attainment and goodput exact for a server whose every 4th request is slow."""

import json

import pytest

from genai_bench.config import BenchmarkConfig
from genai_bench.scenarios import parse_scenario
from genai_bench.session import BenchmarkSession

TARGETS = {"ttft": 0.1, "e2e_latency": 60.0}


def run_session(tmp_path, server, **fields):
    config = BenchmarkConfig(api_base=server.url, traffic_scenarios=[parse_scenario("D(20,10)")], concurrencies=[1],
                             max_requests_per_run=8, max_time_per_run=1.0, experiment_base_dir=str(tmp_path),
                             experiment_folder_name="exp", seed=3, slo=TARGETS, **fields)
    session = BenchmarkSession(config)
    try:
        outcome = session.run(handle_signals=False)
    finally:
        session.close()
    return session, outcome.results[0]


def test_every_fourth_request_slow_gives_three_quarters_attainment_and_goodput_exactly(tmp_path, start_simulator):
    # One user, so requests reach the server in order: the 4th and 8th get 250 ms more before their first token.
    server = start_simulator(ttft_ms=2.0, itl_ms=0.5, slow_every=4, slow_ms=250.0, seed=1)
    session, result = run_session(tmp_path, server)
    statistics = result.statistics
    assert [m.ttft > 0.25 for m in result.requests] == [False, False, False, True] * 2
    assert statistics.num_requests == 8 and statistics.num_error_requests == 0
    duration = statistics.run_duration
    assert statistics.slo == {
        "targets": TARGETS, "attainment": 0.75, "per_metric": {"ttft": 0.75, "e2e_latency": 1.0},
        "goodput_requests_per_second": 6 / duration, "goodput_output_tokens_per_second": 6 * 10 / duration}
    # The targets travel with the status (publisher context) and the metadata; run files and events carry `slo`.
    assert session.publisher.context["slo"] == TARGETS
    folder = tmp_path / "exp"
    assert json.loads((folder / "experiment_metadata.json").read_text())["slo"] == TARGETS
    events = [json.loads(line) for line in (folder / "events.ndjson").read_text().splitlines()]
    completed = [e["data"] for e in events if e["event_type"] == "run_completed"]
    assert completed[0]["slo"]["attainment"] == 0.75
    assert all(e["data"]["slo"] == TARGETS for e in events if e["event_type"] == "status")
    points = [e["data"]["point"] for e in events if e["event_type"] == "metrics"]
    assert points and all(p["slo_attainment"] is None or 0 <= p["slo_attainment"] <= 1 for p in points)


def test_errors_never_meet_an_slo(tmp_path, start_simulator):
    server = start_simulator(ttft_ms=2.0, itl_ms=0.5, error_rate=0.5, seed=7)
    _, result = run_session(tmp_path, server)
    statistics = result.statistics
    assert 0 < statistics.num_error_requests < statistics.num_requests  # the seed gives some of each
    share = statistics.num_completed_requests / statistics.num_requests
    assert statistics.slo["attainment"] == pytest.approx(share)
    assert statistics.slo["per_metric"] == pytest.approx({"ttft": share, "e2e_latency": share})
    assert statistics.slo["goodput_requests_per_second"] == pytest.approx(statistics.requests_per_second)
