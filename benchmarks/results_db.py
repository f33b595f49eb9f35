"""What --results-db and /metrics cost the benchmark: client CPU per request with the database on and off, and the
exporter's cost per request on the hot path and when folded.

1. Interleaved rounds of the same closed-loop sweep (two runs, so that the first run's write overlaps the second
   run) against a simulator in its own process: --results-db off, SQLite (--results-db-requests all) and, with
   --postgres-url, PostgreSQL. This process's CPU (every thread: the writer's too) per request over the runs'
   window (first run's start to last run's end), the whole session's CPU (connect, migrate, the last writes
   included) and the TTFT p99 error.
2. The /metrics exporter: CPU per request of its request_finished listener (the hot path) and of folding the
   records into the counters and histograms (on the live timer).

    python benchmarks/results_db.py [--concurrency 32] [--rounds 5] [--postgres-url postgresql://...]
"""

from __future__ import annotations

import argparse
import sys
import time
from array import array
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout, before an installed copy
import genai_bench  # noqa: E402,F401  (gevent patch first)
import numpy as np
import psutil
from prometheus_client import generate_latest

from genai_bench.cli import configure_logging
from genai_bench.config import BenchmarkConfig
from genai_bench.exporter import LiveMetricsExporter
from genai_bench.hooks import SweepHooks
from genai_bench.live_events import PlannedRun
from genai_bench.protocol import RequestRecord
from genai_bench.scenarios import parse_scenario
from genai_bench.session import BenchmarkSession

from common import interleaved_medians, start_simulator

TTFT_MS = 50.0


def measure(url: str, concurrency: int, requests: int, folder: Path, database: str | None) -> dict:
    """One sweep of two runs; CPU ms per request (whole process, the database writer's thread included)."""
    config = BenchmarkConfig(api_base=url, traffic_scenarios=[parse_scenario("D(100,50)")],
                             concurrencies=[concurrency, concurrency], max_requests_per_run=requests,
                             max_time_per_run=2.0, experiment_base_dir=str(folder),
                             experiment_folder_name=f"r-{time.time_ns()}", seed=1, server_metrics=("off",),
                             results_db=database, results_db_requests="all")
    session = BenchmarkSession(config)
    me = psutil.Process()
    marks: dict[str, float] = {}

    def cpu() -> float:
        times = me.cpu_times()
        return times.user + times.system

    # The runs' window: from the first run's start to the last run's end (the first run's write overlaps the second).
    session.hooks.run_started.add_listener(lambda **_: marks.setdefault("runs", cpu()))
    session.hooks.run_finished.add_listener(lambda **_: marks.__setitem__("runs_end", cpu()))
    before = cpu()
    results = session.run(handle_signals=False).results
    whole = cpu() - before
    session.close()
    records = [m for result in results for m in result.requests]
    ttfts = np.array([m.ttft for m in records if m.record.ok])
    written = session.results_db.written_runs if session.results_db else 0
    return {"cpu_us_per_request": 1e6 * (marks["runs_end"] - marks["runs"]) / len(records),
            "session_cpu_ms": 1000 * whole, "ttft_p99_error_ms": np.percentile(ttfts, 99) * 1000 - TTFT_MS,
            "runs_written": written}


def exporter_costs(n: int = 20000) -> dict:
    """µs per request of the exporter's hot-path listener, and of its fold (a 16-chunk streamed answer)."""
    hooks = SweepHooks()
    exporter = LiveMetricsExporter("bench", slo={"ttft": 0.2})
    exporter.attach(hooks)
    hooks.run_started.fire(run=PlannedRun("D(100,50)", 8, None, 1, 1, "k", 60.0, None), start_time=0.0)
    chunks = array("d", [0.05 + 0.01 * i for i in range(16)])
    records = [RequestRecord("D(100,50)", 8, 100, 50, start=0.0, first_token=0.05, end=0.2, chunk_times=chunks,
                             num_output_tokens=50, status_code=200) for _ in range(n)]
    before = time.process_time()
    for record in records:
        exporter.on_request_finished(record=record, completed=1, errors=0, total=1)
    listener = time.process_time() - before
    before = time.process_time()
    exporter.drain()
    fold = time.process_time() - before
    before = time.process_time()
    scrape = len(generate_latest(exporter.registry))
    return {"listener_us": 1e6 * listener / n, "fold_us": 1e6 * fold / n,
            "scrape_ms": 1000 * (time.process_time() - before), "scrape_bytes": scrape}


def main() -> None:
    """Print the interleaved medians and the exporter's costs."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests-per-user", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres-url", default=None, help="Also measure this PostgreSQL database.")
    args = parser.parse_args()
    configure_logging()
    costs = exporter_costs()
    print(f"/metrics exporter: {costs['listener_us']:.3f} µs per request on the hot path (request_finished), "
          f"{costs['fold_us']:.2f} µs per request folded on the timer; a scrape {costs['scrape_ms']:.2f} ms CPU "
          f"({costs['scrape_bytes']} bytes)")
    process, url = start_simulator("--ttft-ms", str(TTFT_MS), "--itl-ms", "5", "--seed", "1")
    try:
        with TemporaryDirectory() as folder:
            databases = {"off": None, "sqlite": f"sqlite:///{folder}/results.db"}
            if args.postgres_url:
                databases["postgres"] = args.postgres_url
            medians = interleaved_medians(list(databases), args.rounds, lambda mode: measure(
                url, args.concurrency, args.concurrency * args.requests_per_user, Path(folder), databases[mode]))
    finally:
        process.kill()
    print(f"\nconcurrency {args.concurrency}, 2 runs x {args.concurrency * args.requests_per_user} requests per "
          f"sweep, {args.rounds} interleaved rounds, medians (--results-db-requests all):")
    print(f"{'mode':<9} {'CPU µs/request (runs)':>22} {'session CPU ms':>15} {'TTFT p99 err ms':>16} "
          f"{'runs written':>13}")
    for mode, row in medians.items():
        print(f"{mode:<9} {row['cpu_us_per_request']:>22.1f} {row['session_cpu_ms']:>15.0f} "
              f"{row['ttft_p99_error_ms']:>16.2f} {row['runs_written']:>13.0f}")


if __name__ == "__main__":
    main()
