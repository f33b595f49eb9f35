"""Embeddings client cost: requests/s and client CPU per request of text-to-embeddings runs at several batch sizes.

The simulator runs with zero delays in its own process; the client is a real BenchmarkSession in this process
(closed loop, one user, like upstream's batch-size sweep). Both share this machine's cores.

    python benchmarks/embeddings.py [--batch-size 1 8 32] [--scenario "E(256)"] [--seconds 10] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import os
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


def run_batch(url: str, scenario: str, batch_size: int, concurrency: int, seconds: float, folder: Path) -> dict:
    """One run of `batch_size` inputs per request; its rates and this process's CPU per request."""
    config = BenchmarkConfig(api_base=url, task="text-to-embeddings", traffic_scenarios=[parse_scenario(scenario)],
                             batch_sizes=[batch_size], concurrencies=[concurrency], max_requests_per_run=10_000_000,
                             max_time_per_run=seconds / 60.0, experiment_base_dir=str(folder),
                             experiment_folder_name=f"{time.monotonic_ns()}", seed=1)
    session = BenchmarkSession(config)
    me = psutil.Process()
    before = me.cpu_times()
    stats = session.run(handle_signals=False).results[0].statistics
    after = me.cpu_times()
    session.close()
    cpu = (after.user - before.user) + (after.system - before.system)
    return {"scenario": scenario, "batch_size": batch_size, "completed": stats.num_completed_requests,
            "errors": stats.num_error_requests, "requests_per_second": stats.requests_per_second,
            "inputs_per_second": stats.inputs_per_second,
            "client_cpu_ms_per_request": 1000.0 * cpu / max(stats.num_requests, 1),
            "client_cpu_percent": 100.0 * cpu / max(stats.run_duration, 1e-9)}


def main() -> None:
    """Run each batch size against a zero-delay simulator and print one line per run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--scenario", default="E(256)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    configure_logging()
    simulator, url = start_simulator("--embedding-base-ms", "0", "--embedding-ms-per-token", "0", "--spin-ms", "0")
    server = psutil.Process(simulator.pid)
    print(f"{os.cpu_count()} CPUs (shared with other work); simulator in its own process, zero delays")
    print(f"{'scenario':8} {'batch':>5} {'req/s':>9} {'inputs/s':>10} {'client CPU ms/req':>18} {'client CPU %':>13} "
          f"{'simulator CPU %':>16} {'errors':>6}")
    try:
        with TemporaryDirectory() as folder:
            for batch_size in args.batch_size:
                server.cpu_percent()
                row = run_batch(url, args.scenario, batch_size, args.concurrency, args.seconds, Path(folder))
                print(f"{row['scenario']:8} {batch_size:>5} {row['requests_per_second']:>9.1f} "
                      f"{row['inputs_per_second']:>10.1f} {row['client_cpu_ms_per_request']:>18.3f} "
                      f"{row['client_cpu_percent']:>13.1f} {server.cpu_percent():>16.1f} {row['errors']:>6}")
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)


if __name__ == "__main__":
    main()
