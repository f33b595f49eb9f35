"""Replaying an experiment's event log through the live stream, at a chosen speed."""

from __future__ import annotations

import logging
import time

import gevent

from genai_bench import events, live_events
from genai_bench.events import EventBus
from genai_bench.results import ExperimentLibrary, read_events

log = logging.getLogger(__name__)
MIN_SPEED, MAX_SPEED = 1.0, 1000.0


class ReplayError(ValueError):
    """A replay cannot start; `status` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Replayer:
    """Re-publishes a stored events.ndjson on the bus with its original pacing divided by `speed` (one at a time)."""

    def __init__(self, bus: EventBus, library: ExperimentLibrary) -> None:
        self.bus = bus
        self.library = library
        self.greenlet: gevent.Greenlet | None = None
        self.experiment_id: str | None = None
        self.published = 0
        self.total = 0
        self.speed = 1.0

    def start(self, experiment_id: str, speed: float) -> dict:
        """Begin replaying (stopping any replay under way); raises ReplayError or ExperimentNotFound."""
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise ReplayError(400, f"speed must be between {MIN_SPEED:g} and {MAX_SPEED:g}")
        experiment = self.library.get(experiment_id)
        stored, _ = read_events(experiment.events_path)
        stored = [e for e in stored if e.get("event_type") in events.EVENT_TYPES and e.get("event_type") != events.HEARTBEAT]
        if not stored:
            raise ReplayError(409, f"experiment {experiment_id!r} has no recorded events to replay")
        self.stop()
        self.experiment_id, self.speed, self.total, self.published = experiment_id, speed, len(stored), 0
        self.greenlet = gevent.spawn(self._replay, stored, experiment.summary())
        self.greenlet.link_exception(lambda g: log.error("replay failed: %s", g.exception))
        return {"replaying": True, "events": self.total, "speed": speed}

    def stop(self) -> None:
        """Stop the replay under way, if any."""
        if self.greenlet is not None:
            self.greenlet.kill()
            self.greenlet = None

    def status(self) -> dict:
        """What is being replayed and how far it got."""
        running = self.greenlet is not None and not self.greenlet.dead
        return {"replaying": running, "experiment": self.experiment_id if running else None,
                "published": self.published, "total": self.total, "speed": self.speed}

    def _replay(self, stored: list[dict], summary: dict) -> None:
        # Clients and the dashboard state start over on this status before the old events arrive.
        self.bus.publish(events.STATUS, live_events.replay_status(summary, self.speed))
        origin, started = stored[0].get("timestamp", 0.0), time.monotonic()
        for stored_event in stored:
            due = started + (stored_event.get("timestamp", origin) - origin) / self.speed
            gevent.sleep(max(0.0, due - time.monotonic()))
            kind, data, now = stored_event["event_type"], stored_event.get("data") or {}, time.time()
            if kind == events.METRICS:  # the chart point lives on the replay's own timeline
                data = live_events.metrics(data["live_metrics"], data.get("run_key"), now)
            elif kind == events.STATUS:  # a page loading mid-replay learns from any status that it is one
                data = {**data, **live_events.replay_marks(summary, self.speed)}
            self.bus.publish(kind, data, now)
            self.published += 1
