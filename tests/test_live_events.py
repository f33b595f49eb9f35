"""Each live event's data, built once: hand-computed expectations for the builders."""

import pytest

from genai_bench import live_events
from genai_bench.live_events import PlannedRun, RunProgress, SweepStatus
from genai_bench.scenarios import parse_scenario


def planned(index=2, total=4, max_requests=40, rate=None) -> PlannedRun:
    scenario = parse_scenario("D(100,50)")
    key = live_events.run_key(scenario.name, "text-to-text", 8, 60.0, rate)
    return PlannedRun(scenario.text, 8, rate, index, total, key, 60.0, max_requests, scenario)


def test_run_key_is_the_run_file_stem_and_the_label_names_the_load():
    assert planned().key == "D100_50_text-to-text_num_concurrency_8_time_60s"
    assert planned().label == "D(100,50) @ concurrency 8"
    assert planned(rate=2.5).key == "D100_50_text-to-text_num_concurrency_8_request_rate_2.5_time_60s"
    assert planned(rate=2.5).label == "D(100,50) @ 2.5 req/s (≤8 in flight)"


def test_progress_takes_the_nearer_limit_and_the_sweep_share():
    # 10 of 40 requests = 25 %, 30 of 60 s = 50 %: the time limit is nearer, so the run is 50 % done.
    # Run 2 of 4: one run done plus half of this one = 1.5 / 4 = 37.5 % of the sweep.
    data = live_events.progress(RunProgress(planned(), requests_done=10, errors=1, in_flight=3, elapsed=30.0))
    assert data["run_progress_percentage"] == 50.0
    assert data["total_progress_percentage"] == 37.5
    assert (data["run_key"], data["run_index"], data["runs_done"], data["total_runs"]) == (planned().key, 2, 1, 4)
    # 45 of 40 requests caps at 100 %.
    assert live_events.run_percentage(45, 40, 1.0, 60.0) == 100.0
    assert live_events.run_percentage(5, None, 6.0, None) == 0.0


def test_status_is_complete_and_counts_runs():
    sweep = SweepStatus("running", runs_done=1, total_runs=4, total_scenarios=1, start_time=1000.0, max_time=60.0,
                        current=planned())
    data = live_events.status(sweep, {"model": "m", "experiment_folder": "/x"})
    assert set(live_events.IDLE_STATUS) <= set(data)
    assert (data["status"], data["current_scenario"], data["current_concurrency"]) == ("running", "D(100,50)", 8)
    assert (data["current_iteration"], data["total_iterations"], data["progress_percentage"]) == (2, 4, 25.0)
    assert data["model"] == "m" and data["experiment_folder"] == "/x"
    # Three runs left at 60 s each: about 180 s from now.
    assert data["estimated_end_time"] - data["start_time"] > 170
    done = live_events.status(SweepStatus("completed", 4, 4, 1, 1000.0, 60.0), {})
    assert (done["current_iteration"], done["progress_percentage"], done["current_scenario"]) == (4, 100.0, None)


def test_metrics_carry_their_chart_point():
    live = {"scenario": "D(100,50)", "concurrency": 8, "request_rate": None, "elapsed": 2.0, "errors": 1,
            "error_rate": 0.1, "requests_per_second": 4.5, "output_tokens_per_second": 225.0,
            "stats": {"ttft": {"p50": 0.05, "p99": 0.09}, "tpot": {"p50": 0.01}, "e2e_latency": None}}
    data = live_events.metrics(live, "key-1", 1234.5)
    assert data["live_metrics"] is live and data["run_key"] == "key-1"
    assert data["point"] == {
        "t": 1234.5, "elapsed": 2.0, "run_key": "key-1", "scenario": "D(100,50)", "concurrency": 8,
        "request_rate": None, "ttft_p50": 0.05, "ttft_p99": 0.09, "tpot_p50": 0.01, "e2e_latency_p50": None,
        "e2e_latency_p99": None, "ttft_answer_p50": None, "requests_per_second": 4.5, "output_tokens_per_second": 225.0, "errors": 1,
        "error_rate": 0.1, "slo_attainment": None,
    }
    with_slo = {**live, "slo": {"attainment": 0.75, "goodput_requests_per_second": 3.0}}
    assert live_events.metrics(with_slo, "key-1", 1234.5)["point"]["slo_attainment"] == 0.75


def test_finished_runs_become_keyed_scatter_points():
    aggregated = {"scenario": "D(100,50)", "num_concurrency": 8, "request_rate": None,
                  "mean_output_throughput_tokens_per_s": 300.0,
                  "requests_per_second": 6.0, "error_rate": 0.0,
                  "stats": {"ttft": {"p50": 0.04, "p99": 0.08}, "e2e_latency": {"p50": 0.6}}}
    completed = live_events.run_completed(planned(), aggregated)
    assert (completed["run_key"], completed["run_index"], completed["total_runs"]) == (planned().key, 2, 4)
    assert live_events.scatter([completed]) == {"points": [{
        "run_key": planned().key, "scenario": "D(100,50)", "concurrency": 8, "request_rate": None,
        "output_tokens_per_second": 300.0, "requests_per_second": 6.0, "ttft_p50": 0.04, "ttft_p99": 0.08,
        "e2e_latency_p50": 0.6, "error_rate": 0.0}]}


@pytest.mark.parametrize("speed", [1.0, 10.0])
def test_a_replay_starts_from_a_complete_empty_status(speed):
    data = live_events.replay_status({"id": "exp", "folder": "/e/exp", "model": "m"}, speed)
    assert data == {**live_events.IDLE_STATUS, "status": "replaying", "experiment": "exp",
                    "experiment_folder": "/e/exp", "model": "m", "replay_speed": speed}
