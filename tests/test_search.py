"""Capacity search (--search): the steps it plans, its bounds, and what it finds on simulators of known capacity."""

import json
import math

import pytest

from genai_bench import events
from genai_bench.config import BenchmarkConfig, ConfigError
from genai_bench.events import EventBus
from genai_bench.hooks import SweepHooks
from genai_bench.live_events import search as search_data
from genai_bench.metrics import RunStatistics
from genai_bench.options import parse_benchmark_args
from genai_bench.publisher import LivePublisher
from genai_bench.scenarios import parse_scenario
from genai_bench.search import CapacitySearch, Objective
from genai_bench.session import BenchmarkSession
from genai_bench.state import attach_state

SCENARIO = [parse_scenario("D(20,10)")]


def ttft_attainment(threshold: float):
    """A stub SLO on TTFT until the SLO options land: the share of requests under `threshold`, read from the run's
    TTFT percentiles (the highest percentile at or under it)."""
    def attainment(statistics: RunStatistics) -> float | None:
        ttft = statistics.stats.get("ttft")
        if not ttft:
            return None
        if ttft["max"] <= threshold:
            return 1.0
        met = [q for q in (99, 95, 90, 75, 50, 25) if ttft[f"p{q}"] <= threshold]
        return met[0] / 100 if met else 0.0
    return attainment


def statistics(load: float, capacity: float, oversaturated: bool = False) -> RunStatistics:
    """Made-up run statistics whose p90 TTFT is 10 ms up to `capacity` and a second beyond it."""
    ttft = 0.01 if load <= capacity else 1.0
    described = {name: ttft for name in ("mean", "min", "max", "stddev", "p25", "p50", "p75", "p90", "p95", "p99")}
    return RunStatistics("D(20,10)", 1, 10, 10, 0, 0, 0.0, {}, 1.0, 10.0, 0, 0, 0, False, {"ttft": described},
                         oversaturated=oversaturated)


def drive(config: BenchmarkConfig, capacity: float, saturates_above: float = math.inf) -> CapacitySearch:
    """Run a search to its end against made-up statistics: no server, only the planning."""
    hooks = SweepHooks()
    search = CapacitySearch(config, Objective({"ttft": 0.05}, ttft_attainment(0.05)), hooks)
    while (run := search.next_run()) is not None:
        load = run.request_rate if config.search == "max-rate" else run.concurrency
        search.record(run, statistics(load, capacity, oversaturated=load > saturates_above))
    return search


def search_config(**fields) -> BenchmarkConfig:
    return BenchmarkConfig(traffic_scenarios=SCENARIO, **fields).validate()


def test_rate_search_doubles_then_bisects_to_within_the_tolerance():
    search = drive(search_config(search="max-rate", request_rates=[1.0]), capacity=13.4)
    progress = search.progress
    loads = [step.load for step in progress.steps]
    assert loads[:5] == [1, 2, 4, 8, 16]
    assert progress.done and progress.stop_reason == "converged"
    assert progress.low <= 13.4 < progress.high
    assert progress.high - progress.low <= 0.05 * progress.low
    assert len(loads) <= 12 and len(set(loads)) == len(loads)  # no load is run twice


def test_concurrency_search_stops_when_the_bounds_are_adjacent():
    progress = drive(search_config(search="max-concurrency", concurrencies=[1]), capacity=6).progress
    assert [step.load for step in progress.steps] == [1, 2, 4, 8, 6, 7]
    assert (progress.low, progress.high, progress.result, progress.stop_reason) == (6, 7, 6, "converged")


def test_an_oversaturated_step_fails_even_when_its_attainment_held():
    progress = drive(search_config(search="max-concurrency", concurrencies=[1]), capacity=100, saturates_above=5).progress
    assert progress.result == 5 and [s.oversaturated for s in progress.steps if not s.passed] == [True, True]


def test_search_ends_at_the_ceiling_the_step_budget_or_when_nothing_passes():
    ceiling = drive(search_config(search="max-concurrency", concurrencies=[1], max_concurrency=16), capacity=100).progress
    assert ceiling.stop_reason == "ceiling" and ceiling.result == 16 and ceiling.high is None
    budget = drive(search_config(search="max-rate", request_rates=[1.0], search_max_steps=3), capacity=1000).progress
    assert budget.stop_reason == "max_steps" and len(budget.steps) == 3 and budget.result == 4
    nothing = drive(search_config(search="max-concurrency", concurrencies=[4]), capacity=0.5).progress
    assert [s.load for s in nothing.steps] == [4, 2, 1] and nothing.result is None
    assert nothing.stop_reason == "none_passed"
    assert search_data(nothing)["summary"] == ("Capacity: no load tried met ≥90% SLO attainment "
                                                    "(lowest tried: concurrency 1)")


def test_search_event_is_published_and_kept_for_api_state():
    bus = EventBus()
    state = attach_state(bus)
    hooks = SweepHooks()
    LivePublisher(bus).attach(hooks)
    search = CapacitySearch(search_config(search="max-rate", request_rates=[10.0]),
                            Objective({"ttft": 0.05}, ttft_attainment(0.05)), hooks)
    while (run := search.next_run()) is not None:
        search.record(run, statistics(run.request_rate, 12.5))
    first = next(e.data for e in bus.history if e.event_type == events.SEARCH)
    assert first["summary"] == "Searching for the highest load at ≥90% SLO attainment: passed none yet, failed none yet"
    data = state.document()["search"]
    assert data["done"] and data["kind"] == "max-rate" and data["unit"] == "req/s"
    assert data["slos"] == {"ttft": 0.05} and data["attainment_target"] == 0.9
    assert data["steps"][0] == {"run_key": "D20_10_text-to-text_num_concurrency_256_request_rate_10_time_12s",
                                "load": 10.0, "attainment": 1.0, "passed": True, "oversaturated": False}
    assert data["result"] == data["low"] == 12.5 and data["high"] == 12.8
    assert data["summary"] == "Capacity: 12.5 req/s at ≥90% SLO attainment (bounds 12.5–12.8)"
    logged = [e.data["message"] for e in bus.history if e.event_type == events.LOG]
    assert logged[-1] == data["summary"]


REFUSED = [
    (["--search", "max-rate", "--traffic-scenario", "D(10,10) D(20,20)"], "--search finds the capacity of one traffic"),
    (["--search", "max-concurrency", "--request-rate", "5"], "--search max-concurrency is closed loop"),
    (["--search", "max-rate", "--slo-attainment", "1.5"], "--slo-attainment must be a share"),
    (["--search", "max-rate", "--search-tolerance", "0"], "--search-tolerance must be a share"),
    (["--search", "max-rate", "--search-max-steps", "0"], "--search-max-steps must be from 1"),
    (["--search", "max-rate", "--repeats", "3"], "--repeats does not combine with --search"),
    (["--search", "max-concurrency", "--num-concurrency", "512"], "above its ceiling --max-concurrency 256"),
    (["--repeats", "0"], "--repeats must be from 1"),
]


@pytest.mark.parametrize("args, message", REFUSED)
def test_bad_search_settings_are_one_line_errors(args, message):
    with pytest.raises(ConfigError) as info:
        parse_benchmark_args(args)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_rate_search_without_a_rate_starts_at_one_request_per_second():
    assert parse_benchmark_args(["--search", "max-rate"]).request_rates == [1.0]


def test_a_search_without_slos_is_refused_before_anything_starts(tmp_path, fast_simulator):
    config = BenchmarkConfig(api_base=fast_simulator.url, traffic_scenarios=SCENARIO, search="max-concurrency",
                             experiment_base_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="--search needs service-level objectives"):
        BenchmarkSession(config)
    assert not any(tmp_path.iterdir())


def test_concurrency_search_finds_the_simulator_capacity(tmp_path, start_simulator):
    # Six sequences at a time: a seventh request queues behind a whole answer (~38 ms), so its TTFT passes 40 ms.
    server = start_simulator(ttft_ms=20.0, itl_ms=2.0, max_concurrency=6, seed=1)
    config = BenchmarkConfig(api_base=server.url, traffic_scenarios=SCENARIO, max_requests_per_run=None,
                             max_time_per_run=1 / 60, experiment_base_dir=str(tmp_path), experiment_folder_name="exp",
                             seed=7, search="max-concurrency", slo_attainment=0.95, slo={"ttft": 0.04})
    session = BenchmarkSession(config)  # the real --slo path: each step's RunStatistics.slo attainment
    outcome = session.run()
    session.close()
    found = session.planner.progress.result
    assert found == 6, [(s.load, s.attainment) for s in session.planner.progress.steps]
    assert session.search_outcome == "Capacity: concurrency 6 at ≥95% SLO attainment (bounds 6–7)"
    metadata = json.loads((tmp_path / "exp" / "experiment_metadata.json").read_text())
    assert metadata["search"]["result"] == 6 and metadata["search"]["done"]
    assert [s["run_key"] for s in metadata["search"]["steps"]] == [r.run.key for r in outcome.results]
    assert metadata["num_concurrency"] == [1, 2, 4, 6, 7, 8]
    kinds = [json.loads(line)["event_type"] for line in (tmp_path / "exp" / "events.ndjson").read_text().splitlines()]
    assert "search" in kinds


@pytest.mark.slow
def test_rate_search_lands_near_the_simulator_capacity(tmp_path, start_simulator):
    # Four sequences of ~38 ms each: about 105 req/s; evenly spaced arrivals queue only past it.
    server = start_simulator(ttft_ms=20.0, itl_ms=2.0, max_concurrency=4, seed=1)
    config = BenchmarkConfig(api_base=server.url, traffic_scenarios=SCENARIO, max_requests_per_run=None,
                             max_time_per_run=1 / 60, experiment_base_dir=str(tmp_path), experiment_folder_name="exp",
                             seed=7, search="max-rate", request_rates=[25.0], arrival="constant", slo_attainment=0.95,
                             slo={"ttft": 0.1})
    session = BenchmarkSession(config)
    session.run()
    session.close()
    progress = session.planner.progress
    assert progress.done and progress.stop_reason == "converged"
    # A one-second step lets a server a little past capacity build only a short queue: allow +20% above it.
    assert 100 <= progress.result <= 126, [(s.load, s.attainment) for s in progress.steps]
