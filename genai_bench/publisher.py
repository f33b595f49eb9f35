"""The bus publisher: turns the sweep's hooks into events on the bus, each built by its `live_events` function."""

from __future__ import annotations

from genai_bench import events, live_events
from genai_bench.events import EventBus
from genai_bench.hooks import SweepHooks
from genai_bench.live_events import AlertChange, PlannedRun, RunProgress, SearchProgress, SweepStatus
from genai_bench.servermetrics.runs import ServerSample


class LivePublisher:
    """Listens to a sweep's hooks and publishes what each means; `context` labels every status (model, folder...)."""

    def __init__(self, bus: EventBus, context: dict | None = None) -> None:
        self.bus = bus
        self.context = dict(context or {})

    def attach(self, hooks: SweepHooks) -> LivePublisher:
        """Subscribe to every hook that has a live event."""
        hooks.status.add_listener(self.on_status)
        hooks.run_started.add_listener(self.on_run_started)
        hooks.live_tick.add_listener(self.on_live_tick)
        hooks.run_finished.add_listener(self.on_run_finished)
        hooks.search.add_listener(self.on_search)
        hooks.server_metrics.add_listener(self.on_server_metrics)
        hooks.log.add_listener(self.on_log)
        hooks.alert.add_listener(self.on_alert)
        return self

    def on_status(self, sweep: SweepStatus) -> None:
        """Publish the complete `status`."""
        self.bus.publish(events.STATUS, live_events.status(sweep, self.context))

    def on_run_started(self, run: PlannedRun, start_time: float) -> None:
        """Publish `run_started` and a log line."""
        self.bus.publish(events.RUN_STARTED, live_events.run_started(run, start_time))
        self.on_log(f"Run {run.index}/{run.total} started: {run.label}")

    def on_live_tick(self, progress: RunProgress, live_metrics: dict, histograms: dict, timestamp: float) -> None:
        """Publish `metrics` (with its chart point), `histogram` and `progress`."""
        key = progress.run.key
        self.bus.publish(events.METRICS, live_events.metrics(live_metrics, key, timestamp), timestamp)
        self.bus.publish(events.HISTOGRAM, live_events.histogram(live_metrics, histograms, key), timestamp)
        self.bus.publish(events.PROGRESS, live_events.progress(progress), timestamp)

    def on_run_finished(self, run: PlannedRun, result, results: list) -> None:
        """Publish `run_completed`, then the `scatter` of every finished run."""
        self.bus.publish(events.RUN_COMPLETED, live_events.run_completed(run, result.statistics))
        finished = live_events.completed_runs(results)
        self.bus.publish(events.SCATTER, live_events.scatter(finished))

    def on_search(self, progress: SearchProgress) -> None:
        """Publish the capacity search's `search` progress, and its outcome as a log line when it is done."""
        data = live_events.search(progress)
        self.bus.publish(events.SEARCH, data)
        if progress.done:
            self.on_log(data["summary"])

    def on_server_metrics(self, sample: ServerSample, run_key: str | None) -> None:
        """Publish one scrape of the servers' /metrics, stamped with the scrape's time."""
        self.bus.publish(events.SERVER_METRICS, live_events.server_metrics(sample, run_key), sample.t)

    def on_alert(self, alert: AlertChange) -> None:
        """Publish the `alert` (stamped with its time, so the page marks it there) and its line for the log panel."""
        data = live_events.alert(alert)
        self.bus.publish(events.ALERT, data, alert.t)
        self.on_log(data["text"], "warning" if alert.state == "firing" else "info")

    def on_log(self, message: str, level: str = "info") -> None:
        """Publish a `log` line."""
        self.bus.publish(events.LOG, live_events.log(message, level))

    def benchmark_completed(self, final_status: str, runs: int, experiment: dict | None) -> None:
        """Publish `benchmark_completed` once the experiment folder holds everything."""
        self.bus.publish(events.BENCHMARK_COMPLETED, live_events.benchmark_completed(
            final_status, runs, self.context.get("experiment_folder"), experiment))
