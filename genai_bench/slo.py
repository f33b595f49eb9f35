"""Service-level objectives: the --slo grammar, whether one request meets them, and a run's attainment and goodput.

A request meets an SLO when its metric is at most the target. Errors meet none. A successful request whose metric
cannot apply to it meets that SLO: tpot and itl for an answer whose tokens came in one piece (one token, or one
chunk); ttft_answer, for a request that did not reason first, is its ttft. A successful request that brought no
token at all has nothing to be on time with, so it meets no SLO but e2e.
"""

from __future__ import annotations

import math
import re
from collections import deque
from typing import Any, Iterable

from genai_bench.config import ConfigError
from genai_bench.durations import to_seconds

# The metrics an SLO can bound, by the name they have everywhere else (stats, CSV, events); `e2e` is accepted for
# e2e_latency on the command line. itl is a request's largest inter-token latency: a stall is what a reader sees.
SLO_METRICS = ("ttft", "tpot", "e2e_latency", "itl", "ttft_answer")
SLO_ALIASES = {"e2e": "e2e_latency"}
_SLO = re.compile(r"^\s*([a-z0-9_]+)\s*=\s*((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*(ms|s)\s*$", re.IGNORECASE)
SLO_FORM = "give METRIC=VALUE with a unit, e.g. ttft=200ms or e2e=5s (metrics: ttft, tpot, e2e, itl, ttft_answer; units: ms, s)"


def parse_slos(values: Iterable[str]) -> dict[str, float]:
    """--slo values (repeated or comma-separated) as {metric: target in seconds}, or a one-line ConfigError."""
    targets: dict[str, float] = {}
    for text in (part for value in values for part in value.split(",") if part.strip()):
        match = _SLO.match(text)
        name = SLO_ALIASES.get(match.group(1).lower(), match.group(1).lower()) if match else None
        if name not in SLO_METRICS:
            raise ConfigError(f"--slo {text.strip()!r}: {SLO_FORM}")
        seconds = to_seconds(float(match.group(2)), match.group(3))
        if not 0 < seconds < math.inf:
            raise ConfigError(f"--slo {text.strip()!r}: the target must be a positive duration; {SLO_FORM}")
        if name in targets:
            raise ConfigError(f"--slo names {name} twice; give one target per metric")
        targets[name] = seconds
    return targets


def largest_itl(metrics: Any) -> float | None:
    """A request's largest inter-token latency (None without two content chunks); one pass over its chunks."""
    record = metrics.record
    chunks = record.chunk_times
    if metrics.ttft is None or len(chunks) < 2:
        return None
    # The same per-token scaling as metrics.inter_token_latencies, without building the list.
    tokens_per_chunk = max(record.num_output_tokens / len(chunks), 1.0)
    return max(later - earlier for earlier, later in zip(chunks, chunks[1:])) / tokens_per_chunk


def slo_value(metrics: Any, name: str) -> float | None:
    """The value an SLO on `name` is held against for one successful request (None: the metric cannot apply)."""
    if name == "itl":
        return largest_itl(metrics)
    if name == "ttft_answer" and metrics.ttft_answer is None:
        return metrics.ttft  # no reasoning came first: the first token is the answer's
    return getattr(metrics, name)


def met_metrics(metrics: Any, targets: dict[str, float]) -> tuple[bool, ...]:
    """Whether one request (metrics.RequestMetrics) meets each target, in the targets' order."""
    if not metrics.record.ok:
        return (False,) * len(targets)
    out = []
    for name, target in targets.items():
        value = slo_value(metrics, name)
        if value is None:
            # tpot and itl cannot apply to an answer that came in one piece; without any token nothing is on time.
            out.append(name in ("tpot", "itl") and metrics.ttft is not None)
        else:
            out.append(value <= target)
    return tuple(out)


def slo_statistics(measured: list, duration: float, targets: dict[str, float] | None) -> dict | None:
    """A run's `slo`: targets (s), attainment and per-metric shares over every measured request, and goodput."""
    if not targets:
        return None
    met = [met_metrics(m, targets) for m in measured]
    good = [m for m, flags in zip(measured, met) if all(flags)]
    count = len(measured)
    return {
        "targets": dict(targets),
        "attainment": len(good) / count if count else None,
        "per_metric": {name: (sum(flags[i] for flags in met) / count if count else None)
                       for i, name in enumerate(targets)},
        "goodput_requests_per_second": len(good) / duration if duration > 0 else 0.0,
        "goodput_output_tokens_per_second": (sum(m.record.num_output_tokens for m in good) / duration
                                             if duration > 0 else 0.0),
    }


def scaled_slo(slo: dict | None, scale: float) -> dict | None:
    """A run's `slo` with its targets multiplied by `scale` (seconds to the run file's unit, or back)."""
    if slo is None:
        return None
    return {**slo, "targets": {name: target * scale for name, target in slo["targets"].items()}}


class LiveSlo:
    """The live window's SLO outcomes (the latest `size` requests, errors included), kept with running sums: O(1)."""

    def __init__(self, targets: dict[str, float], size: int) -> None:
        self.targets = targets
        self.size = size
        self.window: deque[tuple[bool, ...]] = deque()
        self.met_counts = [0] * len(self.targets)
        self.good_in_window = 0
        self.good = 0  # requests meeting every SLO in the run so far
        self.good_output_tokens = 0

    def add(self, metrics: Any) -> None:
        """Take one finished request; evicts the oldest once the window is full."""
        flags = met_metrics(metrics, self.targets)
        if len(self.window) == self.size:
            self._count(self.window.popleft(), -1)
        self.window.append(flags)
        self._count(flags, 1)
        if all(flags):
            self.good += 1
            self.good_output_tokens += metrics.record.num_output_tokens

    def _count(self, flags: tuple[bool, ...], sign: int) -> None:
        for i, flag in enumerate(flags):
            self.met_counts[i] += sign * flag
        self.good_in_window += sign * all(flags)

    def snapshot(self, elapsed: float) -> dict:
        """Attainment and per-metric shares over the window; goodput over the run so far, like requests_per_second."""
        count = len(self.window)
        return {
            "targets": dict(self.targets),
            "attainment": self.good_in_window / count if count else None,
            "per_metric": {name: (self.met_counts[i] / count if count else None) for i, name in enumerate(self.targets)},
            "goodput_requests_per_second": self.good / elapsed if elapsed > 0 else 0.0,
            "goodput_output_tokens_per_second": self.good_output_tokens / elapsed if elapsed > 0 else 0.0,
            "window": count,
        }
