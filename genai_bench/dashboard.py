"""The dashboard interface the runner drives (spec §7.1), with terminal and no-op implementations."""

from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from typing import TextIO


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
        self.run_name = ""
        self.runs_done = 0
        self.total_runs = 0
        self._last_line = 0.0

    def create_benchmark_progress_task(self, run_name: str) -> None:
        """Remember the run's name for its progress line."""
        self.run_name = run_name

    def update_benchmark_status(self, **fields) -> None:
        """Track the total number of runs for the run counter."""
        self.total_runs = fields.get("total_iterations", self.total_runs)

    def update_benchmark_progress_bars(self, progress: dict) -> None:
        """Redraw the progress bar of the current run."""
        now = time.monotonic()
        if not self.is_tty and now - self._last_line < self.line_interval:
            return
        self._last_line = now
        self._write(self._progress_line(progress), newline=not self.is_tty)

    def update_total_progress_bars(self, total_runs: int) -> None:
        """Count one more finished run."""
        self.runs_done += 1
        self.total_runs = total_runs

    def add_historical_data(self, data: dict) -> None:
        """Print the finished run's headline figures."""
        super().add_historical_data(data)
        ttft = (data["stats"].get("ttft") or {}).get("p50")
        ttft_text = "-" if ttft is None else f"{ttft * 1000:.1f} ms"
        load = f"at {data['request_rate']:g} req/s" if data.get("request_rate") else f"concurrency {data['concurrency']}"
        line = (f"[run {self.runs_done + 1}/{self.total_runs or '?'}] {data['scenario']} {load}: "
                f"{data['num_completed']} ok, {data['num_errors']} errors, TTFT p50 {ttft_text}, "
                f"{data['output_tokens_per_second']:.1f} output tok/s, {data['requests_per_second']:.2f} req/s")
        self._write(line, newline=True)

    def add_log_message(self, message: str, level: str = "info") -> None:
        """Print warnings and errors on their own line."""
        if level in ("warning", "error"):
            self._write(f"{level}: {message}", newline=True)

    def _progress_line(self, progress: dict) -> str:
        done, limit = progress["requests_done"], progress.get("max_requests")
        elapsed, max_time = progress["elapsed"], progress.get("max_time")
        share = max(done / limit if limit else 0.0, elapsed / max_time if max_time else 0.0)
        width = 24
        filled = int(min(share, 1.0) * width)
        bar = "#" * filled + "-" * (width - filled)
        return (f"[run {self.runs_done + 1}/{self.total_runs or '?'}] {self.run_name} [{bar}] "
                f"{done}/{limit or '∞'} requests, {progress['errors']} errors, {elapsed:.1f}/{max_time:.0f} s")

    def _write(self, text: str, newline: bool) -> None:
        if self.is_tty:
            self.stream.write("\r\x1b[2K" + text + ("\n" if newline else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


class MultiDashboard(Dashboard):
    """Tells every one of several dashboards the same thing (e.g. the terminal and the live event stream)."""

    def __init__(self, dashboards: list[Dashboard]) -> None:
        self.dashboards = dashboards

    def _each(name: str):  # noqa: N805 - builds the fan-out methods below
        def fan_out(self, *args, **kwargs):
            for dashboard in self.dashboards:
                getattr(dashboard, name)(*args, **kwargs)
        fan_out.__name__ = name
        fan_out.__doc__ = getattr(Dashboard, name).__doc__
        return fan_out

    update_metrics_panels = _each("update_metrics_panels")
    update_histogram_panel = _each("update_histogram_panel")
    update_scatter_plot_panel = _each("update_scatter_plot_panel")
    update_benchmark_progress_bars = _each("update_benchmark_progress_bars")
    create_benchmark_progress_task = _each("create_benchmark_progress_task")
    update_total_progress_bars = _each("update_total_progress_bars")
    start_run = _each("start_run")
    handle_single_request = _each("handle_single_request")
    reset_plot_metrics = _each("reset_plot_metrics")
    reset_panels = _each("reset_panels")
    update_benchmark_status = _each("update_benchmark_status")
    add_log_message = _each("add_log_message")
    add_historical_data = _each("add_historical_data")
    del _each

    def get_historical_data(self) -> list[dict]:
        """The first dashboard's history (they all received the same)."""
        return self.dashboards[0].get_historical_data() if self.dashboards else []
