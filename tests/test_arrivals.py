"""Arrival shapes of open-loop runs: gamma-distributed gaps (--burstiness), a linear ramp (--ramp-up-seconds), workers'
shares of one schedule, and the options' one-line errors."""

import math

import numpy as np
import pytest

from genai_bench.arrivals import ArrivalSchedule, ArrivalShape
from genai_bench.config import ConfigError
from genai_bench.options import parse_benchmark_args


def send_times(schedule: ArrivalSchedule, count: int) -> np.ndarray:
    return np.array([schedule.next_send_time() for _ in range(count)])


@pytest.mark.parametrize("shape_k", [0.25, 1.0, 4.0])
def test_burstiness_gives_gamma_gaps_with_the_asked_mean_and_coefficient_of_variation(shape_k):
    # 200,000 gaps at 10/s. The mean's standard error is CV/(rate·sqrt(n)): at most 0.45% of 1/rate (K = 0.25, CV 2);
    # the sample standard deviation's is about sqrt((kurtosis − 1)/(4n)) of it, with kurtosis 3 + 6/K: at most 0.6%.
    # 2% and 3% are over four standard errors, and the generator is seeded, so the test is not flaky.
    rate, n = 10.0, 200_000
    schedule = ArrivalSchedule(rate, ArrivalShape(burstiness=shape_k), np.random.default_rng(1), first_time=0.0)
    gaps = np.diff(send_times(schedule, n + 1))
    assert gaps.mean() == pytest.approx(1 / rate, rel=0.02)
    assert gaps.std() / gaps.mean() == pytest.approx(1 / math.sqrt(shape_k), rel=0.03)


def test_a_linear_ramp_inverts_the_integrated_rate():
    # 4/s reached after 2 s, evenly spaced: Λ(t) = 4t²/4 = t² until 2 s (4 requests), so request k is due at
    # sqrt(k) seconds: 0, 1, 1.414, 1.732; then 2 + (k − 4)/4: 2, 2.25, 2.5.
    schedule = ArrivalSchedule(4.0, ArrivalShape("constant", ramp_up_seconds=2.0), np.random.default_rng(0), 10.0)
    expected = [0, 1, math.sqrt(2), math.sqrt(3), 2, 2.25, 2.5]
    assert send_times(schedule, 7) - 10.0 == pytest.approx(expected, abs=1e-12)


def test_a_ramped_poisson_run_sends_rate_times_ramp_over_two_during_the_ramp():
    # 100/s over a 10 s ramp: 500 expected during the ramp, 125 in its first half (Λ(5) = 100·25/20); Poisson counts
    # have a standard deviation of sqrt(mean), so ±70 and ±35 are over three of them.
    schedule = ArrivalSchedule(100.0, ArrivalShape("poisson", ramp_up_seconds=10.0), np.random.default_rng(5), 0.0)
    times = send_times(schedule, 3000)
    assert abs(np.sum(times < 10.0) - 500) < 70
    assert abs(np.sum(times < 5.0) - 125) < 35
    assert np.sum((times >= 10.0) & (times < 20.0)) == pytest.approx(1000, abs=100)  # then the full rate


@pytest.mark.parametrize("shape", [ArrivalShape(burstiness=0.5, ramp_up_seconds=3.0), ArrivalShape("constant")])
def test_workers_together_send_exactly_the_whole_runs_schedule(shape):
    whole = send_times(ArrivalSchedule(8.0, shape, np.random.default_rng(9), 0.0), 60)
    shares = [send_times(ArrivalSchedule(8.0, shape, np.random.default_rng(9), 0.0, stride=3, position=p), 20)
              for p in range(3)]
    assert sorted(np.concatenate(shares)) == pytest.approx(list(whole))
    assert list(shares[1]) == pytest.approx(list(whole[1::3]))


@pytest.mark.parametrize("args, message", [
    (["--burstiness", "0.5"], "--burstiness shape open-loop arrivals; give --request-rate"),
    (["--ramp-up-seconds", "5"], "--ramp-up-seconds shape open-loop arrivals; give --request-rate"),
    (["--request-rate", "5", "--arrival", "constant", "--burstiness", "2"],
     "--burstiness draws gamma-distributed gaps and --arrival constant evenly spaced ones; give only one"),
    (["--request-rate", "5", "--burstiness", "0"], "--burstiness must be a positive number"),
    (["--request-rate", "5", "--ramp-up-seconds", "-1"], "--ramp-up-seconds must be 0 or more seconds"),
])
def test_arrival_shape_errors_are_one_line(args, message):
    with pytest.raises(ConfigError) as error:
        parse_benchmark_args(args)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_ramp_longer_than_the_run_is_a_warning():
    config = parse_benchmark_args(["--request-rate", "5", "--ramp-up-seconds", "30", "--max-time-per-run", "0.25"])
    assert any(w.startswith("--ramp-up-seconds 30 is not shorter than --max-time-per-run") for w in config.warnings())


def test_a_shaped_run_keeps_reporting_schedule_lag(tmp_path, fast_simulator):
    from genai_bench.config import BenchmarkConfig
    from genai_bench.scenarios import parse_scenario
    from genai_bench.session import BenchmarkSession

    config = BenchmarkConfig(api_base=fast_simulator.url, traffic_scenarios=[parse_scenario("D(20,5)")],
                             request_rates=[40.0], burstiness=0.5, ramp_up_seconds=0.25, max_concurrency=8,
                             max_requests_per_run=20, max_time_per_run=1.0, experiment_base_dir=str(tmp_path),
                             experiment_folder_name="exp", seed=4)
    session = BenchmarkSession(config)
    result = session.run(handle_signals=False).results[0]
    session.close()
    assert len(result.requests) == 20 and result.statistics.stats["schedule_lag"] is not None
    metadata = session.metadata(end_time=None)
    assert (metadata["burstiness"], metadata["ramp_up_seconds"]) == (0.5, 0.25)
