"""Scale-out: one process vs `--num-workers 1` vs `--num-workers 2`, interleaved, against a zero-delay simulator.

Each run is a real BenchmarkSession in this process (with N Locust worker processes under its master when N > 0),
closed loop, one scenario and concurrency, time-limited. Per mode: completed req/s, output tokens/s, and the CPU of
the master (this process) and of the workers (their whole lives from getrusage once they have exited, minus what
they had used when the run started: the run and their shutdown), as % of one core over the run and as CPU-seconds
per 1000 requests. The simulator runs in its own process throughout.

    python benchmarks/workers.py [--concurrency 128] [--seconds 15] [--rounds 3] [--scenario "D(100,100)"]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import genai_bench  # noqa: F401  (gevent patch first)
import psutil

from genai_bench.cli import configure_logging
from genai_bench.config import BenchmarkConfig
from genai_bench.scenarios import parse_scenario
from genai_bench.session import BenchmarkSession

from common import start_simulator

MODES = (0, 1, 2)


def live_workers_cpu() -> float:
    """CPU-seconds used so far by our live Locust worker processes (the simulator, also a child, is not one)."""
    used = 0.0
    for child in psutil.Process().children():
        if "worker" in child.cmdline():
            times = child.cpu_times()
            used += times.user + times.system
    return used


def exited_children_cpu() -> float:
    """CPU-seconds of every child process that has exited and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_mode(url: str, workers: int, scenario: str, concurrency: int, seconds: float, folder: Path) -> dict:
    """One time-limited run with `workers` Locust worker processes (0: users in this process)."""
    config = BenchmarkConfig(api_base=url, traffic_scenarios=[parse_scenario(scenario)], concurrencies=[concurrency],
                             max_requests_per_run=10_000_000, max_time_per_run=seconds / 60.0, num_workers=workers,
                             experiment_base_dir=str(folder), experiment_folder_name=f"w{workers}_{time.monotonic_ns()}",
                             seed=1)
    me = psutil.Process()
    session = BenchmarkSession(config)
    session.start()  # workers connect before the clock starts
    exited_before = exited_children_cpu()
    before, workers_at_start = me.cpu_times(), live_workers_cpu()
    result = session.run(handle_signals=False).results[0]
    after = me.cpu_times()
    session.close()  # the workers exit and are waited for by now
    stats = result.statistics
    master = (after.user - before.user) + (after.system - before.system)
    worker_cpu = exited_children_cpu() - exited_before - workers_at_start
    duration = max(stats.run_duration, 1e-9)
    requests = max(stats.num_requests, 1)
    return {"workers": workers, "requests_per_second": stats.requests_per_second,
            "output_tokens_per_second": stats.mean_output_throughput_tokens_per_s,
            "master_cpu_percent": 100.0 * master / duration, "workers_cpu_percent": 100.0 * worker_cpu / duration,
            "cpu_seconds_per_1000_requests": 1000.0 * (master + worker_cpu) / requests}


def sweep(args: argparse.Namespace) -> list[dict]:
    """Every mode once per round, interleaved, against one zero-delay simulator; the median per mode."""
    simulator, url = start_simulator("--ttft-ms", "0", "--itl-ms", "0", "--spin-ms", "0")
    server = psutil.Process(simulator.pid)
    runs: dict[int, list[dict]] = {mode: [] for mode in MODES}
    try:
        with TemporaryDirectory() as folder:
            for round_index in range(args.rounds):
                for mode in MODES:
                    server.cpu_percent()
                    row = run_mode(url, mode, args.scenario, args.concurrency, args.seconds, Path(folder))
                    row["simulator_cpu_percent"] = server.cpu_percent()
                    runs[mode].append(row)
                    print(f"[round {round_index + 1}/{args.rounds}] workers={mode}: "
                          f"{row['requests_per_second']:.0f} req/s", flush=True)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    return [{key: statistics.median(r[key] for r in runs[mode]) for key in runs[mode][0]} for mode in MODES]


def main() -> None:
    """Run the comparison and print the table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="D(100,100)")
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = parser.parse_args()
    configure_logging()
    rows = sweep(args)
    print(f"\n{args.scenario} at concurrency {args.concurrency}, zero-delay simulator, median of {args.rounds} "
          f"interleaved rounds of {args.seconds:g} s; CPU is % of one core")
    print(f"{'mode':>12} {'req/s':>8} {'out tok/s':>10} {'master CPU':>11} {'workers CPU':>12} "
          f"{'CPU-s/1k req':>13} {'sim CPU':>8}")
    for row in rows:
        mode = "one process" if row["workers"] == 0 else f"{row['workers']:g} worker(s)"
        print(f"{mode:>12} {row['requests_per_second']:8.0f} {row['output_tokens_per_second']:10.0f} "
              f"{row['master_cpu_percent']:10.0f}% {row['workers_cpu_percent']:11.0f}% "
              f"{row['cpu_seconds_per_1000_requests']:13.2f} {row['simulator_cpu_percent']:7.0f}%")
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
