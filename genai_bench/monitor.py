"""The client watching itself: CPU use and event-loop lag, which distort timings when the client saturates."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import gevent
import numpy as np
import psutil

# Above these the client's own delays, not the server's, start to show in the numbers.
CPU_SATURATION_PERCENT = 80.0
LAG_SATURATION_MS = 1.0
SAMPLE_INTERVAL = 0.1
CPU_INTERVAL = 1.0
# A connection storm: at least this many new dashboard connections within one second...
STORM_CONNECTIONS = 20
# ...while the loop lagged more than this (the fidelity target for TTFT p99): token reads may have waited.
STORM_LAG_MS = 5.0
# While connections arrive the loop is sampled this often, so a short stall is not missed between samples.
STORM_SAMPLE_INTERVAL = 0.01


class ConnectionCounter:
    """When a server accepted its recent connections (monotonic seconds, bounded), for the monitor to spot storms."""

    def __init__(self, size: int = 4096) -> None:
        self.times: deque[float] = deque(maxlen=size)
        self.total = 0

    def note(self) -> None:
        """One connection accepted now."""
        self.times.append(time.monotonic())
        self.total += 1

    def since(self, moment: float) -> int:
        """Connections accepted at or after `moment` (monotonic), up to the deque's size."""
        count = 0
        for accepted in reversed(self.times):
            if accepted < moment:
                break
            count += 1
        return count


@dataclass
class ConnectionStorm:
    """A burst of new dashboard connections during a run, and the worst loop lag seen while it lasted."""

    started_s: float  # seconds after the run's start
    seconds: float = 0.0
    connections: int = 0
    peak_per_second: int = 0
    lag_max_ms: float = 0.0

    @property
    def distorted(self) -> bool:
        """True when the loop lagged enough during the storm for token timings to suffer."""
        return self.lag_max_ms > STORM_LAG_MS

    def reason(self) -> str:
        """What the run's client health says about it."""
        return (f"dashboard connection storm: {self.peak_per_second} connections in 1 s at {self.started_s:.1f} s "
                f"(event-loop lag up to {self.lag_max_ms:.0f} ms)")

    def to_dict(self) -> dict:
        """Plain dict for run files."""
        return {**self.__dict__, "distorted": self.distorted}


@dataclass
class ClientHealth:
    """How busy the client was during a run."""

    cpu_percent_mean: float
    cpu_percent_max: float
    loop_lag_p50_ms: float
    loop_lag_p90_ms: float
    loop_lag_p99_ms: float
    saturated: bool
    reasons: list[str] = field(default_factory=list)
    connection_storms: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain dict for run files and events."""
        return dict(self.__dict__)


class ClientMonitor:
    """Samples this process's CPU every second and the gevent loop's lag every 100 ms while a run goes on.

    Loop lag is how long a callback queued on the hub waits before it runs: a chunk that arrives while the loop is
    busy waits as long before it is timestamped. With `connections` (the dashboard's), it also watches for
    connection storms, sampling the lag (and how late its own timer fires) every 10 ms while connections arrive; a
    storm during which the loop lagged more than 5 ms marks the run saturated, with the storm as the reason.
    """

    def __init__(self, on_saturated: Callable[[str], None], connections: ConnectionCounter | None = None) -> None:
        self.on_saturated = on_saturated
        self.connections = connections
        self.process = psutil.Process()
        self.cpu: list[float] = []
        self.lags: list[float] = []
        self.warned = False
        self.greenlet: gevent.Greenlet | None = None
        self.started = time.monotonic()
        self.storm: ConnectionStorm | None = None
        self.storm_total_before = 0
        self.storms: list[ConnectionStorm] = []

    def start(self) -> None:
        """Begin sampling."""
        self.process.cpu_percent()  # primes psutil's interval
        self.started = time.monotonic()
        self.greenlet = gevent.spawn(self._sample)

    def stop(self) -> ClientHealth:
        """Stop sampling and summarize."""
        if self.greenlet is not None:
            self.greenlet.kill()
        self._end_storm()
        lags_ms = np.array(self.lags) * 1000.0 if self.lags else np.zeros(1)
        cpu = self.cpu or [self.process.cpu_percent()]
        p50, p90, p99 = (float(v) for v in np.percentile(lags_ms, [50, 90, 99]))
        reasons = self._reasons(cpu, lags_ms) + [storm.reason() for storm in self.storms if storm.distorted]
        return ClientHealth(float(np.mean(cpu)), float(max(cpu)), p50, p90, p99, bool(reasons), reasons,
                            [storm.to_dict() for storm in self.storms])

    def _sample(self) -> None:
        loop = gevent.get_hub().loop
        next_cpu = next_lag = time.monotonic()
        next_cpu += CPU_INTERVAL
        late = 0.0
        while True:
            queued = time.perf_counter()
            ran = gevent.event.AsyncResult()
            loop.run_callback(lambda: ran.set(time.perf_counter()))
            lag = ran.get() - queued
            waited = time.perf_counter() - queued  # until this greenlet ran again: a stall just after counts too
            now = time.monotonic()
            if now >= next_lag:  # the run's percentiles keep their 100 ms cadence, storm or not
                self.lags.append(lag)
                next_lag = now + SAMPLE_INTERVAL
            if self.connections is not None:
                # A stall while this greenlet slept shows as a late wake-up, not as callback lag: count both.
                self._watch_storm(now, max(waited, late) * 1000.0)
            if now >= next_cpu:
                self.cpu.append(self.process.cpu_percent())
                next_cpu += CPU_INTERVAL
                self._check()
            arriving = self.connections is not None and self.connections.since(now - 1.0) > 0
            interval = STORM_SAMPLE_INTERVAL if arriving else SAMPLE_INTERVAL
            slept_from = time.perf_counter()
            gevent.sleep(interval)
            late = time.perf_counter() - slept_from - interval

    def _watch_storm(self, now: float, lag_ms: float) -> None:
        """Open a storm when the last second brought STORM_CONNECTIONS connections; track it until it calms."""
        recent = self.connections.since(now - 1.0)
        if self.storm is None and recent >= STORM_CONNECTIONS:
            first = self.connections.times[-recent]  # the storm's first connection
            self.storm = ConnectionStorm(started_s=max(first - self.started, 0.0))
            self.storm_total_before = self.connections.total - recent
        if self.storm is None:
            return
        self.storm.peak_per_second = max(self.storm.peak_per_second, recent)
        self.storm.lag_max_ms = max(self.storm.lag_max_ms, lag_ms)
        self.storm.seconds = now - self.started - self.storm.started_s
        if recent < STORM_CONNECTIONS:
            self._end_storm()

    def _end_storm(self) -> None:
        storm, self.storm = self.storm, None
        if storm is None:
            return
        storm.connections = self.connections.total - self.storm_total_before
        self.storms.append(storm)
        if storm.distorted:
            self.on_saturated(f"{storm.reason()}: timings in that interval may be late; the run is marked "
                              "client_saturated")

    def _check(self) -> None:
        recent_lags = np.array(self.lags[-50:]) * 1000.0
        if not self.warned and self._saturated(self.cpu[-2:], recent_lags):
            self.warned = True
            self.on_saturated(
                f"the benchmark client is saturated (CPU {self.cpu[-1]:.0f}% of a core, event-loop lag p90 "
                f"{np.percentile(recent_lags, 90):.1f} ms): its own delays now show in the latencies; "
                "lower the concurrency or add --num-workers")

    @staticmethod
    def _saturated(cpu: list[float], lags_ms: np.ndarray) -> bool:
        """Saturated when CPU stayed above 80%, or one sample in ten waited more than 1 ms on the loop."""
        return bool(ClientMonitor._reasons(cpu, lags_ms))

    @staticmethod
    def _reasons(cpu: list[float], lags_ms: np.ndarray) -> list[str]:
        """Why the client counts as saturated over these samples (none: it does not).

        A rarer lag (p99) comes from bursts of chunks arriving together; it is recorded, not flagged, since
        it says nothing about whether more workers would help.
        """
        reasons = []
        if len(cpu) > 0 and min(cpu) > CPU_SATURATION_PERCENT:
            reasons.append(f"client CPU above {CPU_SATURATION_PERCENT:.0f}% of a core throughout")
        lag_p90 = float(np.percentile(lags_ms, 90))
        if lag_p90 > LAG_SATURATION_MS:
            reasons.append(f"event-loop lag p90 {lag_p90:.1f} ms (above {LAG_SATURATION_MS:g} ms)")
        return reasons
