"""What scraping the server's /metrics costs the benchmark: CPU per scrape, and timing fidelity with it on and off.

1. CPU per scrape: reading a vLLM-sized /metrics page (a few hundred lines, mostly histogram buckets) into the
   vocabulary, and a whole scrape of the simulator's /metrics over HTTP (this process's CPU time, averaged).
2. Fidelity: closed-loop runs against a simulator with a fixed TTFT (its own process), --server-metrics off and at
   the given interval, interleaved round by round (a shared machine's load falls on both alike); the medians of
   each mode's TTFT p50/p99 error (measured minus configured) and client CPU.

    python benchmarks/server_metrics.py [--concurrency 64] [--rounds 5] [--interval 1.0] [--ttft-ms 50]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout, before an installed copy
import genai_bench  # noqa: E402,F401  (gevent patch first)
import numpy as np

from genai_bench.cli import configure_logging
from genai_bench.config import BenchmarkConfig
from genai_bench.hooks import SweepHooks
from genai_bench.scenarios import parse_scenario
from genai_bench.servermetrics import Reader, ServerMetrics, parse_samples

from common import interleaved_medians, start_simulator, timed_session


def vllm_page(buckets: int = 20, histograms: int = 14) -> str:
    """A /metrics page shaped like vLLM's: its gauges and counters, and `histograms` histograms of `buckets` buckets."""
    label = 'engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"'
    lines = []
    for name, kind, value in (("vllm:num_requests_running", "gauge", 12), ("vllm:num_requests_waiting", "gauge", 3),
                              ("vllm:kv_cache_usage_perc", "gauge", 0.4), ("vllm:generation_tokens_total", "counter", 9e5),
                              ("vllm:prompt_tokens_total", "counter", 2e6), ("vllm:num_preemptions_total", "counter", 4),
                              ("vllm:prefix_cache_queries_total", "counter", 1e6),
                              ("vllm:prefix_cache_hits_total", "counter", 4e5)):
        lines += [f"# HELP {name} A figure.", f"# TYPE {name} {kind}", f"{name}{{{label}}} {value}"]
    for h in range(histograms):
        name = f"vllm:histogram_{h}_seconds"
        lines += [f"# HELP {name} A histogram.", f"# TYPE {name} histogram"]
        lines += [f'{name}_bucket{{{label},le="{0.001 * 2 ** b}"}} {b * 10}' for b in range(buckets)]
        lines += [f'{name}_bucket{{{label},le="+Inf"}} 999', f"{name}_count{{{label}}} 999", f"{name}_sum{{{label}}} 12.5"]
    return "\n".join(lines) + "\n"


def cpu_per_call(call, n: int) -> float:
    """Mean CPU seconds (this process) per call."""
    before = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - before) / n


def scrape_costs(url: str, n: int = 300) -> dict:
    """CPU ms per read of a vLLM-sized page, and per whole scrape of the simulator's /metrics."""
    page, reader = vllm_page(), Reader()
    scraper = ServerMetrics.of(("auto",), url, {}, SweepHooks()).probe()
    clock = [0.0]

    def read() -> None:
        clock[0] += 1.0
        reader.read(parse_samples(page), clock[0])

    costs = {"page_lines": page.count("\n"), "read_ms": 1000 * cpu_per_call(read, n),
             "scrape_ms": 1000 * cpu_per_call(scraper.scrape, n)}
    scraper.stop()
    return costs


def measure(url: str, concurrency: int, requests: int, folder: Path, mode: str, interval: float,
            ttft: float) -> dict:
    """One closed-loop run with --server-metrics off or auto; TTFT errors in ms and this process's CPU share."""
    config = BenchmarkConfig(api_base=url, traffic_scenarios=[parse_scenario("D(100,50)")],
                             concurrencies=[concurrency], max_requests_per_run=requests, max_time_per_run=2.0,
                             experiment_base_dir=str(folder), experiment_folder_name=f"{mode}-{time.time_ns()}",
                             seed=1, server_metrics=("off",) if mode == "off" else ("auto",),
                             server_metrics_interval=interval)
    result, cpu_percent, _ = timed_session(config)
    ttfts = np.array([m.ttft for m in result.requests if m.record.ok])
    scrapes = (result.statistics.server or {}).get("samples", 0)
    return {"ttft_p50_error_ms": 1000 * (np.percentile(ttfts, 50) - ttft),
            "ttft_p99_error_ms": 1000 * (np.percentile(ttfts, 99) - ttft),
            "client_cpu_percent": cpu_percent, "scrapes": scrapes}


def main() -> None:
    """Print the scrape's CPU cost and the interleaved on/off fidelity medians."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--requests-per-user", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--interval", type=float, default=1.0, help="--server-metrics-interval of the 'on' runs")
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--itl-ms", type=float, default=10.0)
    args = parser.parse_args()
    configure_logging()
    process, url = start_simulator("--ttft-ms", str(args.ttft_ms), "--itl-ms", str(args.itl_ms), "--seed", "1")
    try:
        costs = scrape_costs(url)
        print(f"CPU per scrape: {costs['read_ms']:.3f} ms to read a {costs['page_lines']}-line vLLM-shaped page; "
              f"{costs['scrape_ms']:.3f} ms for a whole scrape of the simulator's /metrics over HTTP")
        with TemporaryDirectory() as folder:
            medians = interleaved_medians(["off", "on"], args.rounds, lambda mode: measure(
                url, args.concurrency, args.concurrency * args.requests_per_user, Path(folder), mode, args.interval,
                args.ttft_ms / 1000.0))
    finally:
        process.kill()
    print(f"\nconcurrency {args.concurrency}, {args.rounds} interleaved rounds, medians "
          f"(on = --server-metrics auto every {args.interval:g} s):")
    print(f"{'mode':<5} {'TTFT p50 err ms':>16} {'TTFT p99 err ms':>16} {'client CPU %':>13} {'scrapes/run':>12}")
    for mode, row in medians.items():
        print(f"{mode:<5} {row['ttft_p50_error_ms']:>16.2f} {row['ttft_p99_error_ms']:>16.2f} "
              f"{row['client_cpu_percent']:>13.1f} {row['scrapes']:>12.0f}")
    change = medians["on"]["ttft_p99_error_ms"] - medians["off"]["ttft_p99_error_ms"]
    print(f"TTFT p99 error change with scraping: {change:+.2f} ms")


if __name__ == "__main__":
    main()
