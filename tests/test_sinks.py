"""Event sinks from plugins (sinks.py): every bus event reaches each sink; a raising one is logged, never passed on."""

from __future__ import annotations

import logging

from genai_bench.events import EventBus
from genai_bench.plugins import SINKS_GROUP
from genai_bench.sinks import SinkContext, attach_sinks
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
    assert [sink.name for sink in sinks] == ["a-raising", "b-recorder"]
    assert len(reports) == 1 and "'c-refusing'" in reports[0] and "RuntimeError: cannot start" in reports[0]
    assert [(model, i, t) for model, i, t, _ in sinks_mod.received] == [("m", i, "log") for i in range(1, 6)]
    assert sinks_mod.received[0][3] == {"message": "line 0"}
    # The raising sink is logged once (its first failure), not five times, and it is counted.
    failures = [r for r in caplog.records if "a-raising" in r.getMessage()]
    assert len(failures) == 1 and "ValueError: this sink always fails" in failures[0].getMessage()
    assert sinks[0].failures == 5
    for sink in sinks:
        sink.close()
    assert sinks_mod.closed == [True]
