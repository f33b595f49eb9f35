"""The client watching itself: CPU use and event-loop lag, which distort timings when the client saturates."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import gevent
import numpy as np
import psutil

# Above these the client's own delays, not the server's, start to show in the numbers.
CPU_SATURATION_PERCENT = 80.0
LAG_SATURATION_MS = 1.0
SAMPLE_INTERVAL = 0.1
CPU_INTERVAL = 1.0


@dataclass
class ClientHealth:
    """How busy the client was during a run."""

    cpu_percent_mean: float
    cpu_percent_max: float
    loop_lag_p50_ms: float
    loop_lag_p90_ms: float
    loop_lag_p99_ms: float
    saturated: bool

    def to_dict(self) -> dict:
        """Plain dict for run files and events."""
        return dict(self.__dict__)


class ClientMonitor:
    """Samples this process's CPU every second and the gevent loop's lag every 100 ms while a run goes on.

    Loop lag is how long a callback queued on the hub waits before it runs: a chunk that arrives while the loop is
    busy waits as long before it is timestamped.
    """

    def __init__(self, on_saturated: Callable[[str], None]) -> None:
        self.on_saturated = on_saturated
        self.process = psutil.Process()
        self.cpu: list[float] = []
        self.lags: list[float] = []
        self.warned = False
        self.greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        """Begin sampling."""
        self.process.cpu_percent()  # primes psutil's interval
        self.greenlet = gevent.spawn(self._sample)

    def stop(self) -> ClientHealth:
        """Stop sampling and summarize."""
        if self.greenlet is not None:
            self.greenlet.kill()
        lags_ms = np.array(self.lags) * 1000.0 if self.lags else np.zeros(1)
        cpu = self.cpu or [self.process.cpu_percent()]
        p50, p90, p99 = (float(v) for v in np.percentile(lags_ms, [50, 90, 99]))
        return ClientHealth(float(np.mean(cpu)), float(max(cpu)), p50, p90, p99, self._saturated(cpu, lags_ms))

    def _sample(self) -> None:
        loop = gevent.get_hub().loop
        next_cpu = time.monotonic() + CPU_INTERVAL
        while True:
            queued = time.perf_counter()
            ran = gevent.event.AsyncResult()
            loop.run_callback(lambda: ran.set(time.perf_counter()))
            self.lags.append(ran.get() - queued)
            if time.monotonic() >= next_cpu:
                self.cpu.append(self.process.cpu_percent())
                next_cpu += CPU_INTERVAL
                self._check()
            gevent.sleep(SAMPLE_INTERVAL)

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
        """Saturated when CPU stayed above 80%, or one sample in ten waited more than 1 ms on the loop.

        A rarer lag (p99) comes from bursts of chunks arriving together; it is recorded, not flagged, since
        it says nothing about whether more workers would help.
        """
        cpu_high = len(cpu) > 0 and min(cpu) > CPU_SATURATION_PERCENT
        return cpu_high or float(np.percentile(lags_ms, 90)) > LAG_SATURATION_MS
