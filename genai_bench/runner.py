"""The sweep: one Locust run per traffic scenario × load, stopped by request count or time, then drained.

The runner only fires the sweep's hooks (hooks.SweepHooks); it knows no view.
"""

from __future__ import annotations

import gc
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

from genai_bench.arrivals import ArrivalSchedule, ArrivalShape, SendTimes
from genai_bench.client import Target
from genai_bench.config import BenchmarkConfig
from genai_bench.conversations import Conversations, MultiTurn
from genai_bench.hooks import SweepHooks
from genai_bench.live_events import PlannedRun, RunProgress, SweepStatus
from genai_bench.metrics import MetricsCollector, RequestMetrics, RunStatistics
from genai_bench.monitor import ClientMonitor, ConnectionCounter
from genai_bench.planner import RunPlanner, SweepPlan
from genai_bench.protocol import RequestRecord
from genai_bench.saturation import SaturationWatch
from genai_bench.sampling import BUILD_AHEAD_SECONDS, RequestSource, UpcomingRequests
from genai_bench.scenarios import TRACE, Scenario
from genai_bench.tasks import TASKS, TEXT_TO_TEXT, TaskSpec
from genai_bench.servermetrics import ServerMetrics, mismatch_message, token_mismatch
from genai_bench.tokenizer import Tokenizer
from genai_bench.trace import Trace, TraceSchedule, trace_summary
from genai_bench.user import OpenAIUser, RequestBudget, RunContext, StartLine

log = logging.getLogger(__name__)
# When the user stops the benchmark, in-flight requests get this long to finish before they are aborted.
INTERRUPT_DRAIN_SECONDS = 5.0
# Spawn every user at once unless --spawn-rate asks for a ramp.
INSTANT_SPAWN_RATE = 1_000_000.0
# Longest a user spawned at once waits for the others to connect before its first request.
START_LINE_TIMEOUT = 5.0


@dataclass
class RunResult:
    """A finished run: its statistics and every request it measured."""

    run: PlannedRun
    statistics: RunStatistics
    requests: list[RequestMetrics]
    started_at: float
    ended_at: float
    aborted: int
    server_metrics: dict | None = None  # the server's scrapes over the run (RunServerMetrics.series), or None

    @property
    def scenario(self) -> Scenario:
        """The run's traffic scenario."""
        return self.run.scenario

    @property
    def concurrency(self) -> int:
        """The run's users (the in-flight cap in open loop)."""
        return self.run.concurrency


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

    def trace_summary(self, requests: list[RequestMetrics]) -> dict | None:
        """A trace replay's send-time error against the trace (aggregated_metrics.trace); None for other runs."""
        return None


class Engine(ABC):
    """Where a sweep's users run: in this process (LocalEngine) or in worker processes (distributed.LocustCluster)."""

    @abstractmethod
    def prepare(self, scenario: Scenario, concurrency: int, max_requests: int | None, on_record: RecordSink,
                request_rate: float | None = None, batch_size: int | None = None) -> RunDriver:
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

    def trace_summary(self, requests: list[RequestMetrics]) -> dict | None:
        """Sent requests and their send error (actual send − trace time) when the run replays a trace."""
        schedule = self.context.schedule
        if not isinstance(schedule, TraceSchedule):
            return None
        return trace_summary([(m.record.start, m.record.scheduled_start) for m in requests
                              if m.record.scheduled_start is not None and m.record.start], schedule.speed)

    def finish(self) -> int:
        """Quit the runner: users still in flight record their request as aborted."""
        aborted = self.budget.in_flight
        try:
            self.runner.quit()
        finally:
            self.budget.run_over.set()
            self.context.requests.close()
            gc.unfreeze()
        return aborted


class LocalEngine(Engine):
    """Every run's users in this process, under gevent (the default)."""

    def __init__(self, target: Target, tokenizer: Tokenizer, sampler: RequestSource, rng: np.random.Generator,
                 arrival: ArrivalShape = ArrivalShape(), multi_turn: MultiTurn | None = None,
                 trace_speed: float = 1.0, task: TaskSpec = TASKS[TEXT_TO_TEXT]) -> None:
        self.target = target
        self.task = task
        self.tokenizer = tokenizer
        self.sampler = sampler
        self.rng = rng
        self.arrival = arrival
        self.multi_turn = multi_turn
        self.trace_speed = trace_speed

    def prepare(self, scenario: Scenario, concurrency: int, max_requests: int | None, on_record: RecordSink,
                request_rate: float | None = None, batch_size: int | None = None) -> LocalRun:
        """A LocalRunner run with its own exact budget (and arrival schedule in open loop, or a trace's times)."""
        schedule: SendTimes | None = None
        if scenario.kind == TRACE:
            trace: Trace = self.sampler.trace  # only a workload.Workload serves the trace scenario
            schedule = TraceSchedule(trace, self.trace_speed)
            # The run ends with the trace, or earlier at the request limit.
            max_requests = len(trace.requests) if max_requests is None else min(max_requests, len(trace.requests))
        elif request_rate:
            schedule = ArrivalSchedule(request_rate, self.arrival, self.rng.spawn(1)[0])
        # A full collection of a large heap stalls the loop for tens of milliseconds (a whole request late on a
        # trace's clock), and in a long run walks start-up's objects again each time (about 1 µs of CPU per streamed
        # token at 10 ms ITL): collect now, and keep what exists out of the run's collections (finish undoes it).
        gc.collect()
        gc.freeze()
        depth = concurrency if max_requests is None else min(concurrency, max_requests)
        requests = UpcomingRequests(self.task.source(self.sampler, batch_size), scenario, self.rng.spawn(1)[0], depth,
                                    max_requests)
        requests.build_ahead(BUILD_AHEAD_SECONDS)
        context = RunContext(self.target, self.tokenizer, requests, scenario, concurrency,
                             RequestBudget(max_requests), on_record, schedule, task=self.task)
        if self.multi_turn is not None:
            context.conversations = Conversations(self.multi_turn, requests, scenario, self.tokenizer,
                                                  self.rng.spawn(1)[0])
        return LocalRun(context)


class SweepRunner:
    """Runs every planned run with Locust (in this process, or on an engine's workers) and fires the sweep's hooks."""

    def __init__(
        self,
        config: BenchmarkConfig,
        target: Target,
        tokenizer: Tokenizer,
        sampler: RequestSource,
        collector: MetricsCollector,
        hooks: SweepHooks,
        engine: Engine | None = None,
        multi_turn: MultiTurn | None = None,
        connections: ConnectionCounter | None = None,
        planner: RunPlanner | None = None,
        server_metrics: ServerMetrics | None = None,
    ) -> None:
        self.config = config
        self.connections = connections  # the dashboard's, so the client monitor can tell a viewer storm
        self.collector = collector
        self.hooks = hooks
        self.rng = np.random.default_rng(config.seed)
        self.engine = engine or LocalEngine(target, tokenizer, sampler, self.rng, ArrivalShape.of(config), multi_turn,
                                            config.trace_speed, config.task_spec)
        self.stop_requested = Event()
        self.results: list[RunResult] = []
        self.planner = planner or SweepPlan(config)
        self.started_at = time.time()
        self.server_metrics = server_metrics if server_metrics is not None and server_metrics.active else None

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
        self.fire_status("running")
        # The planner decides each run after hearing the last one, so a search can grow its plan as it learns.
        while not self.stopped and (run := self.planner.next_run()) is not None:
            self.fire_status("running", run)
            result = self.run_one(run)
            self.results.append(result)
            self.hooks.run_finished.fire(run=run, result=result, results=self.results)
            self.planner.record(run, result.statistics)
        self.planner.finish(stopped=self.stopped)
        self.fire_status("stopped" if self.stopped else "completed")
        return self.results

    def fire_status(self, status: str, current: PlannedRun | None = None, error_message: str | None = None) -> None:
        """Tell the views where the sweep stands."""
        sweep = SweepStatus(status, len(self.results), self.planner.expected_runs, len(self.config.traffic_scenarios),
                            self.started_at, self.config.max_time_seconds, current, error_message)
        self.hooks.status.fire(sweep=sweep)

    def run_one(self, run: PlannedRun) -> RunResult:
        """One Locust run: start its users, wait for the request or time limit, drain, aggregate."""
        config = self.config
        driver = self.engine.prepare(run.scenario, run.concurrency, run.max_requests, self.record, run.request_rate,
                                     run.batch_size)
        started_at = time.time()
        self.hooks.run_started.fire(run=run, start_time=started_at)
        if self.server_metrics is not None:
            self.server_metrics.begin_run(run.key, started_at)  # the counters' baseline, before any request
        start = perf_counter()
        self.collector.begin_run(run.scenario_text, run.concurrency, start, run.request_rate)
        watch = SaturationWatch(open_loop=run.request_rate is not None, stop=config.stop_on_saturation)
        ticker = gevent.spawn(self._tick, run, driver, start, watch)
        monitor = ClientMonitor(lambda message: self.hooks.log.fire(
            message=message if driver.measured_here else f"master process: {message}", level="warning"),
            self.connections)
        monitor.start()
        try:
            driver.start(run.concurrency, config.spawn_rate or INSTANT_SPAWN_RATE)
            time_left = run.max_time - (perf_counter() - start)
            ends = [driver.exhausted, self.stop_requested, watch.cut]
            gevent.wait(ends, timeout=max(time_left, 0.0), count=1)
            driver.close()
            if not (self.stopped or watch.cut.is_set()):
                gevent.wait(ends, timeout=config.drain_timeout or config.request_timeout, count=1)
            # Ctrl-C, or a server that cannot keep up (its queue would take long to drain): in-flight requests get a
            # short while, not the timeout.
            if self.stopped or watch.cut.is_set():
                driver.exhausted.wait(timeout=INTERRUPT_DRAIN_SECONDS)
        finally:
            try:
                aborted = driver.finish()  # kills users still in flight; each records its request as aborted
            finally:
                ticker.kill()
                health = monitor.stop()
        self._tick_once(run, driver, start)
        gevent.sleep(0)  # let the live streams send the final snapshot before the blocking end-of-run work
        statistics = self.collector.finish_run(config.warmup_ratio, config.cooldown_ratio, partial=self.stopped)
        statistics.client = driver.client_health(health.to_dict())
        statistics.request_rate = run.request_rate
        statistics.batch_size = run.batch_size
        statistics.oversaturated = watch.oversaturated
        statistics.trace = driver.trace_summary(self.collector.requests)
        server_series = self._server_view(run, statistics)
        if aborted:
            self.hooks.log.fire(message=f"{aborted} request(s) still in flight after the drain were recorded as aborted",
                                level="warning")
        return RunResult(run, statistics, list(self.collector.requests), started_at, time.time(), aborted,
                         server_series)

    def _server_view(self, run: PlannedRun, statistics: RunStatistics) -> dict | None:
        """The server's scrapes over the run into its statistics (summary, token cross-check); their series."""
        if self.server_metrics is None:
            return None
        scrapes = self.server_metrics.end_run()
        if scrapes is None:
            return None
        # Every token the client received, errors and the warm-up included: the server's counter covers them all.
        client_tokens = sum(m.record.num_output_tokens for m in self.collector.requests)
        statistics.server = scrapes.summary(client_tokens)
        statistics.server_token_mismatch = token_mismatch(statistics.server)
        if statistics.server_token_mismatch:
            self.hooks.log.fire(message=mismatch_message(run.label, statistics.server), level="warning")
        return scrapes.series()

    def record(self, record: RequestRecord) -> None:
        """One finished request, from this process's users or a worker's: into the collector, then the hook."""
        collector = self.collector
        collector.record(record)
        self.hooks.request_finished.fire(record=record, completed=collector.completed, errors=collector.errors,
                                         total=collector.total)

    def _tick(self, run: PlannedRun, driver: RunDriver, start: float, watch: SaturationWatch) -> None:
        while True:
            gevent.sleep(self.config.live_interval)
            try:
                self._tick_once(run, driver, start)
                reason = watch.check(self.collector.requests, perf_counter() - start)
                if reason:
                    action = "ending the run early" if watch.stop else "kept running (--no-stop-on-saturation)"
                    self.hooks.log.fire(message=f"{run.label}: {reason}; {action}", level="warning")
            except Exception:  # live statistics failing must never stop the benchmark
                log.exception("live statistics update failed")

    def _tick_once(self, run: PlannedRun, driver: RunDriver, start: float) -> None:
        now = perf_counter()
        collector = self.collector
        progress = RunProgress(run, collector.total, collector.errors, driver.in_flight, now - start)
        self.hooks.live_tick.fire(progress=progress, live_metrics=collector.live_snapshot(now),
                                  histograms=collector.histograms(), timestamp=time.time())
