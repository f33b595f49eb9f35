"""The dashboard interface the runner drives (spec §7.1), with terminal and no-op implementations."""

from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from typing import TextIO

from genai_bench import live_events
from genai_bench.hooks import SweepHooks
from genai_bench.live_events import PlannedRun, RunProgress, SweepStatus


class Dashboard(ABC):
    """What the runner tells a view about a benchmark; every view (terminal, streaming, none) implements it."""

    @abstractmethod
    def update_metrics_panels(self, live_metrics: dict) -> None:
        """A fresh live statistics snapshot (called on a timer)."""

    @abstractmethod
    def update_histogram_panel(self, live_metrics: dict) -> None:
        """Fresh latency histograms (called on a timer)."""

    @abstractmethod
    def update_scatter_plot_panel(self, points: list[dict]) -> None:
        """Throughput-vs-latency points of the runs done so far (called at each run's end)."""

    @abstractmethod
    def update_benchmark_progress_bars(self, progress: dict) -> None:
        """Progress of the current run: requests done, limits, elapsed time."""

    @abstractmethod
    def create_benchmark_progress_task(self, run_name: str) -> None:
        """A new run begins under this name."""

    @abstractmethod
    def update_total_progress_bars(self, total_runs: int) -> None:
        """One more run of `total_runs` is finished."""

    @abstractmethod
    def start_run(self, run_time: float, start_time: float, max_requests_per_run: int | None) -> None:
        """The current run starts now with these limits (seconds, unix time, requests)."""

    @abstractmethod
    def handle_single_request(self, live_metrics: dict, total_requests: int, error_code: str | None) -> None:
        """One request finished; must be O(1), it is called on the hot path."""

    @abstractmethod
    def reset_plot_metrics(self) -> None:
        """Forget the current run's plotted metrics."""

    @abstractmethod
    def reset_panels(self) -> None:
        """Clear per-run panels before a new run."""

    @abstractmethod
    def update_benchmark_status(self, **fields) -> None:
        """Overall status changes (status, scenario, iteration, progress, error message...)."""

    @abstractmethod
    def add_log_message(self, message: str, level: str = "info") -> None:
        """A line for the log."""

    @abstractmethod
    def add_historical_data(self, data: dict) -> None:
        """A completed run's aggregated metrics."""

    @abstractmethod
    def get_historical_data(self) -> list[dict]:
        """The completed runs' aggregated metrics so far."""

    def show_alert(self, alert: dict) -> None:
        """An --alert rule fired or resolved (an `alert` event's data); by default a line for the log."""
        self.add_log_message(alert["text"], "warning" if alert["state"] == "firing" else "info")

    def start(self) -> None:
        """Begin showing (no-op by default)."""

    def stop(self) -> None:
        """Stop showing (no-op by default)."""


class NoOpDashboard(Dashboard):
    """A dashboard that shows nothing but keeps historical data, for library use and tests."""

    def __init__(self) -> None:
        self.historical: list[dict] = []

    def update_metrics_panels(self, live_metrics: dict) -> None: ...
    def update_histogram_panel(self, live_metrics: dict) -> None: ...
    def update_scatter_plot_panel(self, points: list[dict]) -> None: ...
    def update_benchmark_progress_bars(self, progress: dict) -> None: ...
    def create_benchmark_progress_task(self, run_name: str) -> None: ...
    def update_total_progress_bars(self, total_runs: int) -> None: ...
    def start_run(self, run_time: float, start_time: float, max_requests_per_run: int | None) -> None: ...
    def handle_single_request(self, live_metrics: dict, total_requests: int, error_code: str | None) -> None: ...
    def reset_plot_metrics(self) -> None: ...
    def reset_panels(self) -> None: ...
    def update_benchmark_status(self, **fields) -> None: ...
    def add_log_message(self, message: str, level: str = "info") -> None: ...

    def add_historical_data(self, data: dict) -> None:
        """Keep a completed run's aggregated metrics."""
        self.historical.append(data)

    def get_historical_data(self) -> list[dict]:
        """The completed runs' aggregated metrics so far."""
        return list(self.historical)


class TerminalDashboard(NoOpDashboard):
    """Progress on the terminal: a redrawn bar on a TTY, a line every few seconds otherwise."""

    def __init__(self, stream: TextIO | None = None, line_interval: float = 5.0) -> None:
        super().__init__()
        self.stream = stream or sys.stderr
        self.is_tty = self.stream.isatty()
        self.line_interval = line_interval
        self._last_line = 0.0

    def update_benchmark_progress_bars(self, progress: dict) -> None:
        """Redraw the progress bar of the current run (a `progress` event's data)."""
        now = time.monotonic()
        if not self.is_tty and now - self._last_line < self.line_interval:
            return
        self._last_line = now
        self._write(self._progress_line(progress), newline=not self.is_tty)

    def add_historical_data(self, data: dict) -> None:
        """Print the finished run's headline figures (a `run_completed` event's data)."""
        super().add_historical_data(data)
        batch = data.get("batch_size")
        # Batched runs (embeddings, rerank) have no tokens to time: their E2E and inputs/s say how they went.
        metric, rate = (("E2E", f"{data.get('inputs_per_second', 0.0):.1f} inputs/s") if batch is not None else
                        ("TTFT", f"{data['mean_output_throughput_tokens_per_s']:.1f} output tok/s"))
        p50 = (data["stats"].get("e2e_latency" if batch is not None else "ttft") or {}).get("p50")
        p50_text = "-" if p50 is None else f"{p50 * 1000:.1f} ms"
        load = (f"batch size {batch}" if batch is not None else
                f"at {data['request_rate']:g} req/s" if data.get("request_rate") else f"concurrency {data['num_concurrency']}")
        line = (f"[run {data.get('run_index', '?')}/{data.get('total_runs', '?')}] {data['scenario']} {load}: "
                f"{data['num_completed_requests']} ok, {data['num_error_requests']} errors, {metric} p50 {p50_text}, "
                f"{rate}, {data['requests_per_second']:.2f} req/s")
        self._write(line, newline=True)

    def show_alert(self, alert: dict) -> None:
        """Print the alert's line, whether it fired or resolved."""
        self._write(alert["text"], newline=True)

    def add_log_message(self, message: str, level: str = "info") -> None:
        """Print warnings and errors on their own line."""
        if level in ("warning", "error"):
            self._write(f"{level}: {message}", newline=True)

    @staticmethod
    def _progress_line(progress: dict) -> str:
        done, limit = progress["requests_done"], progress.get("max_requests")
        width = 24
        filled = int(progress["run_progress_percentage"] / 100.0 * width)
        bar = "#" * filled + "-" * (width - filled)
        return (f"[run {progress['run_index']}/{progress['total_runs']}] {progress['run_name']} [{bar}] "
                f"{done}/{limit or '∞'} requests, {progress['errors']} errors, "
                f"{progress['elapsed']:.1f}/{progress['max_time']:.0f} s")

    def _write(self, text: str, newline: bool) -> None:
        if self.is_tty:
            self.stream.write("\r\x1b[2K" + text + ("\n" if newline else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


class DashboardListener:
    """Drives any §7.1 Dashboard from a sweep's hooks, handing it the data of the matching live events."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard

    def attach(self, hooks: SweepHooks) -> DashboardListener:
        """Subscribe the dashboard to every hook."""
        hooks.status.add_listener(self.on_status)
        hooks.run_started.add_listener(self.on_run_started)
        if type(self.dashboard).handle_single_request is not NoOpDashboard.handle_single_request:
            # Per request, on the hot path: only for dashboards that do something with it (not the terminal).
            hooks.request_finished.add_listener(self.on_request_finished)
        hooks.live_tick.add_listener(self.on_live_tick)
        hooks.run_finished.add_listener(self.on_run_finished)
        hooks.log.add_listener(self.dashboard.add_log_message)
        hooks.alert.add_listener(lambda alert: self.dashboard.show_alert(live_events.alert(alert)))
        return self

    def on_status(self, sweep: SweepStatus) -> None:
        """The sweep's status."""
        self.dashboard.update_benchmark_status(**live_events.status(sweep, {}))

    def on_run_started(self, run: PlannedRun, start_time: float) -> None:
        """Clear the per-run panels and announce the run."""
        self.dashboard.reset_panels()
        self.dashboard.create_benchmark_progress_task(run.label)
        self.dashboard.start_run(run.max_time, start_time, run.max_requests)

    def on_request_finished(self, record, completed: int, errors: int, total: int) -> None:
        """One request (hot path)."""
        self.dashboard.handle_single_request({"completed": completed, "errors": errors}, total, record.error_code)

    def on_live_tick(self, progress: RunProgress, live_metrics: dict, histograms: dict, timestamp: float) -> None:
        """Fresh statistics, histograms and progress."""
        key = progress.run.key
        self.dashboard.update_metrics_panels(live_metrics)
        self.dashboard.update_histogram_panel(live_events.histogram(live_metrics, histograms, key))
        self.dashboard.update_benchmark_progress_bars(live_events.progress(progress))

    def on_run_finished(self, run: PlannedRun, result, results: list) -> None:
        """The finished run's metrics, the scatter of all finished runs, one more run done."""
        finished = live_events.completed_runs(results)
        self.dashboard.add_historical_data(finished[-1])
        self.dashboard.update_scatter_plot_panel(live_events.scatter(finished)["points"])
        self.dashboard.update_total_progress_bars(run.total)
