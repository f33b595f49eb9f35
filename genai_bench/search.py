"""Capacity search (--search): the highest request rate or concurrency whose runs still meet the SLOs.

A planner (planner.RunPlanner) that decides each step from the last: start at the first given load (or 1), double it
while the steps pass, then bisect between the highest load that passed and the lowest that failed until the bounds
are within the tolerance (adjacent, for concurrency), or the step budget is spent. A step passes when its SLO
attainment reaches the target and it was not over-saturated. Each step is a normal run with its own run key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from genai_bench.config import MAX_RATE, BenchmarkConfig, ConfigError
from genai_bench.hooks import SweepHooks
from genai_bench.live_events import PlannedRun, SearchProgress, SearchStep
from genai_bench.metrics import RunStatistics
from genai_bench.planner import RunPlanner, planned_run

# A run's SLO attainment (share of its requests meeting every SLO), or None when it has nothing to judge.
Attainment = Callable[[RunStatistics], float | None]
# Bisected rates keep this many significant digits, so that run keys stay short and readable.
RATE_DIGITS = 3
# Growth phase: the bisection after it is expected to take about this many steps (for the progress estimate).
EXPECTED_BISECTIONS = 4


def slo_attainment(statistics: RunStatistics) -> float | None:
    """The attainment the SLO options measured for a run (RunStatistics.slo), or None without SLOs."""
    return statistics.slo.get("attainment") if statistics.slo else None


@dataclass(frozen=True)
class Objective:
    """What each search step must meet: the SLO targets (for people and files) and how to read a run's attainment."""

    slos: dict
    attainment: Attainment = slo_attainment


def objective_of(config: BenchmarkConfig) -> Objective | None:
    """The config's SLOs as a search objective, or None when it has none."""
    return Objective(dict(config.slo)) if config.slo else None


def round_rate(rate: float) -> float:
    """`rate` to RATE_DIGITS significant digits."""
    return float(f"{rate:.{RATE_DIGITS}g}")


class CapacitySearch(RunPlanner):
    """Plans the search's steps one at a time from the previous results and fires the `search` hook as it learns."""

    def __init__(self, config: BenchmarkConfig, objective: Objective | None, hooks: SweepHooks) -> None:
        if objective is None:
            raise ConfigError("--search needs service-level objectives to meet: give at least one --slo, e.g. --slo ttft=200ms")
        self.config = config
        self.objective = objective
        self.hooks = hooks
        self.by_rate = config.search == MAX_RATE
        self.start = config.request_rates[0] if self.by_rate else config.concurrencies[0]
        self.ceiling = None if self.by_rate else config.max_concurrency  # the users a closed-loop search may use
        self.progress = SearchProgress(config.search, objective.slos, config.slo_attainment, config.search_tolerance,
                                       config.search_max_steps, (), None, None)

    @property
    def expected_runs(self) -> int:
        """Steps so far plus an estimate of those left (the bisection's are known once a step failed)."""
        done, progress = len(self.progress.steps), self.progress
        if progress.done:
            return done
        if progress.low is None or progress.high is None:
            left = 1 + EXPECTED_BISECTIONS
        else:
            left, low, high = 0, progress.low, progress.high
            while not self._close(low, high):
                low, left = (low + high) / 2, left + 1
        return min(done + max(left, 1), progress.max_steps)

    def next_run(self) -> PlannedRun | None:
        """The next step's run, or None when the search is over (its final `search` event is then fired)."""
        if self.progress.done:
            return None
        load, reason = self._next_load()
        if load is None:
            self._publish(done=True, stop_reason=reason)
            return None
        index, total = len(self.progress.steps) + 1, self.expected_runs
        scenario = self.config.traffic_scenarios[0]
        if self.by_rate:
            run = planned_run(self.config, scenario, self.config.max_concurrency, load, index, total)
        else:
            run = planned_run(self.config, scenario, int(load), None, index, total)
        self._publish()
        return run

    def record(self, run: PlannedRun, statistics: RunStatistics) -> None:
        """Judge a finished step against the target and narrow the bounds."""
        load = run.request_rate if self.by_rate else run.concurrency
        attainment = self.objective.attainment(statistics)
        passed = (attainment is not None and attainment >= self.config.slo_attainment
                  and not statistics.oversaturated and not statistics.partial)
        progress = self.progress
        step = SearchStep(run.key, load, attainment, passed, statistics.oversaturated)
        low, high = progress.low, progress.high
        if passed:
            low = load if low is None else max(low, load)
        else:
            high = load if high is None else min(high, load)
        self.progress = replace(progress, steps=progress.steps + (step,), low=low, high=high)
        self._publish()

    def finish(self, stopped: bool) -> None:
        """An interrupted search ends with what it knew."""
        if not self.progress.done:
            self._publish(done=True, stop_reason="stopped" if stopped else "max_steps")

    def _next_load(self) -> tuple[float | None, str | None]:
        """The next load to try, or None and why the search is over."""
        progress = self.progress
        low, high = progress.low, progress.high
        if not progress.steps:
            return self.start, None
        if len(progress.steps) >= progress.max_steps:
            return None, "max_steps"
        if high is None:  # every step passed: keep doubling, up to the ceiling
            if self.ceiling is not None and low >= self.ceiling:
                return None, "ceiling"
            grown = low * 2
            return (min(grown, self.ceiling) if self.ceiling is not None else grown), None
        if low is None:  # even the first load failed: halve until one passes
            if not self.by_rate and high <= 1:
                return None, "none_passed"
            return (round_rate(high / 2) if self.by_rate else high // 2), None
        if self._close(low, high):
            return None, "converged"
        middle = round_rate((low + high) / 2) if self.by_rate else (low + high) // 2
        if middle in (low, high):
            return None, "converged"
        return middle, None

    def _close(self, low: float, high: float) -> bool:
        """True when the bounds are within the tolerance of each other (or adjacent concurrencies)."""
        return high - low <= self.progress.tolerance * low or (not self.by_rate and high - low <= 1)

    def _publish(self, **changes) -> None:
        """Fire the `search` hook with the search's progress (after applying `changes`)."""
        if changes:
            self.progress = replace(self.progress, **changes)
        self.hooks.search.fire(progress=self.progress)
