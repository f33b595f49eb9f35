"""Over-saturation: a run whose server cannot keep up ends early, marked; a merely busy one does not."""

import json

from genai_bench.config import BenchmarkConfig
from genai_bench.metrics import RequestMetrics
from genai_bench.protocol import RequestRecord
from genai_bench.saturation import SaturationWatch
from genai_bench.scenarios import parse_scenario
from genai_bench.session import BenchmarkSession


def waited(seconds: float) -> RequestMetrics:
    """A finished request whose TTFT (and TTFT from its schedule) was `seconds`."""
    record = RequestRecord("D(20,10)", 1, 20, 10, start=0.0, end=seconds + 0.01)
    return RequestMetrics(record, ttft=seconds, ttft_from_schedule=seconds)


def test_rising_waits_are_oversaturation_and_flat_or_small_ones_are_not():
    rising = [waited(0.02 + 0.01 * i) for i in range(60)]  # 20 ms up to 610 ms
    watch = SaturationWatch(open_loop=True, stop=True)
    assert watch.check(rising[:20], elapsed=2.0) is None  # too few requests to judge yet
    assert watch.check(rising, elapsed=0.5) is None  # too early in the run
    assert "rose from" in watch.check(rising, elapsed=2.0) and watch.cut.is_set()
    flat = SaturationWatch(open_loop=False, stop=True)
    assert flat.check([waited(0.5)] * 60, elapsed=2.0) is None
    # Tripled but by 20 ms: a quick server's noise, not a queue.
    small = SaturationWatch(open_loop=False, stop=True)
    assert small.check([waited(0.01)] * 30 + [waited(0.03)] * 30, elapsed=2.0) is None
    kept = SaturationWatch(open_loop=True, stop=False)
    assert kept.check(rising, elapsed=2.0) and kept.oversaturated and not kept.cut.is_set()


def overloaded_session(tmp_path, server, **fields) -> BenchmarkSession:
    # Two sequences of ~38 ms: about 50 req/s served; 400 req/s arrive, 64 at most in flight.
    return BenchmarkSession(BenchmarkConfig(
        api_base=server.url, traffic_scenarios=[parse_scenario("D(20,10)")], request_rates=[400.0],
        max_concurrency=64, max_requests_per_run=None, max_time_per_run=3 / 60, experiment_base_dir=str(tmp_path),
        experiment_folder_name="exp", seed=3, **fields))


def test_an_open_loop_run_far_past_capacity_ends_early_marked_oversaturated(tmp_path, start_simulator):
    server = start_simulator(ttft_ms=20.0, itl_ms=2.0, max_concurrency=2, seed=1)
    session = overloaded_session(tmp_path, server)
    result = session.run().results[0]
    session.close()
    assert result.statistics.oversaturated
    assert result.ended_at - result.started_at < 2.5  # the run would have lasted 3 s, plus its drain
    events = [json.loads(line) for line in (tmp_path / "exp" / "events.ndjson").read_text().splitlines()]
    completed = next(e["data"] for e in events if e["event_type"] == "run_completed")
    assert completed["oversaturated"] is True
    assert any("over-saturated" in e["data"]["message"] and "ending the run early" in e["data"]["message"]
               for e in events if e["event_type"] == "log")


def test_no_stop_on_saturation_keeps_the_run_going_and_still_marks_it(tmp_path, start_simulator):
    server = start_simulator(ttft_ms=20.0, itl_ms=2.0, max_concurrency=2, seed=1)
    session = overloaded_session(tmp_path, server, stop_on_saturation=False)
    result = session.run().results[0]
    session.close()
    assert result.statistics.oversaturated
    assert result.ended_at - result.started_at >= 3.0


def test_a_run_within_capacity_is_not_oversaturated(tmp_path, fast_simulator):
    session = BenchmarkSession(BenchmarkConfig(
        api_base=fast_simulator.url, traffic_scenarios=[parse_scenario("D(20,10)")], request_rates=[50.0],
        max_requests_per_run=None, max_time_per_run=1.5 / 60, experiment_base_dir=str(tmp_path), seed=3))
    result = session.run().results[0]
    session.close()
    assert not result.statistics.oversaturated and result.ended_at - result.started_at >= 1.5
