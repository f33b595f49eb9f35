"""The dashboard's state, derived only from the event stream, so live runs and replays build it the same way."""

from __future__ import annotations

from collections import deque

from genai_bench import events
from genai_bench.events import Event, EventBus
from genai_bench.live_events import IDLE_STATUS, REPLAYING


class DecimatingSeries:
    """A bounded time series: when full it keeps every other point and samples half as often, so an hour fits."""

    def __init__(self, capacity: int = 2000) -> None:
        self.capacity = capacity
        self.points: list[dict] = []
        self.stride = 1
        self._seen = 0

    def add(self, point: dict) -> None:
        """Offer a point; kept when it falls on the current stride."""
        self._seen += 1
        if self._seen % self.stride:
            return
        self.points.append(point)
        if len(self.points) >= self.capacity:
            self.points = self.points[::2]
            self.stride *= 2


class DashboardState:
    """Current status, latest snapshots, completed runs, chart history and recent logs, fed by events."""

    def __init__(self, series_capacity: int = 2000, log_capacity: int = 200) -> None:
        self.series_capacity = series_capacity
        self.log_capacity = log_capacity
        self.reset()
        self.last_event_id = 0

    def reset(self) -> None:
        """Forget everything (a replay is starting)."""
        self.status: dict = dict(IDLE_STATUS)
        self.latest: dict[str, dict] = {}
        self.history: list[dict] = []
        self.series = DecimatingSeries(self.series_capacity)
        self.server_series = DecimatingSeries(self.series_capacity)  # server_metrics data, thinned like the points
        self.logs: deque[dict] = deque(maxlen=self.log_capacity)
        self.completed: dict | None = None
        self.alerts: deque[dict] = deque(maxlen=self.log_capacity)  # alert data, fired and resolved, in order

    def apply(self, event: Event) -> None:
        """Fold one event into the state (a bus listener)."""
        self.last_event_id = event.id
        kind = event.event_type
        if kind == events.STATUS:
            if event.data.get("status") == REPLAYING:
                self.reset()
            self.status = event.data  # always complete (live_events.status): replaced, never merged
        elif kind == events.RUN_COMPLETED:
            self.history.append(event.data)
        elif kind == events.METRICS:
            self.series.add(event.data["point"])
        elif kind == events.SERVER_METRICS:
            self.server_series.add(event.data)
        elif kind == events.LOG:
            self.logs.append({**event.data, "timestamp": event.timestamp})
        elif kind == events.ALERT:
            self.alerts.append(event.data)
        elif kind == events.BENCHMARK_COMPLETED:
            self.completed = event.data
        elif kind == events.RUN_STARTED:
            self.latest.pop(events.HISTOGRAM, None)
        if kind in events.STATE_TYPES and kind != events.STATUS:
            self.latest[kind] = event.data

    def document(self) -> dict:
        """Everything the page needs on load (GET /api/state): each value is the data of the matching event type."""
        return {
            "status": self.status,
            "progress": self.latest.get(events.PROGRESS),
            "metrics": self.latest.get(events.METRICS),
            "histogram": self.latest.get(events.HISTOGRAM),
            "scatter": self.latest.get(events.SCATTER),
            "search": self.latest.get(events.SEARCH),
            "history": self.history,
            "timeseries": self.series.points,
            "server": self.latest.get(events.SERVER_METRICS),
            "server_timeseries": self.server_series.points,
            "logs": list(self.logs),
            "alerts": list(self.alerts),
            "completed": self.completed,
            "last_event_id": self.last_event_id,
        }


def attach_state(bus: EventBus) -> DashboardState:
    """A new state that folds in every event published on `bus` from now on."""
    state = DashboardState()
    bus.add_listener(state.apply)
    return state
