"""Event sinks from plugins (sinks.py): every bus event reaches each sink; a raising one is logged, never passed on."""

from __future__ import annotations

import logging

import gevent

from genai_bench.events import EventBus
from genai_bench.plugins import SINKS_GROUP
from genai_bench.sinks import GuardedSink, SinkContext, attach_sinks, close_sinks
from tests.support.plugins import write_distribution

SINKS_MODULE = '''
received = []
closed = []


class Recorder:
    def __init__(self, context):
        self.context = context

    def handle(self, event):
        received.append((self.context.settings["model"], event["id"], event["event_type"], event["data"]))

    def close(self):
        closed.append(True)


def raising(context):
    def sink(event):
        raise ValueError("this sink always fails")
    return sink


def refusing(context):
    raise RuntimeError("cannot start")
'''


def test_every_event_reaches_each_sink_and_a_raising_sink_never_stops_the_bus(tmp_path, monkeypatch, caplog):
    folder = write_distribution(tmp_path / "dist", "sink-plugins", {SINKS_GROUP: {
        "a-raising": "sinks_mod:raising", "b-recorder": "sinks_mod:Recorder", "c-refusing": "sinks_mod:refusing"}},
        {"sinks_mod": SINKS_MODULE})
    monkeypatch.syspath_prepend(str(folder))
    import sinks_mod

    bus = EventBus()
    reports: list[str] = []
    with caplog.at_level(logging.WARNING, logger="genai_bench.sinks"):
        sinks = attach_sinks(bus, SinkContext(tmp_path / "exp", {"model": "m"}), reports.append)
        for index in range(5):
            bus.publish("log", {"message": f"line {index}"})
        for sink in sinks:
            sink.close()  # what is queued is delivered first
    assert [sink.name for sink in sinks] == ["a-raising", "b-recorder"]
    assert len(reports) == 1 and "'c-refusing'" in reports[0] and "RuntimeError: cannot start" in reports[0]
    assert [(model, i, t) for model, i, t, _ in sinks_mod.received] == [("m", i, "log") for i in range(1, 6)]
    assert sinks_mod.received[0][3] == {"message": "line 0"}
    # The raising sink is logged once (its first failure), not five times, and it is counted.
    failures = [r for r in caplog.records if "a-raising" in r.getMessage()]
    assert len(failures) == 1 and "ValueError: this sink always fails" in failures[0].getMessage()
    assert sinks[0].failures == 5
    assert sinks_mod.closed == [True]


class SlowSink:
    """Takes 50 ms per event (a remote store, say), on the greenlet the sink runs on."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.closed_with = None

    def handle(self, event: dict) -> None:
        gevent.sleep(0.05)
        self.ids.append(event["id"])

    def close(self) -> None:
        self.closed_with = list(self.ids)


def publish_some(bus: EventBus, count: int) -> None:
    """Publish `count` log events without yielding to other greenlets."""
    for index in range(count):
        bus.publish("log", {"message": f"line {index}"})


def test_a_slow_sink_never_slows_publishing_and_gets_every_event_when_its_queue_holds_them():
    bus, sink = EventBus(), SlowSink()
    guarded = GuardedSink("slow", sink, queue_size=100)
    bus.add_listener(guarded)
    publish_some(bus, 40)
    # Called synchronously the sink would have taken all 40 (2 s) before publish returned: it has none yet.
    assert sink.ids == [] and len(guarded.pending) == 40
    close_sinks([guarded], timeout=10)
    assert sink.ids == list(range(1, 41)) and guarded.dropped == 0
    assert sink.closed_with == sink.ids  # close() comes after the queue was delivered


def test_a_full_sink_queue_drops_its_oldest_events_counted_and_logged_once(caplog):
    bus, sink = EventBus(), SlowSink()
    guarded = GuardedSink("slow", sink, queue_size=5)
    bus.add_listener(guarded)
    with caplog.at_level(logging.WARNING, logger="genai_bench.sinks"):
        publish_some(bus, 30)
        close_sinks([guarded], timeout=10)
    # Nothing ran between the publishes: the sink gets the 5 newest events; the 25 oldest were dropped.
    assert guarded.dropped == 25 and sink.ids == list(range(26, 31))
    lines = [r.getMessage() for r in caplog.records]
    assert sum("dropped the oldest" in line for line in lines) == 1
    assert any("dropped 25 event(s) in all" in line for line in lines)


def test_a_sink_declares_its_own_queue_size_and_one_that_never_finishes_is_cut_off(caplog):
    class Stuck:
        queue_size = 3

        def __call__(self, event: dict) -> None:
            gevent.sleep(60)

    bus = EventBus()
    guarded = GuardedSink("stuck", Stuck())
    bus.add_listener(guarded)
    assert guarded.queue_size == 3
    publish_some(bus, 3)
    gevent.sleep(0)  # the sink takes the first event and hangs on it
    with caplog.at_level(logging.WARNING, logger="genai_bench.sinks"):
        close_sinks([guarded], timeout=0.3)
    assert guarded.greenlet.dead
    assert any("did not take its last 2 event(s) in time" in r.getMessage() for r in caplog.records)
