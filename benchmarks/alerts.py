"""What alerts cost the benchmark, and how fast a webhook hears of one.

1. Evaluation: AlertMonitor on one live tick with N rules (a real live snapshot of 2,000 requests' statistics),
   microseconds per tick, against the tick's own cost (the collector's live_snapshot).
2. Delivery: from `hooks.alert` firing to a local webhook server (gevent WSGI on loopback) receiving the POST,
   median and p99 over many alerts, each a new connection as urllib makes it.
3. A dead webhook (connections refused): what post() costs the caller (the hot path), per message.

    python benchmarks/alerts.py [--rules 10] [--ticks 2000] [--alerts 200]
"""

from __future__ import annotations

import argparse
from array import array
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout, before an installed copy
import genai_bench  # noqa: E402,F401  (gevent patch first)
import gevent
import numpy as np
from gevent.pywsgi import WSGIServer

from genai_bench import live_events
from genai_bench.alerts import AlertMonitor, AlertSettings
from genai_bench.hooks import SweepHooks
from genai_bench.live_events import PlannedRun, RunProgress
from genai_bench.metrics import MetricsCollector
from genai_bench.notifiers import WebhookNotifier, alert_message, notifications_of
from genai_bench.protocol import RequestRecord
from genai_bench.scenarios import parse_scenario

RULES = ["ttft.p99>500ms for 10s", "ttft.p50>200ms", "tpot.p99>50ms", "e2e.p99>5s", "error_rate>5%", "errors>10",
         "requests_per_second<1", "output_tokens_per_second<100", "in_flight>100", "output_latency.p90>3s"]


def filled_collector(n: int = 2000) -> MetricsCollector:
    collector = MetricsCollector()
    rng = np.random.default_rng(1)
    for i in range(n):
        start = float(i)
        ttft = start + 0.05 + rng.random() * 0.01
        chunks = array("d", [ttft + 0.01 * k for k in range(100)])
        collector.record(RequestRecord("D(100,100)", 8, 100, 100, start=start, first_token=ttft, end=chunks[-1],
                                       chunk_times=chunks, num_output_tokens=100, status_code=200))
    return collector


def evaluation(rule_count: int, ticks: int) -> None:
    hooks = SweepHooks()
    AlertMonitor(AlertSettings.of((RULES * 10)[:rule_count]), hooks).attach(hooks)
    collector = filled_collector()
    scenario = parse_scenario("D(100,100)")
    run = PlannedRun(scenario.text, 8, None, 1, 1, "k", 60.0, None, scenario)
    snapshot = collector.live_snapshot(3000.0)
    started = time.perf_counter()
    for _ in range(50):
        collector.live_snapshot(3000.0)
    per_snapshot = (time.perf_counter() - started) / 50
    progress = RunProgress(run, 2000, 0, 8, 100.0)
    started = time.perf_counter()
    for i in range(ticks):
        hooks.live_tick.fire(progress=progress, live_metrics=snapshot, histograms={}, timestamp=float(i))
    per_tick = (time.perf_counter() - started) / ticks
    print(f"evaluation: {rule_count} rules, {per_tick * 1e6:.1f} µs per tick "
          f"(the tick's live_snapshot itself: {per_snapshot * 1e6:.0f} µs)")


def delivery(alerts: int) -> None:
    received: list[float] = []

    def app(environ, start_response):
        environ["wsgi.input"].read()
        received.append(time.perf_counter())
        start_response("200 OK", [])
        return [b"ok"]

    server = WSGIServer(("127.0.0.1", 0), app, log=None, error_log=None)
    server.start()
    notifications = notifications_of(AlertSettings.of([], [f"http://127.0.0.1:{server.server_port}/hook"]),
                                     lambda message, level: print(level, message))
    change = live_events.AlertChange("firing", "ttft.p99>500ms", "ttft.p99", ">", 0.5, 0.8, "ms", "800 ms", "500 ms",
                                     0.0, 0.0, 0.0, "k", "D(100,100) @ concurrency 8", "notify")
    message = alert_message(live_events.alert(change))
    latencies = []
    for _ in range(alerts):
        sent = time.perf_counter()
        notifications.post(message)
        while len(received) < len(latencies) + 1:
            gevent.sleep(0.0005)
        latencies.append(received[-1] - sent)
    notifications.close()
    server.stop()
    ms = np.array(latencies) * 1000
    print(f"delivery to a loopback webhook: {alerts} alerts, median {np.median(ms):.2f} ms, "
          f"p99 {np.percentile(ms, 99):.2f} ms")


def dead_webhook(messages: int) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    reports = []
    notifications = notifications_of(AlertSettings.of([], [f"http://127.0.0.1:{port}/hook"]),
                                     lambda message, level: reports.append(message))
    started = time.perf_counter()
    for i in range(messages):
        notifications.post({"text": f"m{i}", "event": "alert"})
    per_post = (time.perf_counter() - started) / messages
    gevent.sleep(5)  # the first message's four attempts (0.5 + 1 + 2 s of waits) finish meanwhile
    notifications.close(timeout=0.1)
    name = WebhookNotifier(f"http://127.0.0.1:{port}/hook").name
    print(f"dead webhook: post() {per_post * 1e6:.1f} µs per message on the caller's path; "
          f"{len(reports)} log line(s) for the burst ({name})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=10)
    parser.add_argument("--ticks", type=int, default=2000)
    parser.add_argument("--alerts", type=int, default=200)
    args = parser.parse_args()
    evaluation(args.rules, args.ticks)
    delivery(args.alerts)
    dead_webhook(100)


if __name__ == "__main__":
    main()
