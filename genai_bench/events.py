"""Typed events and the gevent event bus that carries them to every transport (SSE, WebSocket, files)."""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable

import orjson
from gevent.queue import Empty, Full, Queue

log = logging.getLogger(__name__)

METRICS = "metrics"
HISTOGRAM = "histogram"
SCATTER = "scatter"
STATUS = "status"
LOG = "log"
PROGRESS = "progress"
HEARTBEAT = "heartbeat"
RUN_STARTED = "run_started"
RUN_COMPLETED = "run_completed"
SEARCH = "search"
BENCHMARK_COMPLETED = "benchmark_completed"
SERVER_METRICS = "server_metrics"
ALERT = "alert"
EVENT_TYPES = (METRICS, HISTOGRAM, SCATTER, STATUS, LOG, PROGRESS, HEARTBEAT,
               RUN_STARTED, RUN_COMPLETED, BENCHMARK_COMPLETED, SEARCH, SERVER_METRICS, ALERT)
# The latest event of each of these types describes the current state; a new client gets them on connect.
STATE_TYPES = (STATUS, PROGRESS, METRICS, HISTOGRAM, SCATTER, SEARCH, SERVER_METRICS)
# Alerts are state too, one per rule: a new client also gets the `alert` event of every rule firing now.
ALERT_FIRING = "firing"


@dataclass(frozen=True, slots=True)
class Event:
    """One published event: the §7.2 envelope, serialized once when published."""

    id: int
    event_type: str
    timestamp: float
    data: dict
    json: str
    sse: str

    def to_dict(self) -> dict:
        """The envelope as a plain dict."""
        return {"id": self.id, "event_type": self.event_type, "timestamp": self.timestamp, "data": self.data}

    @classmethod
    def create(cls, event_id: int, event_type: str, data: dict, timestamp: float | None = None) -> Event:
        """Build an event and its JSON text."""
        timestamp = time.time() if timestamp is None else timestamp
        text = orjson.dumps({"id": event_id, "event_type": event_type, "timestamp": timestamp, "data": data},
                            option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS).decode()
        return cls(event_id, event_type, timestamp, data, text, f"id: {event_id}\ndata: {text}\n\n")



class Subscription:
    """One client's bounded queue of events; `overflowed` is set when it fell too far behind and was cut off."""

    def __init__(self, bus: EventBus, types: frozenset[str] | None, maxsize: int) -> None:
        self.bus = bus
        self.types = types
        self.queue: Queue = Queue(maxsize=maxsize)
        self.overflowed = False
        self.ended = False

    def wants(self, event: Event) -> bool:
        """True when the client's type filter lets this event through."""
        return self.types is None or event.event_type in self.types

    def offer(self, event: Event) -> None:
        """Queue an event without ever blocking the publisher; a full queue cuts the client off."""
        if self.overflowed or not self.wants(event):
            return
        try:
            self.queue.put_nowait(event)
        except Full:
            self.overflowed = True
            self.end()

    def end(self) -> None:
        """Unsubscribe and wake the reader with a None so it ends its stream (a cut-off reader loses its backlog)."""
        self.bus.unsubscribe(self)
        self.ended = True
        if self.queue.full():
            self.overflowed = True
            self.queue.queue.clear()
        self.queue.put_nowait(None)

    def get(self, timeout: float) -> Event | None:
        """The next event, or None after `timeout` seconds or once the stream ended (see `ended`)."""
        try:
            return self.queue.get(timeout=timeout)
        except Empty:
            return None

    def close(self) -> None:
        """Stop receiving events."""
        self.bus.unsubscribe(self)


class EventBus:
    """Assigns increasing ids, keeps a bounded history, and fans events out to listeners and subscriber queues."""

    def __init__(self, history_size: int = 4096, subscriber_queue_size: int = 512) -> None:
        self.history: deque[Event] = deque(maxlen=history_size)
        self.latest: dict[str, Event] = {}
        self.firing: dict[str, Event] = {}  # the `alert` event of each rule firing now, by rule
        self.subscriber_queue_size = subscriber_queue_size
        self.subscribers: set[Subscription] = set()
        self.listeners: list[Callable[[Event], None]] = []
        self._ids = itertools.count(1)
        self.closed = False

    def publish(self, event_type: str, data: dict, timestamp: float | None = None) -> Event:
        """Publish one event to the history, the listeners and every subscriber; never blocks."""
        return self.deliver(Event.create(next(self._ids), event_type, data, timestamp))

    def deliver(self, event: Event) -> Event:
        """Publish an event built elsewhere, keeping its id (a Redis mirror's events carry their stream's ids)."""
        self.history.append(event)
        self.latest[event.event_type] = event
        if event.event_type in (ALERT, STATUS):
            self._track_alerts(event)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # a broken listener must never break the benchmark
                log.exception("event listener %r failed", listener)
        for subscription in list(self.subscribers):
            subscription.offer(event)
        return event

    def _track_alerts(self, event: Event) -> None:
        """Keep the firing rules' alert events; a resolve ends one, and a replay starting over forgets them all."""
        if event.event_type == STATUS:
            if event.data.get("status") == "replaying":  # live_events.REPLAYING (not imported: no cycle)
                self.firing.clear()
        elif event.data.get("state") == ALERT_FIRING:
            self.firing[event.data.get("rule")] = event
        else:
            self.firing.pop(event.data.get("rule"), None)

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """Call `listener(event)` synchronously for every published event (e.g. the events.ndjson writer)."""
        self.listeners.append(listener)

    def subscribe(self, types: Iterable[str] | None = None) -> Subscription:
        """A new bounded queue that receives every event published from now on (optionally only some types)."""
        subscription = Subscription(self, frozenset(types) if types else None, self.subscriber_queue_size)
        if self.closed:
            subscription.end()
        else:
            self.subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Remove a subscriber (idempotent)."""
        self.subscribers.discard(subscription)

    @property
    def last_id(self) -> int:
        """Id of the newest event, 0 when none."""
        return self.history[-1].id if self.history else 0

    def since(self, event_id: int) -> list[Event] | None:
        """Events newer than `event_id`, or None when the history cannot catch the client up: some of them already left
        it, or the id is not one this bus gave (negative, or beyond the newest: a client of an earlier server)."""
        if event_id < 0 or event_id > self.last_id:
            return None
        if event_id == self.last_id:
            return []
        if event_id < self.history[0].id - 1:
            return None
        return [event for event in self.history if event.id > event_id]

    def snapshot(self) -> list[Event]:
        """The latest event of each state type and the alert of each rule firing now, in id order: what a newly
        connected client needs first."""
        latest = [self.latest[t] for t in STATE_TYPES if t in self.latest]
        return sorted(latest + list(self.firing.values()), key=lambda e: e.id)

    def close(self) -> None:
        """Tell every subscriber the stream is over (server shutdown)."""
        self.closed = True
        for subscription in list(self.subscribers):
            subscription.end()
