"""Dashboards that publish what the runner tells them as events on the bus (spec §7.1, §7.2)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Callable

from genai_bench import events, live_events
from genai_bench.dashboard import Dashboard
from genai_bench.events import EventBus
from genai_bench.live_events import IDLE_STATUS, PlannedRun
from genai_bench.results import ExperimentLibrary
from genai_bench.state import attach_state
from genai_bench.web import create_app
from genai_bench.web.server import DashboardServer

FINAL_STATUSES = ("completed", "stopped", "failed")


class EventDashboard(Dashboard):
    """The §7.1 interface over the event bus, for programs that drive a dashboard themselves (the seed's API).

    Each call publishes the matching event, built by its `live_events` function. A benchmark session does not go
    through here: its runner's hooks reach the bus through `publisher.LivePublisher`.
    """

    def __init__(self, bus: EventBus | None = None, context: dict | None = None) -> None:
        self.bus = bus or EventBus()
        self.state = attach_state(self.bus)
        self.context = dict(context or {})
        # §7.1 callers send some fields at a time; merged here once, so every status event is complete.
        self.status: dict = {**IDLE_STATUS, **self.context}
        self.run_name = ""

    def update_metrics_panels(self, live_metrics: dict) -> None:
        """Publish a `metrics` event."""
        now = time.time()
        self.bus.publish(events.METRICS, live_events.metrics(live_metrics, None, now), now)

    def update_histogram_panel(self, live_metrics: dict) -> None:
        """Publish a `histogram` event (`live_metrics` holds `histograms` and the run's labels)."""
        self.bus.publish(events.HISTOGRAM, live_events.histogram(live_metrics, live_metrics.get("histograms") or {}, None))

    def update_scatter_plot_panel(self, points: list[dict]) -> None:
        """Publish a `scatter` event with one point per finished run."""
        self.bus.publish(events.SCATTER, {"points": points})

    def update_benchmark_progress_bars(self, progress: dict) -> None:
        """Publish a `progress` event for the current run."""
        share = live_events.run_percentage(progress["requests_done"], progress.get("max_requests"),
                                           progress["elapsed"], progress.get("max_time"))
        self.bus.publish(events.PROGRESS, {**progress, "run_name": self.run_name, "run_progress_percentage": share})

    def create_benchmark_progress_task(self, run_name: str) -> None:
        """Remember the current run's name."""
        self.run_name = run_name

    def update_total_progress_bars(self, total_runs: int) -> None:
        """Nothing to publish: the status carries the sweep's progress."""

    def start_run(self, run_time: float, start_time: float, max_requests_per_run: int | None) -> None:
        """Publish `run_started` for the run the status names."""
        status = self.status
        run = PlannedRun(str(status.get("current_scenario")), status.get("current_concurrency"),
                         status.get("current_request_rate"), status.get("current_iteration") or 1,
                         status.get("total_iterations") or 0, None, run_time, max_requests_per_run)
        self.bus.publish(events.RUN_STARTED, {**live_events.run_started(run, start_time), "label": self.run_name})

    def handle_single_request(self, live_metrics: dict, total_requests: int, error_code: str | None) -> None:
        """Nothing per request: snapshots come on a timer, so the hot path stays O(1)."""

    def reset_plot_metrics(self) -> None:
        """Nothing to reset: clients reset their per-run panels on `run_started`."""

    def reset_panels(self) -> None:
        """Nothing to reset: clients reset their per-run panels on `run_started`."""

    def update_benchmark_status(self, **fields: Any) -> None:
        """Publish the merged `status`; a final status also publishes `benchmark_completed`."""
        self.status = {**self.status, **fields, **self.context}
        self.bus.publish(events.STATUS, dict(self.status))
        if fields.get("status") in FINAL_STATUSES:
            self.bus.publish(events.BENCHMARK_COMPLETED, live_events.benchmark_completed(
                fields["status"], len(self.state.history), self.context.get("experiment_folder")))

    def add_log_message(self, message: str, level: str = "info") -> None:
        """Publish a `log` event."""
        self.bus.publish(events.LOG, live_events.log(message, level))

    def add_historical_data(self, data: dict) -> None:
        """Publish `run_completed` with the run's aggregated metrics (the state keeps them)."""
        self.bus.publish(events.RUN_COMPLETED, live_events.run_completed(None, data))

    def get_historical_data(self) -> list[dict]:
        """Aggregated metrics of the runs completed so far."""
        return list(self.state.history)


class StreamingDashboard(EventDashboard):
    """An EventDashboard with its own web server: the live page, /events, /ws and the JSON API."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, token: str | None = None,
                 bus: EventBus | None = None, context: dict | None = None) -> None:
        super().__init__(bus, context)
        folder = self.context.get("experiment_folder")
        library = ExperimentLibrary(live_folder=Path(folder)) if folder else None
        app = create_app(self.bus, library, token=token, state=self.state, allowed_hosts=(host,))
        self.server = DashboardServer(app, host=host, port=port)

    @property
    def url(self) -> str:
        """The page's address."""
        return self.server.url

    def start(self) -> "ServerLifetime":
        """Bind and serve now (in a greenlet); the result may be ignored, or awaited/`create_task`ed from asyncio."""
        self.server.start()
        return ServerLifetime(self.server.wait_stopped)

    def stop(self) -> "Finished":
        """Stop serving now: streams end, the port is released; the result may be awaited from asyncio."""
        self.server.stop()
        return Finished()


class ServerLifetime(Coroutine):
    """A coroutine that ends when the server stops, created only if asyncio runs it (so ignoring it never warns)."""

    def __init__(self, is_stopped: Callable[[float], bool]) -> None:
        self._is_stopped = is_stopped
        self._coroutine = None

    async def _wait(self) -> None:
        while not self._is_stopped(0):
            await asyncio.sleep(0.2)

    def _inner(self):
        if self._coroutine is None:
            self._coroutine = self._wait()
        return self._coroutine

    def send(self, value: Any) -> Any:
        """Advance the waiting coroutine."""
        return self._inner().send(value)

    def throw(self, *args: Any) -> Any:
        """Raise inside the waiting coroutine (asyncio cancellation)."""
        return self._inner().throw(*args)

    def close(self) -> None:
        """Close the waiting coroutine if it was ever started."""
        if self._coroutine is not None:
            self._coroutine.close()

    def __await__(self):
        return self._inner().__await__()


class Finished:
    """An awaitable that is already done, so `await dashboard.stop()` works from asyncio."""

    def __await__(self):
        return iter(())
