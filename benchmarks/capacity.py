"""Client capacity: how many streamed requests and tokens per second genai-bench's client sustains, and its cost.

The simulator runs with zero delays in its own process; the client is a real BenchmarkSession in this process.
Per scenario and concurrency: completed requests/s, streamed output tokens/s, client CPU-seconds per 1000
requests, and the simulator's CPU (both share this machine's cores, so the client never has it to itself).

    python benchmarks/capacity.py [--concurrency 1 8 64 256 512] [--scenario "D(100,100)" "D(1000,50)"] [--seconds 10]
"""

from __future__ import annotations

import argparse
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


def run_client(url: str, scenario: str, concurrency: int, seconds: float, folder: Path) -> dict:
    """One closed-loop run of the real client; its throughput and this process's CPU over the run."""
    config = BenchmarkConfig(api_base=url, traffic_scenarios=[parse_scenario(scenario)], concurrencies=[concurrency],
                             max_requests_per_run=10_000_000, max_time_per_run=seconds / 60.0,
                             experiment_base_dir=str(folder), experiment_folder_name=f"{time.monotonic_ns()}", seed=1)
    session = BenchmarkSession(config)
    me = psutil.Process()
    before = me.cpu_times()
    result = session.run(handle_signals=False).results[0]
    after = me.cpu_times()
    session.close()
    cpu = (after.user - before.user) + (after.system - before.system)
    stats = result.statistics
    return {"scenario": scenario, "concurrency": concurrency, "completed": stats.num_completed_requests,
            "errors": stats.num_error_requests, "requests_per_second": stats.requests_per_second,
            "output_tokens_per_second": stats.mean_output_throughput_tokens_per_s,
            "client_cpu_seconds_per_1000_requests": 1000.0 * cpu / max(stats.num_requests, 1),
            "client_cpu_percent": 100.0 * cpu / max(stats.run_duration, 1e-9),
            "output_tokens_per_client_cpu_second": stats.total_output_tokens / cpu if cpu else float("nan"),
            "client_saturated": stats.client_saturated}


def capacity(scenarios: list[str], concurrencies: list[int], seconds: float) -> list[dict]:
    """Every scenario × concurrency against a zero-delay simulator."""
    simulator, url = start_simulator("--ttft-ms", "0", "--itl-ms", "0", "--spin-ms", "0")
    server = psutil.Process(simulator.pid)
    rows = []
    try:
        with TemporaryDirectory() as folder:
            for scenario in scenarios:
                for concurrency in concurrencies:
                    server.cpu_percent()
                    row = run_client(url, scenario, concurrency, seconds, Path(folder))
                    row["simulator_cpu_percent"] = server.cpu_percent()
                    rows.append(row)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    return rows


def print_capacity(rows: list[dict]) -> None:
    """The rows as a table."""
    print(f"{'scenario':>11} {'conc':>5} {'req/s':>8} {'out tok/s':>10} {'CPU-s/1k req':>12} {'client CPU':>10} "
          f"{'sim CPU':>8} {'tok/CPU-s':>10} {'saturated':>9}")
    for r in rows:
        print(f"{r['scenario']:>11} {r['concurrency']:>5} {r['requests_per_second']:>8.1f} "
              f"{r['output_tokens_per_second']:>10.0f} {r['client_cpu_seconds_per_1000_requests']:>12.3f} "
              f"{r['client_cpu_percent']:>9.0f}% {r['simulator_cpu_percent']:>7.0f}% "
              f"{r['output_tokens_per_client_cpu_second']:>10.0f} {str(r['client_saturated']):>9}")


def main() -> None:
    """Run the capacity sweep and print it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", nargs="+", default=["D(100,100)", "D(1000,50)"])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64, 256, 512])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    configure_logging()
    print_capacity(capacity(args.scenario, args.concurrency, args.seconds))


if __name__ == "__main__":
    main()
