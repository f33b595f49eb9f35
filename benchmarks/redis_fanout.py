"""Event delivery latency to 50 SSE viewers: in-process (one dashboard, the publisher's own bus) vs through Redis
(the publisher's RedisPublisher -> redis-server -> `gunicorn -k gevent -w 4 wsgi:app` with GENAI_BENCH_REDIS_URL,
the viewers spread over its four workers by the kernel).

A publisher process publishes `log` events at --rate per second for --seconds on a real EventBus; each envelope's
timestamp is its publish time. A viewer process holds --viewers real SSE connections and stamps each event on
arrival: latency = arrival - timestamp (one machine clock). Modes alternate over --rounds.

    python benchmarks/redis_fanout.py [--viewers 50] [--rate 50] [--seconds 15] [--rounds 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np

from common import ROOT

HERE = Path(__file__).resolve()
EXPERIMENT = "fanout-bench"


def publisher_main(mode: str, target: str, rate: float, seconds: float) -> None:
    """Publish on a bus (served here in-process, or sent to the Redis at `target`) once told "go" on stdin."""
    import genai_bench  # noqa: F401  (gevent patch first)
    import gevent

    from genai_bench.events import EventBus
    from genai_bench.fanout.publisher import RedisPublisher
    from genai_bench.fanout.settings import RedisSettings

    bus, server, redis = EventBus(), None, None
    if mode == "inprocess":
        from genai_bench.web import create_app
        from genai_bench.web.server import DashboardServer

        server = DashboardServer(create_app(bus), port=0).start()
        print(f"url {server.url}", flush=True)
    else:
        redis = RedisPublisher(RedisSettings(target), EXPERIMENT, {"model": "bench", "start_time": time.time()})
        bus.add_listener(redis.offer)
        print("url -", flush=True)
    bus.publish("status", {"status": "running", "model": "bench"})
    gevent.get_hub().threadpool.apply(sys.stdin.readline)  # "go": every viewer is connected
    started, sent = time.monotonic(), 0
    while time.monotonic() - started < seconds:
        sent += 1
        bus.publish("log", {"message": f"tick {sent}", "level": "info"})
        gevent.sleep(max(0.0, started + sent / rate - time.monotonic()))
    bus.publish("benchmark_completed", {"status": "completed"})
    gevent.sleep(1.0)
    if redis is not None:
        redis.close()
    if server is not None:
        server.stop()
    print(f"sent {sent}", flush=True)


def viewers_main(url: str, count: int) -> None:
    """Hold `count` SSE streams; print "ready" once all are open, then the latencies (ms) as JSON when they end."""
    import genai_bench  # noqa: F401  (gevent patch first)
    import gevent
    from geventhttpclient import HTTPClient

    latencies: list[float] = []
    stamps: list[float] = []
    pids: dict[str, int] = {}
    opened = gevent.event.Event()
    open_count = [0]

    def view() -> None:
        client = HTTPClient.from_url(url, connection_timeout=10, network_timeout=120)
        response = client.get(f"/events?experiment={EXPERIMENT}")
        pid = response.get("X-Genai-Bench-Pid", "in-process")
        pids[pid] = pids.get(pid, 0) + 1
        while line := response.readline(b"\n"):
            if line.startswith(b"data:"):
                arrival = time.time()
                envelope = json.loads(line[5:])
                if envelope["event_type"] == "status":  # the snapshot on connect: this viewer is subscribed
                    open_count[0] += 1
                    if open_count[0] == count:
                        opened.set()
                elif envelope["event_type"] == "log":
                    latencies.append((arrival - envelope["timestamp"]) * 1000.0)
                    stamps.append(envelope["timestamp"])
                elif envelope["event_type"] == "benchmark_completed":
                    break
        client.close()

    greenlets = [gevent.spawn(view) for _ in range(count)]
    opened.wait(60)
    print("ready", flush=True)
    gevent.joinall(greenlets, timeout=300)
    print(json.dumps({"latencies_ms": latencies, "stamps": stamps, "viewers_per_process": pids}), flush=True)


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    """redis-server on a free port in `folder`."""
    sys.path.insert(0, str(ROOT))
    from tests.support.servers import free_port

    port = free_port()
    process = subprocess.Popen([shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(port),
                                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    return process, f"redis://127.0.0.1:{port}/0"


def start_gunicorn(redis_url: str) -> tuple[subprocess.Popen, str]:
    """`gunicorn -k gevent -w 4 wsgi:app` serving the Redis's experiments; returns once it answers."""
    from geventhttpclient import HTTPClient

    from tests.support.servers import free_port

    port = free_port()
    env = {**__import__("os").environ, "GENAI_BENCH_REDIS_URL": redis_url}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "4", "-b", f"127.0.0.1:{port}",
                                "--chdir", str(ROOT), "--log-level", "warning", "wsgi:app"], env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            HTTPClient.from_url(url, connection_timeout=1).get("/healthz").read()
            return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("gunicorn did not start")


def one_round(mode: str, args: argparse.Namespace, redis_url: str, gunicorn_url: str) -> dict:
    publisher = subprocess.Popen([sys.executable, str(HERE), "--publisher", mode, redis_url, str(args.rate),
                                  str(args.seconds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    url = publisher.stdout.readline().split()[1]
    url = gunicorn_url if url == "-" else url.rstrip("/")
    time.sleep(1.0)  # the experiment is in Redis
    viewers = subprocess.Popen([sys.executable, str(HERE), "--viewers-of", url, str(args.viewers)],
                               stdout=subprocess.PIPE, text=True)
    assert viewers.stdout.readline().strip() == "ready"
    publisher.stdin.write("go\n")
    publisher.stdin.flush()
    result = json.loads(viewers.stdout.readline())
    viewers.wait(timeout=60)
    publisher.wait(timeout=60)
    lat = np.array(result["latencies_ms"])
    stamps = np.array(result["stamps"])
    if args.debug:
        for second in range(int(args.seconds) + 1):
            sel = lat[(stamps - stamps.min() >= second) & (stamps - stamps.min() < second + 1)]
            if len(sel):
                print(f"  {mode} second {second}: p50 {np.percentile(sel, 50):.1f} p99 {np.percentile(sel, 99):.1f}")
    return {"mode": mode, "deliveries": len(lat), "expected": int(args.rate * args.seconds) * args.viewers,
            "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
            "max_ms": float(lat.max()), "viewers_per_process": result["viewers_per_process"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--rate", type=float, default=50.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", default=None, help="also write the rows here")
    parser.add_argument("--debug", action="store_true", help="latency percentiles per second of the run")
    parser.add_argument("--publisher", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--viewers-of", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publisher:
        return publisher_main(args.publisher[0], args.publisher[1], float(args.publisher[2]), float(args.publisher[3]))
    if args.viewers_of:
        return viewers_main(args.viewers_of[0], int(args.viewers_of[1]))
    rows = []
    with TemporaryDirectory() as folder:
        redis, redis_url = start_redis(Path(folder))
        gunicorn, gunicorn_url = start_gunicorn(redis_url)
        try:
            for round_index in range(args.rounds):
                for mode in ("inprocess", "redis"):
                    rows.append(one_round(mode, args, redis_url, gunicorn_url))
                    row = rows[-1]
                    print(f"round {round_index + 1} {mode:9s} p50 {row['p50_ms']:6.2f} ms  p99 {row['p99_ms']:6.2f} ms  "
                          f"max {row['max_ms']:7.2f} ms  deliveries {row['deliveries']}/{row['expected']}  "
                          f"viewers per process {sorted(row['viewers_per_process'].values())}", flush=True)
                    _flush_redis(redis_url)
        finally:
            gunicorn.terminate()
            gunicorn.wait(timeout=40)
            redis.terminate()
            redis.wait(timeout=10)
    for mode in ("inprocess", "redis"):
        mine = [r for r in rows if r["mode"] == mode]
        print(f"{mode:9s} median over rounds: p50 {np.median([r['p50_ms'] for r in mine]):.2f} ms, "
              f"p99 {np.median([r['p99_ms'] for r in mine]):.2f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


def _flush_redis(url: str) -> None:
    """Forget the round's experiment, so the next round's id is the same and the dashboards start afresh."""
    import genai_bench  # noqa: F401
    from genai_bench.fanout import redis_client

    redis_client(url).flushdb()


if __name__ == "__main__":
    main()
