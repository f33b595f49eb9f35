"""The sweep over a real simulator: exact request limits, drains, time limits, faults and interruption."""

import json
import time

import gevent
import pytest

from genai_bench.config import BenchmarkConfig
from genai_bench.protocol import ERROR_ABORTED
from genai_bench.runner import INTERRUPT_DRAIN_SECONDS
from genai_bench.scenarios import parse_scenario
from genai_bench.session import BenchmarkSession


def make_session(tmp_path, server, **fields) -> BenchmarkSession:
    settings = dict(api_base=server.url, traffic_scenarios=[parse_scenario("D(20,10)")], concurrencies=[4],
                    max_requests_per_run=25, max_time_per_run=1.0, experiment_base_dir=str(tmp_path),
                    experiment_folder_name="exp", seed=7)
    settings.update(fields)
    return BenchmarkSession(BenchmarkConfig(**settings))


def test_exactly_max_requests_are_issued_and_recorded(tmp_path, fast_simulator):
    outcome = make_session(tmp_path, fast_simulator, concurrencies=[3, 8], max_requests_per_run=17).run()
    assert [r.statistics.num_requests for r in outcome.results] == [17, 17]
    assert all(len(r.requests) == 17 and r.statistics.num_error_requests == 0 for r in outcome.results)


def test_time_limit_stops_issuing_and_drains_in_flight_requests(tmp_path, start_simulator):
    # Each request takes ~0.5 s; the run may last 0.3 s: every request started must still be recorded, completed.
    server = start_simulator(ttft_ms=100.0, itl_ms=40.0)
    session = make_session(tmp_path, server, max_time_per_run=0.005, max_requests_per_run=1000, concurrencies=[4])
    result = session.run().results[0]
    assert len(result.requests) == 4
    assert all(m.record.ok for m in result.requests)
    assert result.aborted == 0


def test_requests_still_in_flight_after_the_drain_are_recorded_as_aborted(tmp_path, start_simulator):
    server = start_simulator(ttft_ms=3000.0)
    session = make_session(tmp_path, server, max_time_per_run=0.005, drain_timeout=0.2, concurrencies=[3])
    result = session.run().results[0]
    assert result.aborted == 3
    assert [m.record.error_code for m in result.requests] == [ERROR_ABORTED] * 3
    assert all(m.e2e_latency >= 0.2 for m in result.requests)


def test_injected_faults_are_counted_with_codes_and_the_run_goes_on(tmp_path, start_simulator):
    server = start_simulator(ttft_ms=1.0, itl_ms=0.0, error_rate=0.3, error_codes=(429, 503), seed=5)
    stats = make_session(tmp_path, server, max_requests_per_run=60).run().results[0].statistics
    assert stats.num_requests == 60
    assert 0 < stats.num_error_requests < 60 and stats.num_completed_requests == 60 - stats.num_error_requests
    assert set(stats.error_kinds_frequency) <= {"429", "503"}
    assert sum(stats.error_kinds_frequency.values()) == stats.num_error_requests
    assert stats.error_rate == pytest.approx(stats.num_error_requests / 60)


def test_experiment_folder_has_metadata_run_files_and_event_log(tmp_path, fast_simulator):
    session = make_session(tmp_path, fast_simulator, api_key="sk-secret-value", concurrencies=[1, 2],
                           max_requests_per_run=5, command=["genai-bench", "benchmark", "--api-key", "sk-secret-value"])
    session.run()
    session.close()
    folder = tmp_path / "exp"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["D20_10_text-to-text_num_concurrency_1_time_60s.json",
                     "D20_10_text-to-text_num_concurrency_2_time_60s.json",
                     "events.ndjson", "experiment_metadata.json"]
    run = json.loads((folder / names[0]).read_text())
    # the simulator serves /metrics, so --server-metrics auto adds the server's series
    assert set(run) == {"aggregated_metrics", "individual_request_metrics", "_time_unit", "server_metrics"}
    first = run["individual_request_metrics"][0]
    assert first["start_time"] < first["first_token_time"] < first["end_time"]
    metadata = json.loads((folder / "experiment_metadata.json").read_text())
    assert metadata["partial"] is False and metadata["num_concurrency"] == [1, 2]
    everything = "".join(p.read_text() for p in folder.iterdir())
    assert "sk-secret-value" not in everything
    kinds = [json.loads(line)["event_type"] for line in (folder / "events.ndjson").read_text().splitlines()]
    assert kinds.count("run_completed") == 2 and kinds[-1] == "benchmark_completed"


def test_stop_keeps_what_was_measured_as_partial(tmp_path, start_simulator):
    server = start_simulator(ttft_ms=5.0, itl_ms=5.0)
    session = make_session(tmp_path, server, max_requests_per_run=10_000, max_time_per_run=1.0, concurrencies=[2, 4])
    # Stopped once the first run has measured something, however slowly the machine got there.
    session.hooks.request_finished.add_listener(lambda total, **_: total == 5 and gevent.spawn(session.stop))
    outcome = session.run(handle_signals=False)
    assert outcome.interrupted and len(outcome.results) == 1
    stats = outcome.results[0].statistics
    assert stats.partial and stats.num_completed_requests > 0
    metadata = json.loads((tmp_path / "exp" / "experiment_metadata.json").read_text())
    assert metadata["partial"] is True and len(metadata["run_files"]) == 1


def test_open_loop_sends_on_schedule_and_counts_latency_from_it(tmp_path, start_simulator):
    # A server that takes ~0.3 s per request, 2 users, 20 requests due 50 ms apart: most requests must wait
    # for a free user, and that wait belongs in their latency (no coordinated omission).
    server = start_simulator(ttft_ms=300.0, itl_ms=0.0)
    session = make_session(tmp_path, server, request_rates=[20.0], arrival="constant", max_concurrency=2,
                           max_requests_per_run=20, max_time_per_run=1.0)
    result = session.run(handle_signals=False).results[0]
    scheduled = sorted(m.record.scheduled_start for m in result.requests)
    assert len(scheduled) == 20 and result.statistics.request_rate == 20.0
    assert [round(b - a, 9) for a, b in zip(scheduled, scheduled[1:])] == [0.05] * 19
    assert all(m.record.start >= m.record.scheduled_start for m in result.requests)
    late = [m for m in result.requests if m.schedule_lag > 0.2]
    assert late and all(m.ttft_from_schedule > m.ttft + 0.2 for m in late)
    stats = result.statistics.stats
    assert stats["e2e_latency_from_schedule"]["p50"] > stats["e2e_latency"]["p50"]
    assert (tmp_path / "exp" / "D20_10_text-to-text_num_concurrency_2_request_rate_20_time_60s.json").is_file()
    # Live views know the run by its rate while it goes on, not only once it is done.
    events = [json.loads(line) for line in (tmp_path / "exp" / "events.ndjson").read_text().splitlines()]
    live = [e["data"] for e in events if e["event_type"] in ("metrics", "histogram", "run_started")]
    live = [d.get("live_metrics", d) for d in live]
    assert live and all(d["request_rate"] == 20.0 for d in live)
    running = [e["data"] for e in events if e["event_type"] == "status" and e["data"]["status"] == "running"]
    assert running[-1]["current_request_rate"] == 20.0 and running[-1]["current_concurrency"] == 2


def test_closed_loop_runs_have_no_schedule_metrics(tmp_path, fast_simulator):
    stats = make_session(tmp_path, fast_simulator, max_requests_per_run=4).run().results[0].statistics
    assert stats.request_rate is None and stats.stats["schedule_lag"] is None



def test_users_spawned_at_once_send_only_once_all_are_connected(tmp_path, fast_simulator, monkeypatch):
    """Connecting while others already send would put connections and requests in one burst at the server."""
    from genai_bench.client import OpenAIStreamingClient

    seen = []
    connect, send = OpenAIStreamingClient.connect, OpenAIStreamingClient.send

    def recorded_connect(self):
        connect(self)
        seen.append("connected")

    def recorded_send(self, record, prompt):
        seen.append("send")
        return send(self, record, prompt)

    monkeypatch.setattr(OpenAIStreamingClient, "connect", recorded_connect)
    monkeypatch.setattr(OpenAIStreamingClient, "send", recorded_send)
    result = make_session(tmp_path, fast_simulator, concurrencies=[40], max_requests_per_run=40).run().results[0]
    assert result.statistics.num_completed_requests == 40
    assert seen == ["connected"] * 40 + ["send"] * 40


def test_the_sweep_fires_its_hooks_in_order(tmp_path, fast_simulator):
    session = make_session(tmp_path, fast_simulator, concurrencies=[1, 2], max_requests_per_run=3)
    fired = []
    hooks = session.hooks
    hooks.status.add_listener(lambda sweep: fired.append(("status", sweep.status, sweep.runs_done)))
    hooks.run_started.add_listener(lambda run, start_time: fired.append(("run_started", run.index)))
    hooks.request_finished.add_listener(lambda record, total, **_: fired.append(("request", total)))
    hooks.run_finished.add_listener(lambda run, result, results: fired.append(("run_finished", run.index, len(results))))
    ticks = []
    hooks.live_tick.add_listener(lambda progress, **_: ticks.append(progress.run.index))
    session.run()
    assert fired == [
        ("status", "running", 0),
        ("status", "running", 0), ("run_started", 1), ("request", 1), ("request", 2), ("request", 3),
        ("run_finished", 1, 1),
        ("status", "running", 1), ("run_started", 2), ("request", 1), ("request", 2), ("request", 3),
        ("run_finished", 2, 2),
        ("status", "completed", 2),
    ]
    # Each run ends with one last live tick, after its last request.
    assert ticks and ticks[-1] == 2 and 1 in ticks


def test_stop_during_the_drain_ends_it_without_waiting_for_the_request_timeout(tmp_path, start_simulator):
    # Requests that take 60 s and a drain bounded by a 60 s request timeout: a stop in the drain must cut it to the
    # short interrupt drain, recording what is still in flight as aborted.
    server = start_simulator(ttft_ms=60_000.0)
    session = make_session(tmp_path, server, max_time_per_run=0.01, request_timeout=60.0, concurrencies=[2])
    session.hooks.run_started.add_listener(lambda **_: gevent.spawn_later(1.0, session.stop))  # 0.4 s into the drain
    started = time.monotonic()
    outcome = session.run(handle_signals=False)
    assert time.monotonic() - started < INTERRUPT_DRAIN_SECONDS + 5
    result = outcome.results[0]
    assert outcome.interrupted and result.aborted >= 1 and result.aborted == len(result.requests)


def test_each_run_keeps_start_up_objects_out_of_its_collections_and_gives_them_back(tmp_path, fast_simulator):
    """Objects alive when a run starts are frozen during it (no collection walks them again) and unfrozen after."""
    import gc

    session = make_session(tmp_path, fast_simulator, concurrencies=[1, 2], max_requests_per_run=3)
    frozen = []
    session.hooks.request_finished.add_listener(lambda **_: frozen.append(gc.get_freeze_count()))
    assert gc.get_freeze_count() == 0
    session.run()
    assert len(frozen) == 6 and min(frozen) > 1000
    assert gc.get_freeze_count() == 0
