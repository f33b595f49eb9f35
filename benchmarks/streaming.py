"""Cost of live streaming: benchmark throughput and event delivery latency with 0, 1 and 50 SSE viewers.

Three processes share this machine: the simulator, the benchmark (`genai-bench benchmark --enable-streaming`)
and the viewers (N real SSE connections to /events). Each viewer stamps every `metrics` event on arrival;
latency = arrival − the event's publish timestamp (same machine clock). Viewer counts are interleaved over
--rounds so drift in machine load hits them alike.

    python benchmarks/streaming.py [--viewers 0 1 50] [--rounds 2] [--concurrency 64] [--seconds 15]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import psutil

from common import start_simulator

HERE = Path(__file__).resolve()


def viewer_main(url: str, count: int) -> None:
    """Open `count` SSE streams and print the metrics events' delivery latencies (ms) as JSON when they end."""
    import genai_bench  # noqa: F401  (gevent patch first)
    import gevent
    from geventhttpclient import HTTPClient

    latencies: list[float] = []
    received = [0] * count

    def view(index: int) -> None:
        client = HTTPClient.from_url(url, connection_timeout=10, network_timeout=600)
        response = client.get("/events")
        while line := response.readline(b"\n"):
            if line.startswith(b"data:") and b'"event_type":"metrics"' in line:
                arrival = time.time()
                received[index] += 1
                if received[index] > 1:  # the first is the snapshot sent on connect, published earlier
                    latencies.append((arrival - json.loads(line[5:])["timestamp"]) * 1000.0)
        client.close()

    gevent.joinall([gevent.spawn(view, i) for i in range(count)])
    print(json.dumps({"latencies_ms": latencies, "per_viewer": received}))


def one_round(simulator_url: str, viewers: int, args: argparse.Namespace, folder: Path) -> dict:
    """One benchmark run with `viewers` SSE clients attached; returns throughput, CPU and latencies."""
    name = f"v{viewers}_{time.monotonic_ns()}"
    bench = subprocess.Popen(
        [sys.executable, "-m", "genai_bench", "benchmark", "--api-base", simulator_url, "--enable-streaming",
         "--streaming-port", "0", "--num-concurrency", str(args.concurrency), "--traffic-scenario",
         f"D(100,{args.output_tokens})", "--max-time-per-run", str(args.seconds / 60), "--max-requests-per-run",
         "10000000", "--experiment-base-dir", str(folder), "--experiment-folder-name", name],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = None
    for line in bench.stdout:
        if match := re.search(r"Live dashboard: (http://\S+)", line):
            url = match.group(1)
            break
    if url is None:
        raise SystemExit("benchmark did not start:\n" + bench.stdout.read())
    viewer = subprocess.Popen([sys.executable, str(HERE), "--viewer", url, str(viewers)],
                              stdout=subprocess.PIPE, text=True) if viewers else None
    process = psutil.Process(bench.pid)
    process.cpu_percent()
    bench.communicate(timeout=args.seconds + 120)
    seen = json.loads(viewer.communicate(timeout=60)[0]) if viewer else {"latencies_ms": [], "per_viewer": []}
    run = json.loads(next((folder / name).glob("D100_*.json")).read_text())["aggregated_metrics"]
    return {"viewers": viewers, "requests_per_second": run["requests_per_second"],
            "output_tokens_per_second": run["output_tokens_per_second"], "latencies_ms": seen["latencies_ms"],
            "min_events_per_viewer": min(seen["per_viewer"], default=0)}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nan when empty)."""
    import numpy as np

    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    """Interleave the viewer counts over rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, nargs="+", default=[0, 1, 50])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--output-tokens", type=int, default=100)
    parser.add_argument("--ttft-ms", type=float, default=10.0)
    parser.add_argument("--itl-ms", type=float, default=2.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--viewer", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.viewer:
        return viewer_main(args.viewer[0], int(args.viewer[1]))
    rows = sweep(args)
    print_table(rows, args)
    if args.json:
        print(json.dumps(rows, indent=2))


def sweep(args: argparse.Namespace) -> list[dict]:
    """Every viewer count, interleaved over the rounds; one summary row per viewer count."""
    simulator, url = start_simulator("--ttft-ms", str(args.ttft_ms), "--itl-ms", str(args.itl_ms))
    results: dict[int, list[dict]] = {v: [] for v in args.viewers}
    try:
        with TemporaryDirectory() as folder:
            for _ in range(args.rounds):
                for viewers in args.viewers:
                    results[viewers].append(one_round(url, viewers, args, Path(folder)))
    finally:
        simulator.terminate()
    return summarize(results)


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    """The rows as a table."""
    print(f"benchmark: D(100,{args.output_tokens}) at concurrency {args.concurrency}, {args.seconds:g} s per round, "
          f"{args.rounds} interleaved rounds; simulator TTFT {args.ttft_ms} ms, ITL {args.itl_ms} ms")
    print(f"{'viewers':>8} {'req/s':>9} {'out tok/s':>10} {'vs 0':>7} {'event p50 ms':>13} {'event p99 ms':>13} "
          f"{'min events/viewer':>18}")
    for row in rows:
        print(f"{row['viewers']:>8} {row['requests_per_second']:>9.1f} {row['output_tokens_per_second']:>10.0f} "
              f"{row['throughput_vs_no_viewers']:>7.3f} {row['event_latency_p50_ms']:>13.1f} "
              f"{row['event_latency_p99_ms']:>13.1f} {row['min_events_per_viewer']:>18}")


def summarize(results: dict[int, list[dict]]) -> list[dict]:
    """Mean throughput per viewer count, its ratio to no viewers, and delivery latency percentiles."""
    base = None
    rows = []
    for viewers, rounds in results.items():
        rps = sum(r["requests_per_second"] for r in rounds) / len(rounds)
        tokens = sum(r["output_tokens_per_second"] for r in rounds) / len(rounds)
        base = base or (tokens if viewers == 0 else None)
        latencies = [value for r in rounds for value in r["latencies_ms"]]
        rows.append({"viewers": viewers, "requests_per_second": rps, "output_tokens_per_second": tokens,
                     "throughput_vs_no_viewers": tokens / base if base else float("nan"),
                     "event_latency_p50_ms": percentile(latencies, 50),
                     "event_latency_p99_ms": percentile(latencies, 99),
                     "min_events_per_viewer": min(r["min_events_per_viewer"] for r in rounds)})
    return rows


if __name__ == "__main__":
    main()
