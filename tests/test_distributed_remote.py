"""--distributed: a master waiting for `genai-bench worker` processes started on their own, joining over TCP (on
127.0.0.1, and from another network namespace where this machine allows creating one)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess

import pytest

from genai_bench.results import load_experiment
from genai_bench.simulator import SimulatorConfig, SimulatorServer
from tests.support.processes import genai_bench_command

pytestmark = pytest.mark.slow

WAITING = r"^Waiting for (\d+) worker\(s\) at ([\d.]+):(\d+): start each with"
SKEW = 3600.0  # a worker pretending its clocks run an hour ahead


def start_master(cli, *args: str):
    """`benchmark --distributed ...` with a free master port; the child and its port."""
    process = cli("benchmark", "--distributed", "--master-port", "0", "--experiment-folder-name", "exp", *args)
    port = process.wait_for(WAITING, timeout=60).group(3)
    return process, port


def start_worker(child_processes, port: str, *extra: str, host: str = "127.0.0.1", prefix: tuple = ()):
    """A `genai-bench worker` joining the master at host:port, as a user would start it on another machine."""
    command = [*prefix, *genai_bench_command("worker", "--master-host", host, "--master-port", port, *extra)]
    worker = child_processes(command)
    worker.wait_for(r"joined the master at .* as worker \d", timeout=60)
    return worker


def run_files(folder) -> list[dict]:
    metadata = json.loads((folder / "experiment_metadata.json").read_text())
    return [json.loads((folder / name).read_text()) for name in metadata["run_files"]]


def shape(run: dict) -> tuple:
    """A run file's keys: top level, aggregated metrics, and one request's."""
    return set(run), set(run["aggregated_metrics"]), set(run["individual_request_metrics"][0])


def test_two_remote_workers_record_exactly_the_limit_in_the_local_shape_on_the_masters_clock(
        tmp_path, cli, child_processes, start_simulator, finished_experiment):
    server = start_simulator(ttft_ms=20.0, itl_ms=2.0)
    dataset = tmp_path / "prompts.jsonl"
    dataset.write_text("".join(json.dumps({"prompt": f"Tell me about topic number {i}."}) + "\n" for i in range(40)))
    master, port = start_master(cli, "--api-base", server.url, "--expect-workers", "2", "--num-concurrency", "1,5",
                                "--traffic-scenario", "D(20,10)", "--max-requests-per-run", "23",
                                "--max-time-per-run", "1", "--seed", "3", "--dataset-path", str(dataset))
    dataset.unlink()  # read by the master already: the workers can only have it from the master
    workers = [start_worker(child_processes, port), start_worker(child_processes, port, "--clock-skew-test", str(SKEW))]
    assert master.wait_exit(timeout=90) == 0, master.output
    assert [w.wait_exit(timeout=30) for w in workers] == [0, 0], [w.output for w in workers]

    folder = tmp_path / "experiments" / "exp"
    experiment = load_experiment(folder)
    assert experiment.partial_reasons == []
    local = run_files(finished_experiment)[0]
    for run, document in zip(run_files(folder), experiment.runs):
        assert shape(run) == shape(local)
        points = document.requests()
        assert points["total"] == 23 and document.lost_requests == 0
        # Both workers' requests on one clock: the skewed worker's would start an hour apart from the other's.
        assert max(p["t"] for p in points["requests"]) < 30
    cluster = experiment.metadata["cluster"]
    assert cluster["mode"] == "distributed" and len(cluster["workers"]) == 2
    offsets = sorted(w["wall_clock_offset"] for w in cluster["workers"])
    assert offsets[0] == pytest.approx(0.0, abs=0.05) and offsets[1] == pytest.approx(SKEW, abs=0.05)
    assert all(0 < w["uncertainty"] < 0.05 for w in cluster["workers"])
    assert all(abs(w["clock_drift"]) < 0.01 for w in cluster["workers"])  # re-measured before each run: one host
    assert master.output.count(" joined: wall clock ") == 2


def test_a_worker_killed_mid_run_is_reported_and_its_requests_counted_lost(tmp_path, cli, child_processes,
                                                                           start_simulator):
    server = start_simulator(ttft_ms=300.0, itl_ms=20.0)
    master, port = start_master(cli, "--api-base", server.url, "--expect-workers", "2", "--num-concurrency", "8",
                                "--traffic-scenario", "D(20,10)", "--max-requests-per-run", "100000",
                                "--max-time-per-run", "0.3")
    workers = [start_worker(child_processes, port) for _ in range(2)]
    master.wait_for(r"\[run 1/1\].*requests", timeout=30)
    workers[1].proc.send_signal(signal.SIGKILL)
    line = master.wait_for(r"error: Locust worker (\d) .*exited unexpectedly \(no heartbeat.*; (\d+) request\(s\) it "
                           r"issued in this run were never recorded \(counted as lost\)", timeout=30)
    assert master.wait_exit(timeout=60) == 0, master.output
    assert workers[0].wait_exit(timeout=30) == 0

    experiment = load_experiment(tmp_path / "experiments" / "exp")
    run = experiment.runs[0]
    assert run.lost_requests == int(line.group(2)) > 0  # 4 users on the dead worker had requests in flight
    assert any("lost" in reason and "worker that died" in reason for reason in experiment.partial_reasons)
    dead = [w for w in experiment.metadata["cluster"]["workers"] if w["lost"]]
    assert len(dead) == 1 and dead[0]["lost_requests"] == run.lost_requests
    assert experiment.metadata["cluster"]["lost_requests"] == run.lost_requests
    assert run.requests()["total"] > 0  # the survivor's requests are all there
    events = [json.loads(x) for x in (tmp_path / "experiments" / "exp" / "events.ndjson").read_text().splitlines()]
    assert any(e["event_type"] == "log" and "counted as lost" in e["data"]["message"] for e in events)


def test_the_master_gives_up_in_one_line_when_too_few_workers_join(tmp_path, cli, child_processes):
    master, port = start_master(cli, "--expect-workers", "2", "--expect-workers-max-wait", "20")
    worker = start_worker(child_processes, port)
    assert master.wait_exit(timeout=30) == 2
    errors = [line for line in master.lines if line.startswith("Error:")]
    assert errors == [f"Error: --expect-workers 2: only 1 worker(s) joined the master at 127.0.0.1:{port} within 20 s "
                      "(--expect-workers-max-wait)"], master.output
    assert "Traceback" not in master.output
    assert worker.wait_exit(timeout=30) == 0  # told to quit by the master
    assert not (tmp_path / "experiments").exists()


def test_a_worker_refused_or_with_no_master_says_so_in_one_line(tmp_path, cli, child_processes, run_cli):
    master, port = start_master(cli, "--expect-workers", "1", "--max-requests-per-run", "100000",
                                "--max-time-per-run", "0.5")
    start_worker(child_processes, port)
    extra = run_cli("worker", "--master-port", port, timeout=60)
    assert extra.returncode == 2 and "refused this worker: this benchmark has its 1 worker(s) already" in extra.stderr
    master.proc.send_signal(signal.SIGINT)
    assert master.wait_exit(timeout=60) == 130
    bad = run_cli("worker", "--master-port", "0", timeout=60)
    assert bad.returncode == 2 and bad.stderr == "Error: --master-port must be the master's port (1 to 65535), got 0\n"


# Separate network namespaces: the worker has its own interfaces, reaching the master only over a veth pair.

@pytest.fixture
def network_namespace():
    """A namespace joined to this one by a veth pair (10.x.y.1 here, 10.x.y.2 there); deleted at teardown."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (CAP_NET_ADMIN)")
    if shutil.which("ip") is None:
        pytest.skip("no `ip` command (Debian's iproute2)")
    tag = os.getpid() % 60000
    name, here, there = f"gbns{tag}", f"gbv{tag}a", f"gbv{tag}b"
    subnet = f"10.{200 + tag % 50}.{tag // 50 % 250}"
    steps = [["ip", "netns", "add", name], ["ip", "link", "add", here, "type", "veth", "peer", "name", there],
             ["ip", "link", "set", there, "netns", name], ["ip", "addr", "add", f"{subnet}.1/24", "dev", here],
             ["ip", "link", "set", here, "up"],
             ["ip", "netns", "exec", name, "ip", "addr", "add", f"{subnet}.2/24", "dev", there],
             ["ip", "netns", "exec", name, "ip", "link", "set", there, "up"],
             ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"]]
    try:
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode != 0:
                pytest.skip(f"this machine refuses `{' '.join(step)}`: {done.stderr.strip()}")
        yield name, f"{subnet}.1"
    finally:
        subprocess.run(["ip", "link", "del", here], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_a_worker_in_another_network_namespace_joins_over_a_veth_pair(tmp_path, cli, child_processes,
                                                                      network_namespace):
    namespace, address = network_namespace
    server = SimulatorServer(SimulatorConfig(ttft_ms=10.0, itl_ms=1.0), host=address).start()
    try:
        master, port = start_master(cli, "--api-base", server.url, "--expect-workers", "2", "--master-bind-host",
                                    address, "--num-concurrency", "4", "--traffic-scenario", "D(20,10)",
                                    "--max-requests-per-run", "31", "--max-time-per-run", "1")
        start_worker(child_processes, port, host=address)
        start_worker(child_processes, port, host=address, prefix=("ip", "netns", "exec", namespace))
        assert master.wait_exit(timeout=90) == 0, master.output
    finally:
        server.stop()
    experiment = load_experiment(tmp_path / "experiments" / "exp")
    assert experiment.partial_reasons == [] and experiment.runs[0].requests()["total"] == 31
    workers = experiment.metadata["cluster"]["workers"]
    assert len(workers) == 2 and all(w["uncertainty"] < 0.05 for w in workers)
    assert experiment.metadata["cluster"]["master"] == f"{address}:{port}"


def test_a_dataset_folder_is_read_by_each_worker_and_one_missing_there_stops_the_master_in_one_line(
        tmp_path, cli, child_processes):
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "saved"
    datasets.Dataset.from_dict({"prompt": [f"Question {i}?" for i in range(20)]}).save_to_disk(str(folder))
    master, port = start_master(cli, "--expect-workers", "1", "--dataset-path", str(folder))
    master.wait_for(rf"^Note: the dataset {folder} is read by each worker", timeout=10)
    shutil.rmtree(folder)  # as on a worker host that lacks it
    worker = child_processes(genai_bench_command("worker", "--master-port", port))
    assert worker.wait_exit(timeout=60) == 2
    assert master.wait_exit(timeout=60) == 2
    errors = [line for line in master.lines if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith("Error: worker 0 (") and \
        "cannot run this benchmark: " in errors[0] and str(folder) in errors[0], master.output
    assert "cannot run the benchmark here: " in worker.output and "Traceback" not in master.output + worker.output


def test_ctrl_c_on_the_only_worker_ends_the_run_at_once_and_the_next_in_one_line(tmp_path, cli, child_processes,
                                                                                 start_simulator):
    server = start_simulator(ttft_ms=100.0, itl_ms=10.0)
    master, port = start_master(cli, "--api-base", server.url, "--expect-workers", "1", "--num-concurrency", "2,4",
                                "--traffic-scenario", "D(20,10)", "--max-requests-per-run", "100000",
                                "--max-time-per-run", "1")
    worker = start_worker(child_processes, port)
    master.wait_for(r"\[run 1/2\].*requests", timeout=30)
    worker.proc.send_signal(signal.SIGINT)
    assert worker.wait_exit(timeout=30) == 130 and "interrupted; leaving the master" in worker.output
    master.wait_for(r"error: Locust worker 0 .*\(it left the master: its process was interrupted\); \d+ request",
                    timeout=10)
    assert master.wait_exit(timeout=30) == 2  # well before the run's minute is up
    errors = [line for line in master.lines if line.startswith("Error:")]
    assert errors == ["Error: no Locust worker is left: every worker has exited or been lost (see the errors above); "
                      "the experiment folder keeps what was measured, marked partial"], master.output
    experiment = load_experiment(tmp_path / "experiments" / "exp")
    assert "the benchmark was interrupted before it finished" in experiment.partial_reasons
    assert len(experiment.runs) == 1 and experiment.runs[0].requests()["total"] > 0


def test_open_loop_over_remote_workers_keeps_one_schedule_across_skewed_clocks(tmp_path, child_processes,
                                                                               start_simulator):
    # 21 requests due 50 ms apart over two workers, one of whose clocks reads an hour ahead: the master hands each
    # the first send time in its own clock, and moves their records back onto its own, so the whole run's send
    # times interleave exactly as one process's would (up to the offset estimate's error, well under a millisecond).
    from genai_bench.cluster import ClusterSettings
    from genai_bench.config import BenchmarkConfig
    from genai_bench.scenarios import parse_scenario
    from genai_bench.session import BenchmarkSession

    server = start_simulator(ttft_ms=5.0, itl_ms=1.0)
    config = BenchmarkConfig(api_base=server.url, traffic_scenarios=[parse_scenario("D(20,10)")], request_rates=[20.0],
                             arrival="constant", max_concurrency=4, max_requests_per_run=21, max_time_per_run=1.0,
                             experiment_base_dir=str(tmp_path), experiment_folder_name="exp", seed=5, num_workers=2,
                             cluster=ClusterSettings(distributed=True, expect_workers=2))
    session = BenchmarkSession(config)

    def start_workers(line: str) -> None:
        if (match := re.match(WAITING, line)):
            for extra in ((), ("--clock-skew-test", str(SKEW))):
                child_processes(genai_bench_command("worker", "--master-port", match.group(3), *extra))

    session.announce = start_workers
    try:
        result = session.run(handle_signals=False).results[0]
    finally:
        session.close()
    assert len(result.requests) == 21 and all(m.record.ok for m in result.requests)
    scheduled = sorted(m.record.scheduled_start for m in result.requests)
    assert [b - a for a, b in zip(scheduled, scheduled[1:])] == pytest.approx([0.05] * 20, abs=0.002)
    assert result.statistics.stats["schedule_lag"]["p50"] < 0.05
    assert sorted(w["worker"] for w in result.statistics.client["workers"]) == [0, 1]
