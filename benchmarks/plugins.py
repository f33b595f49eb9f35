"""Plugin and --static-url costs: the bus's publish time per event with no sink, with a trivial sink, with the
example plugin's CSV sink (examples/plugin, imported from the checkout) and with a sink sleeping 20 ms per event
(sinks run on their own greenlet: publishing only queues; the drain time is the sink's own), and the startup time of
hashing static/.

    python benchmarks/plugins.py [--events 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import genai_bench  # noqa: F401  (gevent patch first)
import gevent

from genai_bench.assets import asset_folder
from genai_bench.events import EventBus
from genai_bench.sinks import GuardedSink, SinkContext, close_sinks
from genai_bench.web.static_url import StaticAssets

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "plugin"))
from genai_bench_example_plugin.sink import CsvEventSink  # noqa: E402

# A metrics-sized payload: the live snapshot is the most frequent large event.
PAYLOAD = {"run_key": "D(100,100)_c8", "live_metrics": {"stats": {m: {p: 0.123 for p in ("p50", "p90", "p99", "mean")}
                                                                  for m in ("ttft", "tpot", "e2e_latency", "itl")},
                                                        "requests_per_second": 12.5, "errors": 0},
           "point": {"t": 1.0, "ttft_p50": 0.05, "requests_per_second": 12.5}}


def publish_cost(events: int, sink=None) -> tuple[float, float]:
    """(microseconds per publish, microseconds per event to drain the sink's queue) on a bus with `sink` listening."""
    bus = EventBus()
    guarded = [GuardedSink("bench", sink, queue_size=events)] if sink is not None else []
    for listener in guarded:
        bus.add_listener(listener)
    started = time.perf_counter()
    for _ in range(events):
        bus.publish("metrics", PAYLOAD)
    published = time.perf_counter()
    close_sinks(guarded, timeout=600)
    return (published - started) / events * 1e6, (time.perf_counter() - published) / events * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    base, _ = publish_cost(args.events)
    trivial, trivial_drain = publish_cost(args.events, lambda event: None)
    with TemporaryDirectory() as folder:
        csv_cost, csv_drain = publish_cost(args.events, CsvEventSink(SinkContext(Path(folder), {})))
    slow_cost, slow_drain = publish_cost(100, lambda event: gevent.sleep(0.02))
    print(f"publish per event: no sink {base:.1f} us, trivial sink {trivial:.1f} us (+{trivial_drain:.1f} us on its "
          f"greenlet), example CSV sink {csv_cost:.1f} us (+{csv_drain:.1f} us on its greenlet) ({args.events} metrics "
          f"events); a sink sleeping 20 ms: {slow_cost:.1f} us (+{slow_drain / 1000:.1f} ms on its greenlet, 100 events)")
    started = time.perf_counter()
    assets = StaticAssets.of(asset_folder("static"), "https://cdn.example.com/static")
    size = sum((asset_folder("static") / path).stat().st_size for path in assets.hashes)
    print(f"--static-url startup: {len(assets.hashes)} files, {size / 1024:.0f} KiB hashed (sha384) in "
          f"{(time.perf_counter() - started) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
