"""Plugin and --static-url costs: the bus's publish time per event with no sink, with a trivial sink and with the
example plugin's CSV sink (examples/plugin, imported from the checkout), and the startup time of hashing static/.

    python benchmarks/plugins.py [--events 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import genai_bench  # noqa: F401  (gevent patch first)

from genai_bench.assets import asset_folder
from genai_bench.events import EventBus
from genai_bench.sinks import GuardedSink, SinkContext
from genai_bench.web.static_url import StaticAssets

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "plugin"))
from genai_bench_example_plugin.sink import CsvEventSink  # noqa: E402

# A metrics-sized payload: the live snapshot is the most frequent large event.
PAYLOAD = {"run_key": "D(100,100)_c8", "live_metrics": {"stats": {m: {p: 0.123 for p in ("p50", "p90", "p99", "mean")}
                                                                  for m in ("ttft", "tpot", "e2e_latency", "itl")},
                                                        "requests_per_second": 12.5, "errors": 0},
           "point": {"t": 1.0, "ttft_p50": 0.05, "requests_per_second": 12.5}}


def publish_cost(events: int, sink=None) -> float:
    """Microseconds per publish on a bus with `sink` (or none) listening."""
    bus = EventBus()
    if sink is not None:
        bus.add_listener(GuardedSink("bench", sink))
    started = time.perf_counter()
    for _ in range(events):
        bus.publish("metrics", PAYLOAD)
    return (time.perf_counter() - started) / events * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    base = publish_cost(args.events)
    trivial = publish_cost(args.events, lambda event: None)
    with TemporaryDirectory() as folder:
        csv_sink = CsvEventSink(SinkContext(Path(folder), {}))
        csv_cost = publish_cost(args.events, csv_sink)
        csv_sink.close()
    print(f"publish per event: no sink {base:.1f} us, trivial sink {trivial:.1f} us, example CSV sink {csv_cost:.1f} us "
          f"({args.events} metrics events)")
    started = time.perf_counter()
    assets = StaticAssets.of(asset_folder("static"), "https://cdn.example.com/static")
    size = sum((asset_folder("static") / path).stat().st_size for path in assets.hashes)
    print(f"--static-url startup: {len(assets.hashes)} files, {size / 1024:.0f} KiB hashed (sha384) in "
          f"{(time.perf_counter() - started) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
