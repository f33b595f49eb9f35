"""Event sinks from plugins (`genai_bench.sinks`): each receives every event the benchmark publishes on its bus.

An entry point names a factory called once per benchmark with a SinkContext; it returns the sink: a callable taking
one event (the §7.2 envelope as a dict: id, event_type, timestamp, data), or an object with `handle(event)`, and
optionally `close()`, called once the benchmark is over. Each sink runs on its own greenlet behind a bounded queue
(its `queue_size` attribute, else QUEUE_SIZE events), so a slow sink never slows publishing: when its queue is full
the oldest queued event is dropped, counted and logged. Closing delivers what is queued (within a bound) first.
A sink that raises is logged (its first failure, then every thousandth) and keeps receiving; it never stops the run.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event as Signal

from genai_bench.events import Event, EventBus
from genai_bench.plugins import SINKS_GROUP, load_group

log = logging.getLogger(__name__)
FAILURES_BETWEEN_REPORTS = 1000
DROPS_BETWEEN_REPORTS = 1000
QUEUE_SIZE = 10_000  # events waiting per sink (a sink may set its own `queue_size`); beyond it the oldest are dropped
CLOSE_TIMEOUT = 15.0  # seconds, for all sinks together, to deliver what is queued when the benchmark is over


@dataclass(frozen=True)
class SinkContext:
    """What a sink factory is told: the benchmark's experiment folder (created when the first run starts) and its
    settings as the metadata records them (model, task, scenarios...)."""

    experiment_folder: Path
    settings: dict


class GuardedSink:
    """One plugin's sink as a bus listener: events queue (bounded, oldest dropped) for its own greenlet, and an
    exception in it is logged, never passed on to the publisher."""

    def __init__(self, name: str, sink: Any, queue_size: int | None = None) -> None:
        self.name = name
        self.handle: Callable[[dict], Any] = sink.handle if hasattr(sink, "handle") else sink
        self.sink = sink
        self.queue_size = max(1, int(queue_size or getattr(sink, "queue_size", None) or QUEUE_SIZE))
        self.failures = 0
        self.dropped = 0
        self.delivered = 0
        self.pending: deque[Event] = deque()
        self.wakeup = Signal()
        self.closing = False
        self.greenlet = gevent.spawn(self._loop)
        self.greenlet.link_exception(lambda g: log.error("sink %r stopped: %r", self.name, g.exception))

    def __call__(self, event: Event) -> None:
        """Queue one event for the sink without blocking; a full queue drops its oldest event."""
        if self.closing:
            return
        if len(self.pending) >= self.queue_size:
            dropped = self.pending.popleft()
            self.dropped += 1
            if self.dropped % DROPS_BETWEEN_REPORTS == 1:
                log.warning("sink %r is %d events behind: dropped the oldest (a %s event; %d dropped so far)",
                            self.name, self.queue_size, dropped.event_type, self.dropped)
        self.pending.append(event)
        self.wakeup.set()

    def _loop(self) -> None:
        while True:
            while self.pending:
                self._deliver(self.pending.popleft())
            if self.closing:
                return
            self.wakeup.clear()  # nothing yields between the empty check and here: no event is missed
            self.wakeup.wait()

    def _deliver(self, event: Event) -> None:
        try:
            self.handle(event.to_dict())
            self.delivered += 1
        except Exception as exc:  # a broken sink must never stop the benchmark
            self.failures += 1
            if self.failures % FAILURES_BETWEEN_REPORTS == 1:
                log.warning("sink %r failed on a %s event (%d failure(s) so far): %s: %s", self.name,
                            event.event_type, self.failures, type(exc).__name__, exc)

    def finish(self) -> None:
        """Take no more events; the greenlet ends once what is queued was delivered."""
        self.closing = True
        self.wakeup.set()

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Deliver what is queued (at most `timeout` seconds), then tell the sink the benchmark is over."""
        close_sinks([self], timeout)

    def close_flushed(self) -> None:
        """After the flush (close_sinks): end a greenlet still stuck in the sink, report the drops, call close()."""
        if not self.greenlet.dead:
            self.greenlet.kill(timeout=1.0)  # the sink's greenlet is stuck: end it (bounded) before close()
            log.warning("sink %r did not take its last %d event(s) in time; they are dropped", self.name,
                        len(self.pending))
        if self.dropped:
            log.warning("sink %r dropped %d event(s) in all (its queue holds %d)", self.name, self.dropped,
                        self.queue_size)
        close = getattr(self.sink, "close", None)
        if not callable(close):
            return
        try:
            close()
        except Exception as exc:
            log.warning("sink %r failed to close: %s: %s", self.name, type(exc).__name__, exc)


def close_sinks(sinks: list[GuardedSink], timeout: float = CLOSE_TIMEOUT) -> None:
    """Flush every sink's queue, waiting at most `timeout` seconds in all, then close each."""
    for sink in sinks:
        sink.finish()
    gevent.joinall([sink.greenlet for sink in sinks], timeout=timeout)
    for sink in sinks:
        sink.close_flushed()


def attach_sinks(bus: EventBus, context: SinkContext,
                 report: Callable[[str], None] = log.warning) -> list[GuardedSink]:
    """Build every installed sink and subscribe it to `bus`; one whose factory fails is reported and skipped."""
    attached = []
    for plugin in load_group(SINKS_GROUP, report):
        try:
            sink = plugin.target(context)
            if not callable(getattr(sink, "handle", sink)):
                raise TypeError(f"{type(sink).__name__} is neither callable nor has handle(event)")
            guarded = GuardedSink(plugin.name, sink)  # a queue_size that is not a number raises here
        except Exception as exc:  # a broken plugin must never stop a benchmark
            report(f"plugin {plugin.name!r} ({SINKS_GROUP}) failed to start and is skipped: {type(exc).__name__}: {exc}")
            continue
        bus.add_listener(guarded)
        attached.append(guarded)
    return attached
