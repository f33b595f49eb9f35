"""Event sinks from plugins (`genai_bench.sinks`): each receives every event the benchmark publishes on its bus.

An entry point names a factory called once per benchmark with a SinkContext; it returns the sink: a callable taking
one event (the §7.2 envelope as a dict: id, event_type, timestamp, data), or an object with `handle(event)`, and
optionally `close()`, called once the benchmark is over. Sinks are called synchronously as events are published, like
the events.ndjson writer: a slow sink slows the publisher, so a sink that does I/O beyond a local file should queue.
A sink that raises is logged (its first failure, then every thousandth) and keeps receiving; it never stops the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genai_bench.events import Event, EventBus
from genai_bench.plugins import SINKS_GROUP, load_group

log = logging.getLogger(__name__)
FAILURES_BETWEEN_REPORTS = 1000


@dataclass(frozen=True)
class SinkContext:
    """What a sink factory is told: the benchmark's experiment folder (created when the first run starts) and its
    settings as the metadata records them (model, task, scenarios...)."""

    experiment_folder: Path
    settings: dict


class GuardedSink:
    """One plugin's sink as a bus listener: an exception in it is logged, never passed on to the publisher."""

    def __init__(self, name: str, sink: Any) -> None:
        self.name = name
        self.handle: Callable[[dict], Any] = sink.handle if hasattr(sink, "handle") else sink
        self.sink = sink
        self.failures = 0

    def __call__(self, event: Event) -> None:
        """Give the sink one event."""
        try:
            self.handle(event.to_dict())
        except Exception as exc:  # a broken sink must never stop the benchmark
            self.failures += 1
            if self.failures % FAILURES_BETWEEN_REPORTS == 1:
                log.warning("sink %r failed on a %s event (%d failure(s) so far): %s: %s", self.name,
                            event.event_type, self.failures, type(exc).__name__, exc)

    def close(self) -> None:
        """Tell the sink the benchmark is over (when it has a close())."""
        close = getattr(self.sink, "close", None)
        if not callable(close):
            return
        try:
            close()
        except Exception as exc:
            log.warning("sink %r failed to close: %s: %s", self.name, type(exc).__name__, exc)


def attach_sinks(bus: EventBus, context: SinkContext,
                 report: Callable[[str], None] = log.warning) -> list[GuardedSink]:
    """Build every installed sink and subscribe it to `bus`; one whose factory fails is reported and skipped."""
    attached = []
    for plugin in load_group(SINKS_GROUP, report):
        try:
            sink = plugin.target(context)
            if not callable(getattr(sink, "handle", sink)):
                raise TypeError(f"{type(sink).__name__} is neither callable nor has handle(event)")
        except Exception as exc:  # a broken plugin must never stop a benchmark
            report(f"plugin {plugin.name!r} ({SINKS_GROUP}) failed to start and is skipped: {type(exc).__name__}: {exc}")
            continue
        guarded = GuardedSink(plugin.name, sink)
        bus.add_listener(guarded)
        attached.append(guarded)
    return attached
