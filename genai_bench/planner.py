"""What the sweep runs next: a planner hands out PlannedRuns one at a time and hears how each one went.

The fixed sweep (SweepPlan) knows every run up front; a capacity search (search.CapacitySearch) decides each step
from the last one's statistics. The runner only asks `next_run()` and reports with `record()`, so a plan can grow.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from genai_bench.config import BenchmarkConfig
from genai_bench.live_events import PlannedRun, run_key
from genai_bench.metrics import RunStatistics
from genai_bench.scenarios import Scenario


class RunPlanner(ABC):
    """Hands the runner its runs one at a time, deciding each after hearing how the previous ones went."""

    @abstractmethod
    def next_run(self) -> PlannedRun | None:
        """The next run to do, or None when the plan is complete."""

    @property
    @abstractmethod
    def expected_runs(self) -> int:
        """How many runs the plan expects in all, as far as it knows now (progress and end-time estimates)."""

    def record(self, run: PlannedRun, statistics: RunStatistics) -> None:
        """A planned run finished with these statistics."""

    def finish(self, stopped: bool) -> None:
        """The sweep ended (`stopped`: interrupted before the plan was complete)."""


def planned_run(config: BenchmarkConfig, scenario: Scenario, concurrency: int, rate: float | None, index: int,
                total: int, repeat: int = 1, batch_size: int | None = None) -> PlannedRun:
    """One run of `scenario` at this load (and batch size), with the config's limits and its one run key."""
    return PlannedRun(scenario.text, concurrency, rate, index, total,
                      run_key(scenario.name, config.task, concurrency, config.max_time_seconds, rate, repeat,
                              batch_size),
                      config.max_time_seconds, config.max_requests_per_run, scenario, repeat, batch_size)


def plan_sweep(config: BenchmarkConfig) -> list[PlannedRun]:
    """Every run of the fixed sweep in order: scenarios × concurrencies (closed loop), × batch sizes (batched tasks)
    or × arrival rates (open loop),
    the whole sweep once per --repeats round, so that a slow drift of the server spreads over every point alike."""
    if config.request_rates:
        loads = [(config.max_concurrency, rate, None) for rate in config.request_rates]
    elif config.task_spec.batched:  # upstream's iteration_type batch_size: one run per batch size
        loads = [(config.concurrencies[0], None, batch) for batch in config.batch_sizes]
    else:
        loads = [(concurrency, None, None) for concurrency in config.concurrencies]
    combos = [(repeat, s, c, r, b) for repeat in range(1, config.repeats + 1)
              for s in config.traffic_scenarios for c, r, b in loads]
    return [planned_run(config, scenario, concurrency, rate, index, len(combos), repeat, batch)
            for index, (repeat, scenario, concurrency, rate, batch) in enumerate(combos, start=1)]


class SweepPlan(RunPlanner):
    """The fixed sweep: every planned run in order, whatever their results."""

    def __init__(self, config: BenchmarkConfig) -> None:
        self.runs = plan_sweep(config)
        self.position = 0

    def next_run(self) -> PlannedRun | None:
        """The next run of the list."""
        if self.position >= len(self.runs):
            return None
        self.position += 1
        return self.runs[self.position - 1]

    @property
    def expected_runs(self) -> int:
        """The list's length."""
        return len(self.runs)
