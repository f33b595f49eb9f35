"""--num-workers: a Locust master in the benchmark process, worker processes, a real simulator, real files."""

import dataclasses
import functools
from array import array
import json
import os
import signal
import socket

import gevent
import psutil
import pytest

from genai_bench.config import BenchmarkConfig
from genai_bench.metrics import RunStatistics
from genai_bench.protocol import ERROR_ABORTED, RequestRecord
from genai_bench.report import summary_table
from genai_bench.results.formats import normalize_aggregated
from genai_bench.scenarios import parse_scenario
from genai_bench.session import BenchmarkSession
from genai_bench.user import LeasedBudget

WORKERS_LINE = r"^Users run in 2 Locust worker processes \(master at 127\.0\.0\.1:(\d+)\)$"


def worker_processes(pid: int) -> list[psutil.Process]:
    # The session's shared Chromium is a child of the test process too: pick the Locust workers by their command.
    workers = [p for p in psutil.Process(pid).children(recursive=True) if "worker" in p.cmdline()]
    assert len(workers) == 2, [w.cmdline() for w in workers]
    return workers


def assert_gone(processes: list[psutil.Process], timeout: float = 5.0) -> None:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    assert not alive, f"worker processes outlived the benchmark: {alive}"


def event_shapes(folder) -> dict[str, set]:
    shapes: dict[str, set] = {}
    for line in (folder / "events.ndjson").read_text().splitlines():
        event = json.loads(line)
        assert set(event) == {"id", "event_type", "timestamp", "data"}
        shapes.setdefault(event["event_type"], set()).update(event["data"])
    return shapes


def test_records_cross_processes_intact():
    record = RequestRecord("D(20,10)", 8, 20, 10, start=1.5, first_token=1.75, end=2.0, chunk_times=array("d", [1.75, 1.875, 2.0]),
                           num_output_tokens=10, status_code=200, scheduled_start=1.25)
    assert RequestRecord.from_wire(record.to_wire()) == record
    failed = RequestRecord("D(20,10)", 8, 20, 10, start=1.5)
    failed.fail(ERROR_ABORTED, "still in flight", 3.0)
    assert RequestRecord.from_wire(failed.to_wire()) == failed


def test_leased_budgets_issue_exactly_the_master_pool_and_close_wakes_waiting_users():
    pool = {"left": 101}
    budgets: list[LeasedBudget] = []

    def master_grants(budget: LeasedBudget, count: int) -> None:  # the master's answer comes later, as over a socket
        def answer():
            granted = min(count, pool["left"], max(1, -(-pool["left"] // 3)))
            pool["left"] -= granted
            budget.grant(granted, pool["left"] == 0)
            if pool["left"] == 0:
                for other in budgets:
                    other.grant(0, True)
        gevent.spawn_later(0.001, answer)

    for users in (1, 4, 9):
        budget = LeasedBudget(lambda count: None, users)
        budget.ask = functools.partial(master_grants, budget)
        budgets.append(budget)
    taken = [0, 0, 0]

    def user(i: int) -> None:
        while budgets[i].take():
            gevent.sleep(0.0005)
            taken[i] += 1
            budgets[i].release()

    gevent.joinall([gevent.spawn(user, i) for i, users in enumerate((1, 4, 9)) for _ in range(users)], timeout=10)
    assert sum(taken) == 101 and all(taken) and all(b.exhausted.is_set() for b in budgets)

    waiting = LeasedBudget(lambda count: None, 2)  # the master never answers: close() must still free its users
    users = [gevent.spawn(waiting.take) for _ in range(2)]
    gevent.sleep(0.01)
    waiting.close()
    assert [u.get(timeout=1) for u in users] == [False, False] and waiting.exhausted.is_set()


def test_workers_record_exactly_the_limit_in_the_local_shape_and_leave_no_process(tmp_path, cli, finished_experiment):
    # No --api-base: the embedded simulator (TTFT 40 ms) runs in the master process and the workers get its URL.
    process = cli("benchmark", "--num-workers", "2", "--num-concurrency", "1,5", "--traffic-scenario", "D(20,10)",
                  "--max-requests-per-run", "23", "--max-time-per-run", "1", "--experiment-folder-name", "exp",
                  "--seed", "3")
    process.wait_for(WORKERS_LINE)
    workers = worker_processes(process.pid)
    assert process.wait_exit(timeout=60) == 0, process.output
    assert_gone(workers)

    folder = tmp_path / "experiments" / "exp"
    local_run = json.loads(next(finished_experiment.glob("D20_10_*_num_concurrency_1_*.json")).read_text())
    runs = []
    for concurrency in (1, 5):
        run = json.loads((folder / f"D20_10_text-to-text_num_concurrency_{concurrency}_time_60s.json").read_text())
        aggregated, requests = run["aggregated_metrics"], run["individual_request_metrics"]
        assert set(run) == set(local_run)
        assert set(aggregated) == set(local_run["aggregated_metrics"])
        assert aggregated["num_requests"] == aggregated["num_completed_requests"] == len(requests) == 23
        assert [w["worker"] for w in aggregated["client"]["workers"]] == [0, 1]
        for request in requests:
            assert set(request) == set(local_run["individual_request_metrics"][0])
            assert request["start_time"] < request["first_token_time"] < request["end_time"]
            assert request["ttft"] > 0.040 and request["num_output_tokens"] == 10
        read_back = normalize_aggregated(aggregated)  # as the reader gives it (batch_size null for unbatched runs)
        runs.append(RunStatistics(**{f.name: read_back[f.name] for f in dataclasses.fields(RunStatistics)}))

    local_shapes, shapes = event_shapes(finished_experiment), event_shapes(folder)
    assert set(local_shapes) - {"log"} <= set(shapes) <= set(local_shapes) | {"log"}
    assert all(shapes[kind] == local_shapes[kind] for kind in shapes if kind in local_shapes and kind != "log")
    assert summary_table(runs) in process.output  # the same summary, from the same records
    metadata = json.loads((folder / "experiment_metadata.json").read_text())
    assert metadata["num_workers"] == 2 and metadata["partial"] is False


@pytest.fixture
def worker_sessions(tmp_path):
    """Build in-process sessions whose users run in 2 Locust worker processes; all are closed at teardown."""
    sessions: list[BenchmarkSession] = []

    def build(server, **fields) -> BenchmarkSession:
        settings = {"api_base": server.url, "traffic_scenarios": [parse_scenario("D(20,10)")], "concurrencies": [4],
                    "max_requests_per_run": 1000, "max_time_per_run": 0.005, "experiment_base_dir": str(tmp_path),
                    "experiment_folder_name": "exp", "seed": 7, "num_workers": 2}
        sessions.append(BenchmarkSession(BenchmarkConfig(**{**settings, **fields})))
        return sessions[-1]

    yield build
    for session in sessions:
        session.close()


def test_a_time_limited_run_drains_the_requests_in_flight_on_every_worker(start_simulator, worker_sessions):
    # Each request takes ~0.5 s and the run may last 0.3 s: all 4 (two per worker) are recorded, completed.
    server = start_simulator(ttft_ms=100.0, itl_ms=40.0)
    session = worker_sessions(server, concurrencies=[4, 3])
    results = session.run(handle_signals=False).results
    assert [len(r.requests) for r in results] == [4, 3]
    assert all(m.record.ok for r in results for m in r.requests)
    assert [r.aborted for r in results] == [0, 0]


def test_open_loop_on_workers_keeps_the_whole_runs_schedule(start_simulator, worker_sessions):
    # 21 requests due 50 ms apart (constant arrivals at 20/s), sent by two workers at 10/s each, interleaved:
    # each worker gets its share of the limit up front (11 and 10), so neither sends the tail alone at half the rate.
    server = start_simulator(ttft_ms=5.0, itl_ms=1.0)
    session = worker_sessions(server, request_rates=[20.0], arrival="constant", max_concurrency=4,
                              max_requests_per_run=21, max_time_per_run=1.0)
    result = session.run(handle_signals=False).results[0]
    assert len(result.requests) == 21 and all(m.record.ok for m in result.requests)
    scheduled = sorted(m.record.scheduled_start for m in result.requests)
    assert [round(b - a, 6) for a, b in zip(scheduled, scheduled[1:])] == [0.05] * 20
    assert result.statistics.request_rate == 20.0
    assert result.statistics.stats["schedule_lag"]["p50"] < 0.02


def test_a_ramp_on_workers_keeps_the_whole_runs_shape(start_simulator, worker_sessions):
    # 20/s reached after 0.5 s, evenly spaced, over two workers: request k of the whole run is due at sqrt(k/20) s
    # during the ramp (5 requests) and 0.5 + (k - 5)/20 s after it, whichever worker sends it.
    server = start_simulator(ttft_ms=5.0, itl_ms=1.0)
    session = worker_sessions(server, request_rates=[20.0], arrival="constant", ramp_up_seconds=0.5, max_concurrency=4,
                              max_requests_per_run=12, max_time_per_run=1.0)
    result = session.run(handle_signals=False).results[0]
    scheduled = sorted(m.record.scheduled_start for m in result.requests)
    expected = [(k / 20) ** 0.5 if k < 5 else 0.5 + (k - 5) / 20 for k in range(12)]
    assert [b - scheduled[0] for b in scheduled] == pytest.approx(expected, abs=1e-9)


def test_requests_still_in_flight_after_the_drain_are_recorded_as_aborted(start_simulator, worker_sessions):
    server = start_simulator(ttft_ms=3000.0)
    session = worker_sessions(server, concurrencies=[3], drain_timeout=0.2)
    result = session.run(handle_signals=False).results[0]
    assert result.aborted == 3
    assert [m.record.error_code for m in result.requests] == [ERROR_ABORTED] * 3
    assert all(m.e2e_latency >= 0.2 for m in result.requests)


def test_ctrl_c_keeps_what_the_workers_measured_and_ends_them(tmp_path, cli, start_simulator):
    server = start_simulator(ttft_ms=5.0, itl_ms=5.0)
    process = cli("benchmark", "--api-base", server.url, "--num-workers", "2", "--num-concurrency", "4,8",
                  "--traffic-scenario", "D(20,10)", "--max-requests-per-run", "100000", "--max-time-per-run", "1",
                  "--experiment-folder-name", "exp")
    process.wait_for(WORKERS_LINE)
    workers = worker_processes(process.pid)
    process.wait_for(r"\[run 1/2\].*requests")
    for pid in [process.pid] + [w.pid for w in workers]:  # a terminal's Ctrl-C reaches the whole group
        os.kill(pid, signal.SIGINT)
    assert process.wait_exit(timeout=30) == 130, process.output
    assert_gone(workers)
    metadata = json.loads((tmp_path / "experiments" / "exp" / "experiment_metadata.json").read_text())
    run = json.loads((tmp_path / "experiments" / "exp" / metadata["run_files"][0]).read_text())
    aggregated = run["aggregated_metrics"]
    assert metadata["partial"] is True and aggregated["partial"] is True
    assert aggregated["num_completed_requests"] > 0 and aggregated["num_requests"] == len(run["individual_request_metrics"])


def test_workers_exit_when_the_master_dies(tmp_path, cli, start_simulator):
    server = start_simulator(ttft_ms=5.0, itl_ms=5.0)
    process = cli("benchmark", "--api-base", server.url, "--num-workers", "2", "--num-concurrency", "4",
                  "--max-requests-per-run", "100000", "--max-time-per-run", "1")
    process.wait_for(WORKERS_LINE)
    workers = worker_processes(process.pid)
    process.proc.kill()
    assert_gone(workers)


def test_bad_worker_settings_are_one_line_errors(tmp_path, run_cli):
    result = run_cli("benchmark", "--num-workers", "-1", timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: --num-workers must be 0")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("benchmark", "--num-workers", "2", "--master-port", str(port), timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"Error: --master-port {port} on 127.0.0.1 is not available")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "experiments").exists()


def test_a_worker_dying_mid_run_is_reported_and_the_sweep_goes_on(tmp_path, start_simulator, worker_sessions):
    server = start_simulator(ttft_ms=20.0, itl_ms=2.0)
    session = worker_sessions(server, concurrencies=[4, 2], max_time_per_run=1.5 / 60)
    session.start()
    doomed = worker_processes(os.getpid())[1]
    gevent.spawn_later(0.7, doomed.send_signal, signal.SIGKILL)
    outcome = session.run(handle_signals=False)
    first, second = outcome.results
    assert first.statistics.num_completed_requests > 0 and second.statistics.num_completed_requests > 0
    assert all(m.record.ok for m in second.requests)  # the survivor carries the next run alone
    events = [json.loads(line) for line in (tmp_path / "exp" / "events.ndjson").read_text().splitlines()]
    errors = [e["data"]["message"] for e in events if e["event_type"] == "log" and e["data"].get("level") == "error"]
    assert any("exited unexpectedly" in message for message in errors), errors


def test_every_message_has_its_own_name_and_survives_the_wire():
    """Each message type is told apart by its Locust name and comes back equal from its data (as msgpack sends it)."""
    from genai_bench.distributed import messages

    kinds = [k for k in vars(messages).values() if isinstance(k, type) and "name" in vars(k)]
    assert len({kind.name for kind in kinds}) == len(kinds) == 15
    assert all(kind.name.startswith("genai_bench:") for kind in kinds)
    sample = messages.Done(run=3, records=[[1.0, 2.0]], issued=5, aborted=1, client={"saturated": False})
    assert messages.Done.from_dict(json.loads(json.dumps(sample.to_dict()))) == sample


def test_turns_on_workers_keep_session_ids_unique_and_the_budget_exact(start_simulator, worker_sessions):
    server = start_simulator(ttft_ms=5.0, itl_ms=1.0)
    session = worker_sessions(server, turns=3, max_requests_per_run=14, max_time_per_run=1.0)
    result = session.run(handle_signals=False).results[0]
    assert len(result.requests) == 14 and all(m.record.ok for m in result.requests)
    sessions: dict[str, list[int]] = {}
    for m in sorted(result.requests, key=lambda m: m.record.start):
        sessions.setdefault(m.record.session_id, []).append(m.record.turn)
    assert {session_id.split("-")[0] for session_id in sessions} == {"w0", "w1"}
    assert all(turns == list(range(1, len(turns) + 1)) and len(turns) <= 3 for turns in sessions.values())
    assert set(result.statistics.stats_by_turn) == {"1", "2", "3"}


def test_the_clock_offset_comes_from_the_shortest_round_trip():
    """NTP-style: the worker's clock minus the midpoint of the master's send and receive; queueing only ever
    lengthens a round trip, so the shortest one is the most accurate."""
    from genai_bench.distributed.clock import ClockSync
    from genai_bench.distributed.messages import Pong

    sync = ClockSync(rounds=3)
    skew, wall_skew = 1000.0, -2.5
    # (sent, worker reading after the one-way delay out, received after the delay back): delays 5+15, 1+1, 30+2 ms
    for sent, out, back in ((10.0, 0.005, 0.015), (11.0, 0.001, 0.001), (12.0, 0.030, 0.002)):
        ping = sync.ping(sent, sent + 100)
        pong = Pong(ping.seq, ping.sent, ping.sent_wall, sent + out + skew, sent + 100 + out + wall_skew)
        assert sync.on_pong(pong, sent + out + back, sent + 100 + out + back)
        assert not sync.on_pong(pong, sent + out + back, sent + 100 + out + back)  # a duplicate is ignored
    assert sync.done.is_set()
    best = sync.best
    assert best.round_trip == pytest.approx(0.002)
    assert best.offset == pytest.approx(skew) and best.wall_offset == pytest.approx(wall_skew)
    assert best.to_dict()["uncertainty"] == pytest.approx(0.001)


def test_a_shifted_record_keeps_its_durations():
    record = RequestRecord("D(20,10)", 8, 20, 10, start=5001.5, first_token=5001.75, end=5002.0,
                           chunk_times=array("d", [5001.75, 5002.0]), num_output_tokens=2, status_code=200,
                           scheduled_start=5001.25, first_answer=5001.875)
    record.shift(-5000.0)
    assert (record.start, record.first_token, record.end, record.scheduled_start, record.first_answer) == \
        (1.5, 1.75, 2.0, 1.25, 1.875)
    assert list(record.chunk_times) == [1.75, 2.0]


def test_small_dataset_and_tokenizer_files_travel_and_folders_are_read_by_path(tmp_path):
    from genai_bench.distributed.payload import pack, unpack

    dataset, tokenizer = tmp_path / "prompts.jsonl", tmp_path / "tok"
    dataset.write_text('{"prompt": "hello"}\n')
    tokenizer.mkdir()
    (tokenizer / "tokenizer.json").write_text('{"version": "1.0"}')
    settings = {"target": {}, "model_tokenizer": str(tokenizer), "seed": 1, "scenarios": [],
                "workload": {"dataset": {"path": str(dataset), "type": "file", "image_column": None}}}
    sent, files, notes = pack(settings)
    assert set(files) == {"dataset", "tokenizer.json"} and notes == []
    there = tmp_path / "worker"
    there.mkdir()
    received = unpack(sent, files, there)
    assert received["workload"]["dataset"]["path"] == str(there / "prompts.jsonl")
    assert (there / "prompts.jsonl").read_text() == '{"prompt": "hello"}\n'
    assert received["model_tokenizer"] == str(there / "tokenizer.json")

    hub = {**settings, "model_tokenizer": "org/model",
           "workload": {"dataset": {"path": "org/data", "type": "huggingface", "image_column": None}}}
    _, files, notes = pack(hub)
    assert files == {} and len(notes) == 2 and "read by each worker" in notes[0] and "org/model" in notes[1]
