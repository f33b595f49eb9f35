"""Soak: a long benchmark at moderate load with the dashboard open; memory, events and requests, start to end.

Three processes: a simulator that counts the completion requests it receives, the benchmark
(`genai-bench benchmark --enable-streaming`, one run of --minutes) and one SSE viewer consuming /events the whole
time (reconnecting with Last-Event-ID if it is ever cut off). Reported: the benchmark's RSS every --sample-seconds,
events published (events.ndjson) vs delivered to the viewer (which asks for all of them from id 0), requests measured (run file) vs received by the
simulator.

    python benchmarks/soak.py [--minutes 30] [--concurrency 16] [--out benchmarks/results/soak-DATE.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import subprocess
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import psutil

from common import start_benchmark, start_simulator

HERE = Path(__file__).resolve()


def counting_simulator_main(flags: list[str]) -> None:
    """Serve the simulator with a counter of completion requests (GET /soak/count reads it); prints its URL."""
    import genai_bench  # noqa: F401  (gevent patch first)
    from gevent.pywsgi import WSGIServer

    from genai_bench.simulator.app import make_simulator_app
    from genai_bench.simulator.config import SimulatorConfig
    from genai_bench.simulator.http_handler import FastHandler

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--itl-ms", type=float, default=10.0)
    args = parser.parse_args(flags)
    app = make_simulator_app(SimulatorConfig(ttft_ms=args.ttft_ms, itl_ms=args.itl_ms, seed=1))
    received = [0]

    class Counting:
        """The simulator app, counting every completion request before it answers it."""

        def __getattr__(self, name: str):
            return getattr(app, name)  # the fast handler calls the app's make_way

        def __call__(self, environ: dict, start_response):
            if environ["PATH_INFO"] == "/soak/count":
                start_response("200 OK", [("Content-Type", "application/json")])
                return [json.dumps({"received": received[0]}).encode()]
            if environ["REQUEST_METHOD"] == "POST":
                received[0] += 1
            return app(environ, start_response)

    server = WSGIServer(("127.0.0.1", args.port), Counting(), log=None, handler_class=FastHandler, backlog=4096)
    server.start()
    print(f"counting simulator at http://127.0.0.1:{server.server_port}/v1", flush=True)
    server.serve_forever()


def viewer_main(url: str, out: str) -> None:
    """Consume /events until the dashboard goes away, reconnecting with Last-Event-ID; writes what arrived to `out`."""
    import genai_bench  # noqa: F401
    from geventhttpclient import HTTPClient

    ids: list[int] = []
    seen = {"connections": 0, "heartbeats": 0, "first_connected_at": None}
    while True:
        client = HTTPClient.from_url(url, connection_timeout=5, network_timeout=120)
        try:
            # From event 0 on the first connection: every published event must arrive, not just a snapshot.
            headers = {"Last-Event-ID": str(ids[-1] if ids else 0)}
            response = client.get("/events", headers=headers)
        except OSError:
            break  # the dashboard is gone: the benchmark ended
        seen["connections"] += 1
        seen["first_connected_at"] = seen["first_connected_at"] or time.time()
        try:
            while line := response.readline(b"\n"):
                if line.startswith(b"id:"):
                    ids.append(int(line[3:]))
                elif line.startswith(b"data:") and b'"event_type":"heartbeat"' in line:
                    seen["heartbeats"] += 1
        except OSError:
            pass
        client.close()
        time.sleep(0.5)
    Path(out).write_text(json.dumps({**seen, "ids": ids}))


def drain(stream, lines: list[str]) -> None:
    """Keep the child's pipe empty (a full pipe would block its writes); keep the last lines for the report."""
    for line in stream:
        lines.append(line)
        del lines[:-50]


def soak(args: argparse.Namespace) -> dict:
    """One soak run; returns the report."""
    simulator, url = start_simulator("--ttft-ms", str(args.ttft_ms), "--itl-ms", str(args.itl_ms),
                                     command=(str(HERE), "--counting-simulator"))
    try:
        with TemporaryDirectory() as tmp:
            folder = Path(tmp)
            bench, dashboard = start_benchmark(
                url, folder, "soak", "--num-concurrency", str(args.concurrency), "--traffic-scenario",
                f"D(100,{args.output_tokens})", "--max-time-per-run", str(args.minutes),
                "--max-requests-per-run", "100000000")
            tail: list[str] = []
            threading.Thread(target=drain, args=(bench.stdout, tail), daemon=True).start()
            viewer_out = folder / "viewer.json"
            viewer = subprocess.Popen([sys.executable, str(HERE), "--viewer", dashboard, str(viewer_out)])
            process = psutil.Process(bench.pid)
            process.cpu_percent()
            started = time.monotonic()
            samples = []
            while bench.poll() is None:
                try:
                    samples.append({"minute": round((time.monotonic() - started) / 60, 2),
                                    "rss_mib": round(process.memory_info().rss / 2**20, 1),
                                    "cpu_percent": round(process.cpu_percent(), 1)})
                except psutil.NoSuchProcess:
                    break
                print(f"soak: {samples[-1]}", flush=True)
                deadline = time.monotonic() + args.sample_seconds
                while bench.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.5)
            viewer.wait(timeout=60)
            return report(folder / "soak", json.loads(viewer_out.read_text()), samples, url, bench.returncode,
                          tail, args)
    finally:
        simulator.terminate()


def report(experiment: Path, viewer: dict, samples: list[dict], simulator_url: str, exit_code: int,
           tail: list[str], args: argparse.Namespace) -> dict:
    """Published vs delivered events, measured vs received requests, and the RSS samples."""
    from urllib.request import urlopen

    received = json.loads(urlopen(simulator_url + "/soak/count", timeout=5).read())["received"]
    events = [json.loads(line) for line in (experiment / "events.ndjson").read_text().splitlines()]
    published = [event["id"] for event in events]
    run = json.loads(next(experiment.glob("D100_*.json")).read_text())
    ids = viewer["ids"]
    missing = set(published) - set(ids)
    metrics = run["aggregated_metrics"]
    return {
        "minutes": args.minutes, "concurrency": args.concurrency, "exit_code": exit_code,
        "rss_samples": samples,
        "rss_start_mib": samples[0]["rss_mib"] if samples else None,
        "rss_end_mib": samples[-1]["rss_mib"] if samples else None,
        "events_published": len(published), "events_delivered": len(ids), "events_missing": len(missing),
        "missing_event_types": sorted({event["event_type"] for event in events if event["id"] in missing}),
        "events_duplicated": len(ids) - len(set(ids)), "events_in_order": ids == sorted(ids),
        "viewer_connections": viewer["connections"], "viewer_heartbeats": viewer["heartbeats"],
        "requests_received_by_simulator": received,
        "requests_measured": len(run["individual_request_metrics"]),
        "requests_completed": metrics["num_completed_requests"], "request_errors": metrics["error_kinds_frequency"],
        "requests_per_second": metrics["requests_per_second"], "client_saturated": metrics["client_saturated"],
        "client": metrics["client"], "benchmark_tail": tail[-5:],
    }


def main() -> None:
    """Parse, soak, print and save the report."""
    if sys.argv[1:2] == ["--counting-simulator"]:
        return counting_simulator_main(sys.argv[2:])
    if sys.argv[1:2] == ["--viewer"]:
        return viewer_main(sys.argv[2], sys.argv[3])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--output-tokens", type=int, default=100)
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--itl-ms", type=float, default=10.0)
    parser.add_argument("--sample-seconds", type=float, default=None, help="RSS sampling period (default minutes*6)")
    parser.add_argument("--out", type=Path, help="also write the report here as JSON")
    args = parser.parse_args()
    args.sample_seconds = args.sample_seconds or max(args.minutes * 6.0, 5.0)
    result = soak(args)
    print(json.dumps({k: v for k, v in result.items() if k != "rss_samples"}, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
