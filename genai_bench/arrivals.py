"""Send times of an open-loop run at a rate: Poisson, evenly spaced or gamma-bursty gaps, optionally ramping up.

Gaps are drawn in operational time: the number of requests the whole run expects by then, in which every shape has
gaps of mean 1 (constant: exactly 1; Poisson: exponential; burstiness K: gamma with shape K and scale 1/K, so mean 1,
variance 1/K, coefficient of variation 1/sqrt(K)). A count u becomes seconds by inverting the integrated rate
Λ(t) = ∫ rate: at a steady rate R, t = u/R; ramping linearly from 0 to R over S seconds, Λ(t) = R t²/(2S) until S
(R·S/2 requests), so t = sqrt(2·S·u/R) there and S + (u − R·S/2)/R after. Without a ramp this is plain gaps of
mean 1/R seconds; with one, the first requests are spaced widely and the shape holds throughout.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from genai_bench.config import BenchmarkConfig

# Gaps drawn per call to the generator: one draw per request would cost a numpy call each.
_GAP_BATCH = 256


class SendTimes(Protocol):
    """Where each claimed request of an open-loop run is due: an ArrivalSchedule or a trace's timestamps.

    The event loop's timers wake up to a millisecond late (epoll waits in whole milliseconds). A user waits on a timer
    until `yield_seconds` before the send time, then yields to the loop until it comes: exact to a few microseconds,
    at the cost of up to that much loop time per request spent switching.
    """

    yield_seconds: float

    def next_send_time(self) -> float:
        """The perf_counter time at which the next request is due."""


@dataclass(frozen=True)
class ArrivalShape:
    """How an open-loop run's arrivals spread around its rate (plain values, so workers get it as a dict)."""

    arrival: str = "poisson"  # poisson or constant
    burstiness: float | None = None  # gamma shape K of the gaps (1 is Poisson, below 1 burstier); None: `arrival`
    ramp_up_seconds: float = 0.0  # the rate rises linearly from 0 to its target over this long

    @classmethod
    def of(cls, config: BenchmarkConfig) -> ArrivalShape:
        """The shape a benchmark's options ask for."""
        return cls(config.arrival, config.burstiness, config.ramp_up_seconds)

    def to_dict(self) -> dict:
        """Plain values for a worker's run announcement."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ArrivalShape:
        """The shape from to_dict's values."""
        return cls(**data)

    def unit_gaps(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """`count` gaps of mean 1 (in requests the run expects), drawn from `rng`."""
        if self.burstiness is not None:
            return rng.gamma(self.burstiness, 1.0 / self.burstiness, count)
        if self.arrival == "poisson":
            return rng.standard_exponential(count)
        return np.ones(count)


class ArrivalSchedule:
    """Send times of an open-loop run: arrivals at `rate` requests per second, spread as `shape` says.

    Each claimed request gets the next time on the schedule whether or not a user was free for it, so a server that
    falls behind shows up as schedule lag and as latency counted from the scheduled time (no coordinated omission).
    `first_time` (perf_counter) starts the schedule at an agreed moment. A worker process of N keeps every N-th send
    time (`stride` N, its `position`) of the whole run's schedule, drawn from a generator seeded alike in every
    worker: together they send exactly the schedule one process would, shape and ramp included.
    """

    yield_seconds = 0.0  # timers alone: a rate's arrivals are random anyway, and high rates would switch all the time

    def __init__(self, rate: float, shape: ArrivalShape, rng: np.random.Generator, first_time: float | None = None,
                 stride: int = 1, position: int = 0) -> None:
        self.rate = rate
        self.shape = shape
        self.rng = rng
        self.first_time = first_time
        self.stride = stride
        self.position = position
        self._count = 0.0  # operational time of the whole run's next arrival
        self._index = 0  # that arrival's place in the whole run
        self._gaps = np.empty(0)
        self._next_gap = 0

    def next_send_time(self) -> float:
        """The perf_counter time at which this schedule's next request is due (the first is due now, or at
        `first_time`)."""
        if self.first_time is None:
            self.first_time = perf_counter()
        while self._index % self.stride != self.position:
            self._advance()
        due = self._count
        self._advance()
        return self.first_time + self.seconds_at(due)

    def seconds_at(self, count: float) -> float:
        """Seconds after the start at which the run's integrated rate reaches `count` requests."""
        rate, ramp = self.rate, self.shape.ramp_up_seconds
        ramp_count = rate * ramp / 2.0
        if count < ramp_count:
            return math.sqrt(2.0 * ramp * count / rate)
        return ramp + (count - ramp_count) / rate

    def _advance(self) -> None:
        if self._next_gap == len(self._gaps):
            self._gaps = self.shape.unit_gaps(self.rng, _GAP_BATCH)
            self._next_gap = 0
        self._count += float(self._gaps[self._next_gap])
        self._next_gap += 1
        self._index += 1
