"""Replay re-publishes an experiment's events in their original order and pacing."""

import json

import gevent
import pytest

from genai_bench.events import EventBus
from genai_bench.replay import Replayer, ReplayError
from genai_bench.results import ExperimentLibrary
from genai_bench.state import DashboardState


def test_replay_emits_the_original_events_in_order(finished_experiment):
    bus = EventBus(history_size=100_000)
    state = DashboardState()
    bus.add_listener(state.apply)
    library = ExperimentLibrary([finished_experiment])
    replayer = Replayer(bus, library)
    started = replayer.start(finished_experiment.name, speed=1000)
    replayer.greenlet.join(timeout=30)
    original = [json.loads(line) for line in (finished_experiment / "events.ndjson").read_text().splitlines()]
    replayed = list(bus.history)
    assert started["events"] == len(original)
    assert replayed[0].data["status"] == "replaying"
    assert [e.event_type for e in replayed[1:]] == [o["event_type"] for o in original]
    for event, stored in zip(replayed[1:], original):
        if event.event_type == "metrics":  # its chart point is re-stamped onto the replay's own timeline
            assert event.data["point"]["t"] == event.timestamp != stored["data"]["point"]["t"]
            assert {**event.data["point"], "t": None} == {**stored["data"]["point"], "t": None}
            assert event.data["live_metrics"] == stored["data"]["live_metrics"]
        elif event.event_type == "status":  # marked as a replay's, so a page loading now knows
            assert event.data == {**stored["data"], "experiment": finished_experiment.name, "replay_speed": 1000}
        else:
            assert event.data == stored["data"]
    assert replayer.status() == {"replaying": False, "experiment": None, "published": len(original),
                                 "total": len(original), "speed": 1000}
    # The state the page loads is rebuilt from the replayed events alone.
    assert len(state.history) == 2 and state.completed["status"] == "completed"


def test_replay_refuses_bad_speed_and_missing_log(finished_experiment, tmp_path):
    import shutil

    copy = shutil.copytree(finished_experiment, tmp_path / "no-events")
    (copy / "events.ndjson").unlink()
    replayer = Replayer(EventBus(), ExperimentLibrary([copy]))
    with pytest.raises(ReplayError) as bad_speed:
        replayer.start("no-events", speed=0)
    assert bad_speed.value.status == 400
    with pytest.raises(ReplayError) as no_log:
        replayer.start("no-events", speed=10)
    assert no_log.value.status == 409


def test_replay_keeps_relative_pacing(finished_experiment):
    bus = EventBus(history_size=100_000)
    replayer = Replayer(bus, ExperimentLibrary([finished_experiment]))
    original = [json.loads(line) for line in (finished_experiment / "events.ndjson").read_text().splitlines()]
    span = original[-1]["timestamp"] - original[0]["timestamp"]
    speed = max(1.0, span / 0.5)  # aim for about half a second
    start = gevent.get_hub().loop.now()
    replayer.start(finished_experiment.name, speed=speed)
    replayer.greenlet.join(timeout=30)
    took = gevent.get_hub().loop.now() - start
    assert took >= span / speed * 0.9
