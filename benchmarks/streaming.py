"""Cost of live streaming: benchmark throughput and event delivery latency with 0, 1 and 50 SSE viewers.

Three processes share this machine: the simulator, the benchmark (`genai-bench benchmark --enable-streaming`)
and the viewers (N real SSE connections to /events). Each viewer stamps every `metrics` event on arrival;
latency = arrival − the event's publish timestamp (same machine clock). Viewer counts are interleaved over
--rounds so drift in machine load hits them alike.

    python benchmarks/streaming.py [--viewers 0 1 50] [--rounds 2] [--concurrency 64] [--seconds 15]

With --storm N, each round is instead a run without and a run with a connection storm: N SSE clients connect
within one second, --storm-at seconds into the run, and stay until it ends. Reported: TTFT error (measured minus
the simulator's configured TTFT) over the whole run and over the --window seconds from the storm's start, the
benchmark's CPU in that window, the storm clients' CPU, their connect times, and what the run's client health
recorded.

    python benchmarks/streaming.py --storm 200 [--rounds 2] [--ttft-ms 40 --itl-ms 8] [--seconds 16] [--embedded]

--baseline DIR adds, in every round, the same two runs by the code in DIR (e.g. `git archive main | tar -x -C DIR`):
an A/B on one shared machine, interleaved so that drift in its load hits both alike.
--embedded runs the benchmark's own simulator, in the benchmark's process (TTFT 40 ms + 0.05 ms per prompt
token, ±1 ms jitter, ITL 8 ms): a storm then delays the simulator's first tokens as well as the client's reads.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import psutil

from common import ROOT, start_benchmark, start_simulator

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


def storm_client_main(url: str, count: int) -> None:
    """Connect `count` SSE clients spread over one second, read until the server ends the streams, print a summary."""
    import genai_bench  # noqa: F401  (gevent patch first)
    import gevent
    from geventhttpclient import HTTPClient

    connect_ms: list[float] = []
    failures: list[str] = []

    def view(index: int) -> None:
        gevent.sleep(index / count)
        began = time.perf_counter()
        client = HTTPClient.from_url(url, connection_timeout=10, network_timeout=120)
        try:
            response = client.get("/events")
            response.readline(b"\n")  # the retry hint: the stream is open
            connect_ms.append((time.perf_counter() - began) * 1000.0)
            while response.readline(b"\n"):
                pass
        except Exception as exc:  # a refused or dropped viewer is a figure, not a crash
            failures.append(type(exc).__name__)
        finally:
            client.close()

    started = time.time()
    gevent.joinall([gevent.spawn(view, i) for i in range(count)])
    times = os.times()
    print(json.dumps({"started": started, "connect_ms": connect_ms, "failures": failures,
                      "cpu_seconds": times.user + times.system}))


def storm_round(simulator_url: str | None, storm: int, args: argparse.Namespace, folder: Path, code: Path) -> dict:
    """One benchmark run by `code`, with `storm` SSE clients connecting --storm-at seconds in (none when 0)."""
    name = f"s{storm}_{time.monotonic_ns()}"
    bench, url = start_load(simulator_url, folder, name, args, code)
    output = []
    threading.Thread(target=lambda: output.extend(bench.stdout), daemon=True).start()
    process = psutil.Process(bench.pid)
    time.sleep(args.storm_at)
    window_start, cpu_start = time.time(), sum(process.cpu_times()[:2])
    client = subprocess.Popen([sys.executable, str(HERE), "--storm-client", url, str(storm)],
                              stdout=subprocess.PIPE, text=True) if storm else None
    time.sleep(args.window)
    window_cpu = (sum(process.cpu_times()[:2]) - cpu_start) / args.window * 100.0
    bench.wait(timeout=args.seconds + 120)
    clients = json.loads(client.communicate(timeout=60)[0]) if client else {"connect_ms": [], "failures": [],
                                                                             "cpu_seconds": 0.0}
    run = json.loads(next((folder / name).glob("D100_*.json")).read_text())
    requests = [r for r in run["individual_request_metrics"] if r["ttft"] is not None]
    errors = [(r["ttft"] * 1000.0 - configured_ttft_ms(r, args)) for r in requests]
    in_window = [(r["ttft"] * 1000.0 - configured_ttft_ms(r, args)) for r in requests
                 if window_start <= r["start_time"] < window_start + args.window]
    health = run["aggregated_metrics"]["client"]
    return {"storm": storm, "ttft_error_ms": errors, "window_ttft_error_ms": in_window,
            "window_cpu_percent": window_cpu, "storm_client_cpu_seconds": clients["cpu_seconds"],
            "connect_ms": clients["connect_ms"], "connect_failures": len(clients["failures"]),
            "client_saturated": run["aggregated_metrics"]["client_saturated"],
            "reasons": health.get("reasons", []), "connection_storms": health.get("connection_storms", []),
            "loop_lag_p99_ms": health["loop_lag_p99_ms"]}


def configured_ttft_ms(request: dict, args: argparse.Namespace) -> float:
    """The TTFT the simulator was told to answer this request with (the embedded one adds prefill per token)."""
    if not args.embedded:
        return args.ttft_ms
    from genai_bench.session import EMBEDDED_SIMULATOR

    return EMBEDDED_SIMULATOR.ttft_ms + EMBEDDED_SIMULATOR.prefill_ms_per_token * request["num_input_tokens"]


def storm_sweep(args: argparse.Namespace) -> list[dict]:
    """No storm and a storm of --storm clients, interleaved over the rounds; one row per round and mode."""
    simulator, url = (None, None) if args.embedded else start_simulator("--ttft-ms", str(args.ttft_ms),
                                                                        "--itl-ms", str(args.itl_ms))
    rows = []
    try:
        with TemporaryDirectory() as folder:
            codes = {"this": ROOT, **({"baseline": args.baseline} if args.baseline else {})}
            for index in range(args.rounds):
                for label, code in codes.items():
                    for storm in (0, args.storm):
                        row = storm_round(url, storm, args, Path(folder), code)
                        rows.append({"round": index + 1, "code": label, "load_average": os.getloadavg(), **row})
                        print_storm_row(rows[-1])
    finally:
        if simulator:
            simulator.terminate()
    return rows


def print_storm_summary(rows: list[dict]) -> None:
    """Every round of each code × storm pooled: TTFT error percentiles, CPU, connect times, rounds flagged."""
    print(f"{'code':>8} {'storm':>5} {'rounds':>6} {'whole p50/p99 ms':>17} {'window p50/p99 ms':>18} "
          f"{'bench CPU':>9} {'storm CPU-s':>11} {'connect p50/p99 ms':>18} {'flagged':>7} {'storm flagged':>13}")
    for code in dict.fromkeys(row["code"] for row in rows):
        for storm in dict.fromkeys(row["storm"] for row in rows):
            group = [row for row in rows if row["code"] == code and row["storm"] == storm]
            whole = [value for row in group for value in row["ttft_error_ms"]]
            window = [value for row in group for value in row["window_ttft_error_ms"]]
            connect = [value for row in group for value in row["connect_ms"]]
            print(f"{code:>8} {storm:>5} {len(group):>6} "
                  f"{percentile(whole, 50):>8.2f}/{percentile(whole, 99):<8.2f} "
                  f"{percentile(window, 50):>9.2f}/{percentile(window, 99):<8.2f} "
                  f"{sum(r['window_cpu_percent'] for r in group) / len(group):>8.0f}% "
                  f"{sum(r['storm_client_cpu_seconds'] for r in group) / len(group):>11.2f} "
                  f"{percentile(connect, 50):>9.0f}/{percentile(connect, 99):<8.0f} "
                  f"{sum(r['client_saturated'] for r in group):>7} "
                  f"{sum(any(s['distorted'] for s in r['connection_storms']) for r in group):>13}")


def print_storm_row(row: dict) -> None:
    """One storm round as a line: TTFT error whole run / in the window, CPU, connect times, what was flagged."""
    whole, window = row["ttft_error_ms"], row["window_ttft_error_ms"]
    print(f"round {row['round']} {row['code']:>8} storm {row['storm']:>4}: TTFT error p50/p99 whole run "
          f"{percentile(whole, 50):.2f}/{percentile(whole, 99):.2f} ms, in window ({len(window)} req) "
          f"{percentile(window, 50):.2f}/{percentile(window, 99):.2f} ms; bench CPU in window "
          f"{row['window_cpu_percent']:.0f}%, storm clients {row['storm_client_cpu_seconds']:.2f} CPU-s; connect "
          f"p50/p99 {percentile(row['connect_ms'], 50):.0f}/{percentile(row['connect_ms'], 99):.0f} ms, "
          f"{row['connect_failures']} failed; loop lag p99 {row['loop_lag_p99_ms']:.2f} ms; saturated "
          f"{row['client_saturated']} {row['reasons']}; load {row['load_average'][0]:.1f}", flush=True)


def one_round(simulator_url: str, viewers: int, args: argparse.Namespace, folder: Path) -> dict:
    """One benchmark run with `viewers` SSE clients attached; returns throughput, CPU and latencies."""
    name = f"v{viewers}_{time.monotonic_ns()}"
    bench, url = start_load(simulator_url, folder, name, args)
    viewer = subprocess.Popen([sys.executable, str(HERE), "--viewer", url, str(viewers)],
                              stdout=subprocess.PIPE, text=True) if viewers else None
    process = psutil.Process(bench.pid)
    process.cpu_percent()
    bench.communicate(timeout=args.seconds + 120)
    seen = json.loads(viewer.communicate(timeout=60)[0]) if viewer else {"latencies_ms": [], "per_viewer": []}
    run = json.loads(next((folder / name).glob("D100_*.json")).read_text())["aggregated_metrics"]
    return {"viewers": viewers, "requests_per_second": run["requests_per_second"],
            "output_tokens_per_second": run["mean_output_throughput_tokens_per_s"], "latencies_ms": seen["latencies_ms"],
            "min_events_per_viewer": min(seen["per_viewer"], default=0)}


def start_load(simulator_url: str | None, folder: Path, name: str, args: argparse.Namespace,
               code: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """The benchmark of one round: D(100, output tokens) at --concurrency for --seconds, dashboard on."""
    return start_benchmark(simulator_url, folder, name, "--num-concurrency", str(args.concurrency),
                           "--traffic-scenario", f"D(100,{args.output_tokens})", "--max-time-per-run",
                           str(args.seconds / 60), "--max-requests-per-run", "10000000", code=code)


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
    parser.add_argument("--storm", type=int, default=0, help="SSE clients connecting within one second mid-run")
    parser.add_argument("--storm-at", type=float, default=None, help="seconds after the dashboard starts "
                        "(default: half of --seconds)")
    parser.add_argument("--window", type=float, default=3.0, help="seconds from the storm's start measured apart")
    parser.add_argument("--baseline", type=Path, help="with --storm: also run the code in this folder, interleaved")
    parser.add_argument("--embedded", action="store_true", help="with --storm: the benchmark's embedded simulator")
    parser.add_argument("--out", type=Path, help="with --storm: write every row here as JSON")
    parser.add_argument("--viewer", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--storm-client", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--summarize", type=Path, help="print the summary of a --storm --out file and exit")
    args = parser.parse_args()
    if args.summarize:
        return print_storm_summary(json.loads(args.summarize.read_text())["rows"])
    if args.viewer:
        return viewer_main(args.viewer[0], int(args.viewer[1]))
    if args.storm_client:
        return storm_client_main(args.storm_client[0], int(args.storm_client[1]))
    if args.storm:
        args.storm_at = args.seconds / 2 if args.storm_at is None else args.storm_at
        rows = storm_sweep(args)
        print_storm_summary(rows)
        if args.out:
            for row in rows:  # a few µs is below what these figures resolve; keeps the file small
                for key in ("ttft_error_ms", "window_ttft_error_ms", "connect_ms"):
                    row[key] = [round(value, 2) for value in row[key]]
            args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}))
        return
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
