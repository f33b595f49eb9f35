"""--repeats: N runs per point, each its own run key, and a Student t 95% interval per metric in the results."""

import math

import pytest

from genai_bench.config import BenchmarkConfig
from genai_bench.intervals import confidence_interval, point_intervals, t_critical
from genai_bench.results import load_experiment
from genai_bench.scenarios import parse_scenario
from genai_bench.session import BenchmarkSession
from tests.support.servers import run_benchmark


def test_interval_by_hand_for_three_values():
    # mean 2, sample stddev 1, t(0.975, 2) = 4.303: half-width 4.303 / sqrt(3) = 2.4843
    mean, low, high = confidence_interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert low == pytest.approx(2.0 - 4.303 / math.sqrt(3)) and high == pytest.approx(2.0 + 4.303 / math.sqrt(3))
    assert confidence_interval([5.0]) == (5.0, None, None)
    assert t_critical(30) == 2.042 and t_critical(60) == pytest.approx(2.000, abs=0.001)
    assert t_critical(1000) == pytest.approx(1.962, abs=0.001)


def test_repeats_give_n_runs_with_their_own_keys_and_an_interval_per_point(tmp_path, fast_simulator):
    config = BenchmarkConfig(api_base=fast_simulator.url, traffic_scenarios=[parse_scenario("D(20,10)")],
                             concurrencies=[1, 2], max_requests_per_run=8, experiment_base_dir=str(tmp_path),
                             experiment_folder_name="exp", seed=5, repeats=3)
    session = BenchmarkSession(config)
    outcome = session.run()
    session.close()
    keys = [r.run.key for r in outcome.results]
    base = "D20_10_text-to-text_num_concurrency_{}_time_12s"
    assert keys == [base.format(1), base.format(2), base.format(1) + "_repeat_2", base.format(2) + "_repeat_2",
                    base.format(1) + "_repeat_3", base.format(2) + "_repeat_3"]
    document = load_experiment(tmp_path / "exp").to_dict()
    assert not document["summary"]["partial"]
    by_concurrency = {point["concurrency"]: point for point in document["intervals"]}
    point = by_concurrency[2]
    assert point["n"] == 3 and sorted(point["run_keys"]) == sorted(keys[1::2])
    rates = [r.statistics.requests_per_second for r in outcome.results if r.run.concurrency == 2]
    mean, low, high = confidence_interval(rates)
    assert point["mean"]["requests_per_second"] == pytest.approx(mean)
    assert (point["low"]["requests_per_second"], point["high"]["requests_per_second"]) == (pytest.approx(low),
                                                                                         pytest.approx(high))
    p50s = [r.statistics.stats["ttft"]["p50"] for r in outcome.results if r.run.concurrency == 2]
    assert point["mean"]["stats"]["ttft"]["p50"] == pytest.approx(sum(p50s) / 3)
    assert point["low"]["stats"]["ttft"]["p50"] < point["high"]["stats"]["ttft"]["p50"]


def test_a_single_run_has_a_mean_and_no_interval(finished_experiment):
    point = load_experiment(finished_experiment).to_dict()["intervals"][0]
    assert point["n"] == 1 and point["mean"]["requests_per_second"] > 0
    assert point["low"] is None and point["high"] is None


def test_batch_sizes_are_separate_points_not_repeats(tmp_path):
    folder = run_benchmark(tmp_path, task="text-to-embeddings", traffic_scenarios=[parse_scenario("E(16)")],
                           concurrencies=[1], batch_sizes=[1, 4], requests=3)
    points = point_intervals(load_experiment(folder).runs)
    assert sorted((p["batch_size"], p["n"]) for p in points) == [(1, 1), (4, 1)]
