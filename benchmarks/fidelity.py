"""Timing fidelity: measured minus configured TTFT, TPOT and ITL against a simulator with fixed delays.

The simulator runs in its own process (`genai-bench simulate`), the client (a real BenchmarkSession) in this one;
both share this machine's cores, so the client's and the simulator's CPU use are printed beside the errors.
"raw" columns are a minimal gevent client (no framework, no JSON parsing) against the same simulator: what is
left of the error there comes from the simulator and the machine, not from genai-bench's client. "raw intake" is
how long its requests waited before the simulator got to them (X-Simulator-Taken minus the send time): the simulator
times each request from when its bytes reached the machine (X-Simulator-Arrival, the kernel's receive stamp), so
that wait no longer delays tokens as long as it is shorter than the TTFT. "raw rest" is the TTFT error counted from
that arrival: the simulator's own lateness plus delivery to the client.

    python benchmarks/fidelity.py [--ttft-ms 50] [--itl-ms 10] [--output-tokens 50] [--concurrency 1 16 64 256]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import genai_bench  # noqa: F401  (gevent patch first)
import numpy as np
import psutil

from genai_bench.cli import configure_logging
from genai_bench.config import BenchmarkConfig
from genai_bench.scenarios import parse_scenario

from common import start_simulator, timed_session


def measure_raw(url: str, concurrency: int, output_tokens: int, requests: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TTFTs seen by a minimal gevent client (no Locust, no JSON parsing), and when the simulator saw each request.

    Arrival and intake = the simulator's X-Simulator-Arrival / X-Simulator-Taken minus the client's send time
    (perf_counter is CLOCK_MONOTONIC, one clock for every process here).
    """
    import gevent
    from geventhttpclient import HTTPClient

    body = json.dumps({"model": "m", "stream": True, "max_tokens": output_tokens,
                       "messages": [{"role": "user", "content": "hello there " * 45}]}).encode()
    ttfts: list[float] = []
    arrivals: list[float] = []
    intakes: list[float] = []
    per_user = max(1, requests // concurrency)

    def user() -> None:
        client = HTTPClient.from_url(url, concurrency=1)
        for _ in range(per_user):
            start = time.perf_counter()
            response = client.request("POST", "/v1/chat/completions", body=body,
                                      headers={"Content-Type": "application/json"})
            first = None
            while line := response.readline(b"\n"):
                if first is None and line.startswith(b"data:") and b'"content":"' in line and b'"content":""' not in line:
                    first = time.perf_counter()
                if line.startswith(b"data: [DONE]"):
                    break
            response.release()
            ttfts.append(first - start)
            arrivals.append(float(response.get("X-Simulator-Arrival")) - start)
            intakes.append(float(response.get("X-Simulator-Taken")) - start)
        client.close()

    gevent.joinall([gevent.spawn(user) for _ in range(concurrency)])
    return np.array(ttfts), np.array(arrivals), np.array(intakes)


def measure(url: str, concurrency: int, output_tokens: int, requests: int, folder: Path) -> dict:
    """One closed-loop run; returns per-request figures and this process's CPU share."""
    config = BenchmarkConfig(api_base=url, traffic_scenarios=[parse_scenario(f"D(100,{output_tokens})")],
                             concurrencies=[concurrency], max_requests_per_run=requests, max_time_per_run=2.0,
                             experiment_base_dir=str(folder), experiment_folder_name=f"c{concurrency}", seed=1)
    result, cpu_percent, wall = timed_session(config)
    ok = [m for m in result.requests if m.record.ok]
    return {
        "ttft": np.array([m.ttft for m in ok]),
        "tpot": np.array([m.tpot for m in ok]),
        "itl": np.array([gap for m in ok for gap in m.itl]),
        "completed": len(ok),
        "errors": len(result.requests) - len(ok),
        "client_cpu_percent": cpu_percent,
        "wall": wall,
    }


def main() -> None:
    """Run the sweep and print the table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--itl-ms", type=float, default=10.0)
    parser.add_argument("--output-tokens", type=int, default=50)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64, 256])
    parser.add_argument("--requests-per-user", type=int, default=6)
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = parser.parse_args()
    configure_logging()
    rows = sweep(args)
    print_table(rows, args)
    if args.json:
        print(json.dumps(rows, indent=2))


def sweep(args: argparse.Namespace) -> list[dict]:
    """Every concurrency level against one simulator with fixed delays; one row each."""
    simulator, url = start_simulator("--ttft-ms", str(args.ttft_ms), "--itl-ms", str(args.itl_ms), "--jitter-ms", "0",
                                     "--prefill-ms-per-token", "0", "--timing-header")
    server = psutil.Process(simulator.pid)
    rows = []
    try:
        with TemporaryDirectory() as folder:
            for concurrency in args.concurrency:
                server.cpu_percent()  # start the simulator's CPU interval
                run = measure(url, concurrency, args.output_tokens,
                              max(30, concurrency * args.requests_per_user), Path(folder))
                server_cpu = server.cpu_percent()
                raw = measure_raw(url, concurrency, args.output_tokens, max(30, concurrency * args.requests_per_user))
                rows.append(row(run, *raw, concurrency, args.ttft_ms, args.itl_ms, server_cpu))
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    return rows


def row(run: dict, raw_ttft: np.ndarray, raw_arrival: np.ndarray, raw_intake: np.ndarray, concurrency: int,
        ttft_ms: float, itl_ms: float, server_cpu: float) -> dict:
    """Errors of the p50 and p99 of each metric against the configured delays, in ms."""
    def error(values: np.ndarray, configured_ms: float, q: float) -> float:
        return float(np.percentile(values, q) * 1000.0 - configured_ms) if values.size else float("nan")

    out = {"concurrency": concurrency, "completed": run["completed"], "errors": run["errors"],
           "client_cpu_percent": round(run["client_cpu_percent"], 1), "simulator_cpu_percent": round(server_cpu, 1)}
    for name, configured in (("ttft", ttft_ms), ("tpot", itl_ms), ("itl", itl_ms)):
        out[f"{name}_p50_error_ms"] = round(error(run[name], configured, 50), 3)
        out[f"{name}_p99_error_ms"] = round(error(run[name], configured, 99), 3)
    out["raw_ttft_p50_error_ms"] = round(error(raw_ttft, ttft_ms, 50), 3)
    out["raw_ttft_p99_error_ms"] = round(error(raw_ttft, ttft_ms, 99), 3)
    out["raw_intake_p50_ms"] = round(error(raw_intake, 0.0, 50), 3)
    out["raw_ttft_p50_error_after_arrival_ms"] = round(error(raw_ttft - raw_arrival, ttft_ms, 50), 3)
    return out


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    """The figures as a fixed-width table."""
    print(f"simulator: TTFT {args.ttft_ms} ms, ITL {args.itl_ms} ms, D(100,{args.output_tokens}); "
          f"errors are measured minus configured, in ms; CPU is % of one core")
    header = ["conc", "done", "err", "TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99", "ITL p50", "ITL p99",
              "client CPU", "sim CPU", "raw TTFT p50", "raw TTFT p99", "raw intake p50", "raw rest p50"]
    print("  ".join(f"{h:>9}" for h in header))
    for r in rows:
        cells = [r["concurrency"], r["completed"], r["errors"], r["ttft_p50_error_ms"], r["ttft_p99_error_ms"],
                 r["tpot_p50_error_ms"], r["tpot_p99_error_ms"], r["itl_p50_error_ms"], r["itl_p99_error_ms"],
                 f"{r['client_cpu_percent']}%", f"{r['simulator_cpu_percent']}%",
                 r["raw_ttft_p50_error_ms"], r["raw_ttft_p99_error_ms"], r["raw_intake_p50_ms"],
                 r["raw_ttft_p50_error_after_arrival_ms"]]
        print("  ".join(f"{c:>9}" for c in cells))


if __name__ == "__main__":
    main()
