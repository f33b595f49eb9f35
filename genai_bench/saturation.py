"""Over-saturation: a run whose server clearly cannot keep up, told apart from one that is merely slow.

A server past its capacity queues what it cannot serve, so waiting grows for as long as the run lasts. The watch
compares the median of the last third of a run's samples with the first third's (a median, not a mean, so a few
slow requests do not trip it): rising by a factor *and* by an absolute margin, once the run has enough of them.
Open loop samples latency counted from each request's scheduled time (schedule lag plus TTFT), which rises whether
requests wait in the client (the in-flight cap is reached) or in the server's queue; closed loop samples TTFT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gevent.event import Event

from genai_bench.metrics import RequestMetrics


@dataclass(frozen=True)
class SaturationRule:
    """When rising waiting counts as over-saturation."""

    factor: float = 2.0  # the last third's median at least this many times the first third's
    margin: float = 0.1  # seconds: and at least this much above it (a 5 ms TTFT doubling is noise, not a queue)
    min_requests: int = 30  # samples before judging: a third of them must say something
    min_elapsed: float = 1.0  # seconds into the run before judging: the first requests' start-up is no trend
    max_samples: int = 6000  # kept samples; past it every other one is dropped, which keeps the thirds' shape


class SaturationWatch:
    """Watches one run's finished requests on the live tick; `cut` is set when it should end early."""

    def __init__(self, open_loop: bool, stop: bool, rule: SaturationRule = SaturationRule()) -> None:
        self.metric = "ttft_from_schedule" if open_loop else "ttft"
        self.stop = stop
        self.rule = rule
        self.samples: list[float] = []
        self.seen = 0  # requests of the run already read
        self.reason: str | None = None  # set once over-saturation is seen
        self.cut = Event()  # set with the reason when the run should stop (--stop-on-saturation)

    @property
    def oversaturated(self) -> bool:
        """True once the run was seen over-saturated."""
        return self.reason is not None

    def check(self, requests: list[RequestMetrics], elapsed: float) -> str | None:
        """Read the requests finished since the last tick; the reason when over-saturation is first seen, else None."""
        for metrics in requests[self.seen:]:
            value = getattr(metrics, self.metric)
            if value is not None:
                self.samples.append(value)
        self.seen = len(requests)
        if len(self.samples) > self.rule.max_samples:
            self.samples = self.samples[::2]
        if self.oversaturated or elapsed < self.rule.min_elapsed or len(self.samples) < self.rule.min_requests:
            return None
        third = len(self.samples) // 3
        first, last = float(np.median(self.samples[:third])), float(np.median(self.samples[-third:]))
        if last < first * self.rule.factor or last - first < self.rule.margin:
            return None
        name = "TTFT from schedule" if self.metric == "ttft_from_schedule" else "TTFT"
        self.reason = (f"over-saturated: median {name} rose from {first * 1000:.0f} ms to {last * 1000:.0f} ms "
                       f"over the run; the server cannot keep up with this load")
        if self.stop:
            self.cut.set()
        return self.reason
