"""The dashboard's state, derived only from the event stream, so live runs and replays build it the same way."""

from __future__ import annotations

from collections import deque

from genai_bench import events
from genai_bench.events import Event

IDLE_STATUS = {
    "status": "idle", "current_scenario": None, "traffic_scenario": None, "current_concurrency": None,
    "current_request_rate": None,
    "current_iteration": 0, "total_iterations": 0, "total_scenarios": 0, "progress_percentage": 0.0,
    "start_time": None, "estimated_end_time": None, "error_message": None,
}


def timeseries_point(event: Event) -> dict:
    """One point of the live charts from a metrics event."""
    live = event.data["live_metrics"]
    stats = live.get("stats") or {}

    def stat(metric: str, name: str) -> float | None:
        return (stats.get(metric) or {}).get(name)

    return {
        "t": event.timestamp,
        "elapsed": live.get("elapsed"),
        "scenario": live.get("scenario"),
        "concurrency": live.get("concurrency"),
        "ttft_p50": stat("ttft", "p50"),
        "ttft_p99": stat("ttft", "p99"),
        "tpot_p50": stat("tpot", "p50"),
        "e2e_latency_p50": stat("e2e_latency", "p50"),
        "e2e_latency_p99": stat("e2e_latency", "p99"),
        "requests_per_second": live.get("requests_per_second"),
        "output_tokens_per_second": live.get("output_tokens_per_second"),
        "errors": live.get("errors"),
        "error_rate": live.get("error_rate"),
    }


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
        self.logs: deque[dict] = deque(maxlen=self.log_capacity)
        self.completed: dict | None = None

    def apply(self, event: Event) -> None:
        """Fold one event into the state (a bus listener)."""
        self.last_event_id = event.id
        kind = event.event_type
        if kind == events.STATUS:
            if event.data.get("status") == "replaying":
                self.reset()
            self.status = {**self.status, **event.data}
        elif kind == events.RUN_COMPLETED:
            self.history.append(event.data)
        elif kind == events.METRICS:
            self.series.add(timeseries_point(event))
        elif kind == events.LOG:
            self.logs.append({**event.data, "timestamp": event.timestamp})
        elif kind == events.BENCHMARK_COMPLETED:
            self.completed = event.data
        elif kind == events.RUN_STARTED:
            self.latest.pop(events.HISTOGRAM, None)
        if kind in events.STATE_TYPES and kind != events.STATUS:
            self.latest[kind] = event.data

    def document(self) -> dict:
        """Everything the page needs on load (GET /api/state)."""
        return {
            "status": self.status,
            "progress": self.latest.get(events.PROGRESS),
            "metrics": self.latest.get(events.METRICS),
            "histogram": self.latest.get(events.HISTOGRAM),
            "scatter": self.latest.get(events.SCATTER),
            "history": self.history,
            "timeseries": self.series.points,
            "logs": list(self.logs),
            "completed": self.completed,
            "last_event_id": self.last_event_id,
        }
