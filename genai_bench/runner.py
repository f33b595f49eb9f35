"""The sweep: one Locust run per traffic scenario × concurrency, stopped by request count or time, then drained."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from time import perf_counter
from typing import Callable

import gevent
import numpy as np
from gevent.event import Event
from locust.env import Environment

from genai_bench.client import Target
from genai_bench.config import BenchmarkConfig
from genai_bench.dashboard import Dashboard
from genai_bench.metrics import MetricsCollector, RequestMetrics, RunStatistics
from genai_bench.monitor import ClientMonitor
from genai_bench.sampling import PromptSampler
from genai_bench.scenarios import Scenario
from genai_bench.tokenizer import Tokenizer
from genai_bench.user import OpenAIUser, RequestBudget, RunContext

log = logging.getLogger(__name__)
# When the user stops the benchmark, in-flight requests get this long to finish before they are aborted.
INTERRUPT_DRAIN_SECONDS = 5.0
# Spawn every user at once unless --spawn-rate asks for a ramp.
INSTANT_SPAWN_RATE = 1_000_000.0


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

    @property
    def name(self) -> str:
        """Human label, e.g. "D(100,100) @ concurrency 8"."""
        return f"{self.scenario.text} @ concurrency {self.concurrency}"


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
    }


class SweepRunner:
    """Runs every scenario × concurrency with Locust in this process and reports to a dashboard."""

    def __init__(
        self,
        config: BenchmarkConfig,
        target: Target,
        tokenizer: Tokenizer,
        sampler: PromptSampler,
        collector: MetricsCollector,
        dashboard: Dashboard,
        on_run_complete: Callable[[RunResult], None],
    ) -> None:
        self.config = config
        self.target = target
        self.tokenizer = tokenizer
        self.sampler = sampler
        self.collector = collector
        self.dashboard = dashboard
        self.on_run_complete = on_run_complete
        self.rng = np.random.default_rng(config.seed)
        self.stop_requested = Event()
        self.results: list[RunResult] = []
        self.plan = [(s, c) for s in config.traffic_scenarios for c in config.concurrencies]
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
        for index, (scenario, concurrency) in enumerate(self.plan):
            if self.stopped:
                break
            self.dashboard.update_benchmark_status(**self._status("running", index, scenario, concurrency))
            result = self.run_one(scenario, concurrency, index)
            self.results.append(result)
            self.on_run_complete(result)
            self.dashboard.add_historical_data(result.statistics.to_dict())
            self.dashboard.update_scatter_plot_panel([scatter_point(r.statistics) for r in self.results])
            self.dashboard.update_total_progress_bars(len(self.plan))
        final = "stopped" if self.stopped else "completed"
        self.dashboard.update_benchmark_status(**self._status(final, len(self.results)))
        return self.results

    def run_one(self, scenario: Scenario, concurrency: int, index: int = 0) -> RunResult:
        """One Locust run: start `concurrency` users, wait for the request or time limit, drain, aggregate."""
        config = self.config
        budget = RequestBudget(config.max_requests_per_run)
        context = RunContext(self.target, self.tokenizer, self.sampler, scenario, concurrency, budget, self.rng)
        environment = Environment(user_classes=[OpenAIUser.bind(context)])
        environment.events.request.add_listener(self._on_request)
        runner = environment.create_local_runner()

        self.dashboard.reset_panels()
        self.dashboard.create_benchmark_progress_task(f"{scenario.text} @ concurrency {concurrency}")
        started_at = time.time()
        self.dashboard.start_run(config.max_time_seconds, started_at, config.max_requests_per_run)
        start = perf_counter()
        self.collector.begin_run(scenario.text, concurrency, start)
        ticker = gevent.spawn(self._tick, budget, start)
        monitor = ClientMonitor(lambda message: self.dashboard.add_log_message(message, "warning"))
        monitor.start()
        runner.start(concurrency, spawn_rate=config.spawn_rate or INSTANT_SPAWN_RATE)
        try:
            gevent.wait([budget.exhausted, self.stop_requested], timeout=config.max_time_seconds, count=1)
            budget.close()
            drain = INTERRUPT_DRAIN_SECONDS if self.stopped else (config.drain_timeout or config.request_timeout)
            budget.exhausted.wait(timeout=drain)
        finally:
            aborted = budget.in_flight
            runner.quit()  # kills users still in flight; each records its request as aborted
            budget.run_over.set()
            ticker.kill()
            health = monitor.stop()
        self._tick_once(budget, start)
        gevent.sleep(0)  # let the live streams send the final snapshot before the blocking end-of-run work
        statistics = self.collector.finish_run(config.warmup_ratio, config.cooldown_ratio, partial=self.stopped)
        statistics.client = health.to_dict()
        if aborted:
            self.dashboard.add_log_message(f"{aborted} request(s) still in flight after the drain were recorded as aborted", "warning")
        return RunResult(scenario, concurrency, statistics, list(self.collector.requests), started_at, time.time(), aborted)

    def _on_request(self, context: dict | None = None, **_) -> None:
        record = context["record"]
        self.collector.record(record)
        counters = {"completed": self.collector.completed, "errors": self.collector.errors}
        self.dashboard.handle_single_request(counters, self.collector.total, record.error_code)

    def _tick(self, budget: RequestBudget, start: float) -> None:
        while True:
            gevent.sleep(self.config.live_interval)
            try:
                self._tick_once(budget, start)
            except Exception:  # a broken view must never stop the benchmark
                log.exception("live metrics update failed")

    def _tick_once(self, budget: RequestBudget, start: float) -> None:
        now = perf_counter()
        live = self.collector.live_snapshot(now)
        self.dashboard.update_metrics_panels(live)
        self.dashboard.update_histogram_panel(
            {"scenario": live["scenario"], "concurrency": live["concurrency"], "histograms": self.collector.histograms()}
        )
        self.dashboard.update_benchmark_progress_bars({
            "requests_done": self.collector.total,
            "errors": self.collector.errors,
            "in_flight": budget.in_flight,
            "max_requests": self.config.max_requests_per_run,
            "elapsed": now - start,
            "max_time": self.config.max_time_seconds,
        })

    def _status(self, status: str, runs_done: int, scenario: Scenario | None = None, concurrency: int | None = None) -> dict:
        total = len(self.plan)
        remaining = total - runs_done
        return {
            "status": status,
            "current_scenario": scenario.text if scenario else None,
            "traffic_scenario": scenario.text if scenario else None,
            "current_concurrency": concurrency,
            "current_iteration": min(runs_done + 1, total) if status == "running" else runs_done,
            "total_iterations": total,
            "total_scenarios": len(self.config.traffic_scenarios),
            "progress_percentage": 100.0 * runs_done / total if total else 100.0,
            "start_time": self.started_at,
            "estimated_end_time": time.time() + remaining * self.config.max_time_seconds if status == "running" else time.time(),
            "error_message": None,
        }
