"""The event bus: envelopes, ids, history, fan-out, filtering and slow subscribers."""

import json

from genai_bench import events
from genai_bench.events import EventBus


def test_envelope_has_increasing_ids_and_serializes_once():
    bus = EventBus()
    first = bus.publish(events.STATUS, {"status": "running"})
    second = bus.publish(events.LOG, {"message": "hi", "level": "info"})
    assert (first.id, second.id) == (1, 2)
    envelope = json.loads(second.json)
    assert set(envelope) == {"id", "event_type", "timestamp", "data"}
    assert envelope["data"] == {"message": "hi", "level": "info"}
    assert second.sse == f"id: 2\ndata: {second.json}\n\n"


def test_since_replays_from_history_and_reports_gaps():
    bus = EventBus(history_size=3)
    for i in range(5):
        bus.publish(events.LOG, {"message": str(i)})
    assert [e.id for e in bus.since(3)] == [4, 5]
    assert bus.since(5) == []
    assert bus.since(1) is None  # events 2 was dropped from the ring buffer


def test_subscribers_get_filtered_events_and_listeners_all():
    bus = EventBus()
    seen = []
    bus.add_listener(seen.append)
    only_status = bus.subscribe([events.STATUS])
    bus.publish(events.LOG, {"message": "x"})
    bus.publish(events.STATUS, {"status": "running"})
    assert only_status.get(timeout=0.1).event_type == events.STATUS
    assert only_status.get(timeout=0.01) is None
    assert [e.event_type for e in seen] == [events.LOG, events.STATUS]


def test_full_subscriber_is_cut_off_without_blocking_others():
    bus = EventBus(subscriber_queue_size=2)
    stalled, healthy = bus.subscribe(), bus.subscribe()
    for i in range(5):
        bus.publish(events.LOG, {"message": str(i)})
        assert healthy.get(timeout=0.1).data["message"] == str(i)
    assert stalled.overflowed and stalled.ended
    assert stalled not in bus.subscribers and healthy in bus.subscribers


def test_a_failing_listener_does_not_stop_publishing():
    bus = EventBus()
    bus.add_listener(lambda event: 1 / 0)
    assert bus.publish(events.LOG, {"message": "still here"}).id == 1


def test_snapshot_holds_latest_state_events_in_order():
    bus = EventBus()
    bus.publish(events.STATUS, {"status": "idle"})
    bus.publish(events.METRICS, {"live_metrics": {}})
    bus.publish(events.STATUS, {"status": "running"})
    bus.publish(events.LOG, {"message": "not state"})
    snapshot = bus.snapshot()
    assert [(e.event_type, e.id) for e in snapshot] == [(events.METRICS, 2), (events.STATUS, 3)]


def test_snapshot_holds_the_alert_of_each_rule_firing_now():
    bus = EventBus()
    bus.publish(events.ALERT, {"state": "firing", "rule": "a>1"})
    bus.publish(events.ALERT, {"state": "firing", "rule": "b>1"})
    bus.publish(events.STATUS, {"status": "running"})
    bus.publish(events.ALERT, {"state": "resolved", "rule": "a>1"})
    bus.publish(events.ALERT, {"state": "firing", "rule": "b>1"})  # a newer firing event replaces the older one
    assert [(e.event_type, e.id) for e in bus.snapshot()] == [(events.STATUS, 3), (events.ALERT, 5)]
    bus.publish(events.STATUS, {"status": "replaying"})  # a replay starts over: no rule fires in it yet
    assert [e.event_type for e in bus.snapshot()] == [events.STATUS]


def test_close_ends_subscribers_and_later_subscriptions():
    bus = EventBus()
    subscription = bus.subscribe()
    bus.close()
    assert subscription.get(timeout=0.1) is None and subscription.ended
    assert bus.subscribe().ended
