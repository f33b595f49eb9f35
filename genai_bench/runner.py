"""The sweep: one Locust run per traffic scenario × concurrency, stopped by request count or time, then drained."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter

import gevent
import numpy as np
from gevent.event import Event
from locust.env import Environment

from genai_bench.client import Target
from genai_bench.config import BenchmarkConfig
from genai_bench.dashboard import Dashboard
from genai_bench.metrics import MetricsCollector, RequestMetrics, RunStatistics
from genai_bench.monitor import ClientMonitor
from genai_bench.protocol import RequestRecord
from genai_bench.sampling import BUILD_AHEAD_SECONDS, PromptSampler, UpcomingRequests
from genai_bench.scenarios import Scenario
from genai_bench.tokenizer import Tokenizer
from genai_bench.user import ArrivalSchedule, OpenAIUser, RequestBudget, RunContext, StartLine

log = logging.getLogger(__name__)
# When the user stops the benchmark, in-flight requests get this long to finish before they are aborted.
INTERRUPT_DRAIN_SECONDS = 5.0
# Spawn every user at once unless --spawn-rate asks for a ramp.
INSTANT_SPAWN_RATE = 1_000_000.0
# Longest a user spawned at once waits for the others to connect before its first request.
START_LINE_TIMEOUT = 5.0


def run_label(scenario: Scenario, concurrency: int, request_rate: float | None) -> str:
    """Human label of a run, e.g. "D(100,100) @ concurrency 8" or "D(100,100) @ 5 req/s (≤256 in flight)"."""
    if request_rate is None:
        return f"{scenario.text} @ concurrency {concurrency}"
    return f"{scenario.text} @ {request_rate:g} req/s (≤{concurrency} in flight)"


@dataclass
class RunResult:
    """A finished run: its statistics and every request it measured."""

    scenario: Scenario
    concurrency: int
    statistics: RunStatistics
    requests: list[RequestMetrics]
    started_at: float
    ended_at: float
    aborted: int


def scatter_point(statistics: RunStatistics) -> dict:
    """A run as one point of the throughput-vs-latency scatter."""
    ttft = statistics.stats.get("ttft") or {}
    e2e = statistics.stats.get("e2e_latency") or {}
    return {
        "scenario": statistics.scenario,
        "concurrency": statistics.concurrency,
        "output_tokens_per_second": statistics.output_tokens_per_second,
        "requests_per_second": statistics.requests_per_second,
        "ttft_p50": ttft.get("p50"),
        "ttft_p99": ttft.get("p99"),
        "e2e_latency_p50": e2e.get("p50"),
        "error_rate": statistics.error_rate,
        "request_rate": statistics.request_rate,
    }


RecordSink = Callable[[RequestRecord], None]


class RunDriver(ABC):
    """Drives the Locust users of one run: starts them, stops issuing, stops them, and says when the run is spent."""

    exhausted: Event  # set when nothing more will be issued and nothing is in flight
    measured_here = True  # False when other processes time the requests (this process only coordinates)

    @abstractmethod
    def start(self, concurrency: int, spawn_rate: float) -> None:
        """Start `concurrency` users; return without waiting for them."""

    @abstractmethod
    def close(self) -> None:
        """Issue nothing more (time is up or the user pressed Ctrl-C); in-flight requests still finish."""

    @property
    @abstractmethod
    def in_flight(self) -> int:
        """Requests issued and not yet recorded."""

    @abstractmethod
    def finish(self) -> int:
        """Stop every user; requests still in flight are recorded as aborted. Returns how many were aborted."""

    def client_health(self, health: dict) -> dict:
        """The run's client health (the master process's), plus whatever the driver knows of other processes."""
        return health


class Engine(ABC):
    """Where a sweep's users run: in this process (LocalEngine) or in worker processes (distributed.LocustCluster)."""

    @abstractmethod
    def prepare(self, scenario: Scenario, concurrency: int, max_requests: int | None, on_record: RecordSink,
                request_rate: float | None = None) -> RunDriver:
        """A driver for one run whose every finished request is handed to `on_record`, in this process.

        With `request_rate`, the users send on an arrival schedule (open loop) instead of back to back.
        """

    def close(self) -> None:
        """Release what the engine holds (processes, ports)."""


class LocalRun(RunDriver):
    """One run on a Locust LocalRunner: the users hand each finished request to the run's record sink."""

    def __init__(self, context: RunContext) -> None:
        self.context = context
        self.budget = context.budget
        self.exhausted = self.budget.exhausted
        environment = Environment(user_classes=[OpenAIUser.bind(context)])
        self.runner = environment.create_local_runner()

    def start(self, concurrency: int, spawn_rate: float) -> None:
        """Start the users (LocalRunner spawns them in the background); spawned at once, they start together."""
        if spawn_rate >= INSTANT_SPAWN_RATE:
            self.context.start_line = StartLine(concurrency, START_LINE_TIMEOUT)
        self.runner.start(concurrency, spawn_rate=spawn_rate)

    def close(self) -> None:
        """Close the budget."""
        self.budget.close()

    @property
    def in_flight(self) -> int:
        """The budget's in-flight count."""
        return self.budget.in_flight

    def finish(self) -> int:
        """Quit the runner: users still in flight record their request as aborted."""
        aborted = self.budget.in_flight
        try:
            self.runner.quit()
        finally:
            self.budget.run_over.set()
            self.context.requests.close()
        return aborted


class LocalEngine(Engine):
    """Every run's users in this process, under gevent (the default)."""

    def __init__(self, target: Target, tokenizer: Tokenizer, sampler: PromptSampler, rng: np.random.Generator,
                 arrival: str = "poisson") -> None:
        self.target = target
        self.tokenizer = tokenizer
        self.sampler = sampler
        self.rng = rng
        self.arrival = arrival

    def prepare(self, scenario: Scenario, concurrency: int, max_requests: int | None, on_record: RecordSink,
                request_rate: float | None = None) -> LocalRun:
        """A LocalRunner run with its own exact budget (and arrival schedule in open loop)."""
        schedule = ArrivalSchedule(request_rate, self.arrival, self.rng) if request_rate else None
        depth = concurrency if max_requests is None else min(concurrency, max_requests)
        requests = UpcomingRequests(self.sampler, scenario, self.rng.spawn(1)[0], depth)
        requests.build_ahead(BUILD_AHEAD_SECONDS)
        context = RunContext(self.target, self.tokenizer, requests, scenario, concurrency,
                             RequestBudget(max_requests), on_record, schedule)
        return LocalRun(context)


class SweepRunner:
    """Runs every scenario × concurrency with Locust (in this process, or on an engine's workers) and reports to a dashboard."""

    def __init__(
        self,
        config: BenchmarkConfig,
        target: Target,
        tokenizer: Tokenizer,
        sampler: PromptSampler,
        collector: MetricsCollector,
        dashboard: Dashboard,
        on_run_complete: Callable[[RunResult], None],
        engine: Engine | None = None,
    ) -> None:
        self.config = config
        self.target = target
        self.tokenizer = tokenizer
        self.sampler = sampler
        self.collector = collector
        self.dashboard = dashboard
        self.on_run_complete = on_run_complete
        self.rng = np.random.default_rng(config.seed)
        self.engine = engine or LocalEngine(target, tokenizer, sampler, self.rng, config.arrival)
        self.stop_requested = Event()
        self.results: list[RunResult] = []
        # (scenario, users, arrival rate): closed loop sweeps concurrency; open loop sweeps rates with max users.
        if config.request_rates:
            self.plan = [(s, config.max_concurrency, r) for s in config.traffic_scenarios for r in config.request_rates]
        else:
            self.plan = [(s, c, None) for s in config.traffic_scenarios for c in config.concurrencies]
        self.started_at = time.time()

    def request_stop(self) -> None:
        """Stop issuing requests (Ctrl-C / SIGTERM); the current run drains briefly and is kept as partial."""
        self.stop_requested.set()

    @property
    def stopped(self) -> bool:
        """True when the sweep was interrupted."""
        return self.stop_requested.is_set()

    def run(self) -> list[RunResult]:
        """Run the whole sweep, or what of it happens before a stop request."""
        self.started_at = time.time()
        self.dashboard.update_benchmark_status(**self._status("running", 0))
        for index, (scenario, concurrency, rate) in enumerate(self.plan):
            if self.stopped:
                break
            self.dashboard.update_benchmark_status(**self._status("running", index, scenario, concurrency, rate))
            result = self.run_one(scenario, concurrency, index, rate)
            self.results.append(result)
            self.on_run_complete(result)
            self.dashboard.add_historical_data(result.statistics.to_dict())
            self.dashboard.update_scatter_plot_panel([scatter_point(r.statistics) for r in self.results])
            self.dashboard.update_total_progress_bars(len(self.plan))
        final = "stopped" if self.stopped else "completed"
        self.dashboard.update_benchmark_status(**self._status(final, len(self.results)))
        return self.results

    def run_one(self, scenario: Scenario, concurrency: int, index: int = 0, request_rate: float | None = None) -> RunResult:
        """One Locust run: start `concurrency` users, wait for the request or time limit, drain, aggregate."""
        config = self.config
        driver = self.engine.prepare(scenario, concurrency, config.max_requests_per_run, self.record, request_rate)

        self.dashboard.reset_panels()
        self.dashboard.create_benchmark_progress_task(run_label(scenario, concurrency, request_rate))
        started_at = time.time()
        self.dashboard.start_run(config.max_time_seconds, started_at, config.max_requests_per_run)
        start = perf_counter()
        self.collector.begin_run(scenario.text, concurrency, start, request_rate)
        ticker = gevent.spawn(self._tick, driver, start)
        monitor = ClientMonitor(lambda message: self.dashboard.add_log_message(
            message if driver.measured_here else f"master process: {message}", "warning"))
        monitor.start()
        try:
            driver.start(concurrency, config.spawn_rate or INSTANT_SPAWN_RATE)
            time_left = config.max_time_seconds - (perf_counter() - start)
            gevent.wait([driver.exhausted, self.stop_requested], timeout=max(time_left, 0.0), count=1)
            driver.close()
            drain = INTERRUPT_DRAIN_SECONDS if self.stopped else (config.drain_timeout or config.request_timeout)
            driver.exhausted.wait(timeout=drain)
        finally:
            try:
                aborted = driver.finish()  # kills users still in flight; each records its request as aborted
            finally:
                ticker.kill()
                health = monitor.stop()
        self._tick_once(driver, start)
        gevent.sleep(0)  # let the live streams send the final snapshot before the blocking end-of-run work
        statistics = self.collector.finish_run(config.warmup_ratio, config.cooldown_ratio, partial=self.stopped)
        statistics.client = driver.client_health(health.to_dict())
        statistics.request_rate = request_rate
        if aborted:
            self.dashboard.add_log_message(f"{aborted} request(s) still in flight after the drain were recorded as aborted", "warning")
        return RunResult(scenario, concurrency, statistics, list(self.collector.requests), started_at, time.time(), aborted)

    def record(self, record: RequestRecord) -> None:
        """One finished request, from this process's users or a worker's: into the collector and the dashboards."""
        self.collector.record(record)
        counters = {"completed": self.collector.completed, "errors": self.collector.errors}
        self.dashboard.handle_single_request(counters, self.collector.total, record.error_code)

    def _tick(self, driver: RunDriver, start: float) -> None:
        while True:
            gevent.sleep(self.config.live_interval)
            try:
                self._tick_once(driver, start)
            except Exception:  # a broken view must never stop the benchmark
                log.exception("live metrics update failed")

    def _tick_once(self, driver: RunDriver, start: float) -> None:
        now = perf_counter()
        live = self.collector.live_snapshot(now)
        self.dashboard.update_metrics_panels(live)
        self.dashboard.update_histogram_panel(
            {"scenario": live["scenario"], "concurrency": live["concurrency"], "request_rate": live["request_rate"],
             "histograms": self.collector.histograms()}
        )
        self.dashboard.update_benchmark_progress_bars({
            "requests_done": self.collector.total,
            "errors": self.collector.errors,
            "in_flight": driver.in_flight,
            "max_requests": self.config.max_requests_per_run,
            "elapsed": now - start,
            "max_time": self.config.max_time_seconds,
        })

    def _status(self, status: str, runs_done: int, scenario: Scenario | None = None, concurrency: int | None = None,
                request_rate: float | None = None) -> dict:
        total = len(self.plan)
        remaining = total - runs_done
        return {
            "status": status,
            "current_scenario": scenario.text if scenario else None,
            "traffic_scenario": scenario.text if scenario else None,
            "current_concurrency": concurrency,
            "current_request_rate": request_rate,
            "current_iteration": min(runs_done + 1, total) if status == "running" else runs_done,
            "total_iterations": total,
            "total_scenarios": len(self.config.traffic_scenarios),
            "progress_percentage": 100.0 * runs_done / total if total else 100.0,
            "start_time": self.started_at,
            "estimated_end_time": time.time() + remaining * self.config.max_time_seconds if status == "running" else time.time(),
            "error_message": None,
        }
