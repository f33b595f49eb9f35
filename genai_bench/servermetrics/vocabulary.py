"""One vocabulary for what serving engines say about themselves at /metrics: one table, one row per engine metric.

Every engine names the same few things differently (vLLM's `vllm:num_requests_running` is SGLang's
`sglang:num_running_reqs`); views read only the normalized names below. Units: counts are counts, rates per second,
and every share (KV cache usage, prefix cache hit rate, GPU utilization) is a percentage 0-100, whatever the engine
exposes (vLLM and SGLang give 0-1, DCGM already percent). GPU memory is MiB, as DCGM reports it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

GAUGE = "gauge"  # read as it is
RATE = "rate"  # a counter: per second between two scrapes
RATIO = "ratio"  # two counters: delta of the first over delta of the second, between two scrapes

# How each normalized series combines several values (label sets of one server, or several servers): counts and
# rates add up, shares average.
COMBINE = {
    "running": "sum", "waiting": "sum", "kv_cache_usage": "mean", "prefix_cache_hit_rate": "mean",
    "generation_tokens_per_second": "sum", "prompt_tokens_per_second": "sum", "preemptions_per_second": "sum",
    "gpu_utilization": "mean", "gpu_memory_used": "sum",
}
SERIES = tuple(COMBINE)
# The counter behind the generated-token cross-check (its total, not only its rate, is kept per source).
GENERATION_TOKENS = "generation_tokens_per_second"


@dataclass(frozen=True)
class Reading:
    """How one engine exposes one normalized series: the sample names tried in order, and how to read them."""

    series: str
    names: tuple[str, ...]
    kind: str = GAUGE
    scale: float = 1.0  # into the vocabulary's unit (0-1 shares times 100)
    over: tuple[str, ...] = ()  # RATIO: the denominator counter's names


@dataclass(frozen=True)
class Engine:
    """An engine's readings; `marker` is a prefix only its sample names start with, so a scrape names its engine."""

    name: str
    marker: str
    readings: tuple[Reading, ...]


ENGINES = (
    Engine("vllm", "vllm:", (
        Reading("running", ("vllm:num_requests_running",)),
        Reading("waiting", ("vllm:num_requests_waiting",)),
        # Despite the _perc suffix vLLM reports 0-1 (1 means 100 percent); the V0 name first, the V1 one second.
        Reading("kv_cache_usage", ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"), scale=100.0),
        Reading("prefix_cache_hit_rate", ("vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"), RATIO,
                100.0, over=("vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total")),
        Reading("prefix_cache_hit_rate", ("vllm:gpu_prefix_cache_hit_rate",), scale=100.0),  # V0: a gauge
        Reading("generation_tokens_per_second", ("vllm:generation_tokens_total",), RATE),
        Reading("prompt_tokens_per_second", ("vllm:prompt_tokens_total",), RATE),
        Reading("preemptions_per_second", ("vllm:num_preemptions_total",), RATE),
    )),
    Engine("sglang", "sglang:", (
        Reading("running", ("sglang:num_running_reqs",)),
        Reading("waiting", ("sglang:num_queue_reqs",)),
        Reading("kv_cache_usage", ("sglang:token_usage",), scale=100.0),
        Reading("prefix_cache_hit_rate", ("sglang:cache_hit_rate",), scale=100.0),
        Reading("generation_tokens_per_second", ("sglang:generation_tokens_total",), RATE),
        Reading("prompt_tokens_per_second", ("sglang:prompt_tokens_total",), RATE),
    )),
    Engine("tgi", "tgi_", (
        Reading("running", ("tgi_batch_current_size",)),
        Reading("waiting", ("tgi_queue_size",)),
        # TGI counts tokens per finished request (histogram sums), so its rates move in steps as requests end.
        Reading("generation_tokens_per_second", ("tgi_request_generated_tokens_sum",), RATE),
        Reading("prompt_tokens_per_second", ("tgi_request_input_length_sum",), RATE),
    )),
    Engine("llamacpp", "llamacpp:", (
        Reading("running", ("llamacpp:requests_processing",)),
        Reading("waiting", ("llamacpp:requests_deferred",)),
        Reading("kv_cache_usage", ("llamacpp:kv_cache_usage_ratio",), scale=100.0),
        Reading("generation_tokens_per_second", ("llamacpp:tokens_predicted_total",), RATE),
        Reading("prompt_tokens_per_second", ("llamacpp:prompt_tokens_total",), RATE),
    )),
    Engine("dcgm", "DCGM_FI_", (
        Reading("gpu_utilization", ("DCGM_FI_DEV_GPU_UTIL",)),  # percent, one sample per GPU
        Reading("gpu_memory_used", ("DCGM_FI_DEV_FB_USED",)),  # MiB, one sample per GPU
    )),
)


class ExpositionError(ValueError):
    """The text is not the Prometheus exposition format, or holds no sample."""


# Every sample name the table reads: a scrape's other lines (histogram buckets, HELP/TYPE comments) are dropped
# before parsing, which keeps a large /metrics page (vLLM's has hundreds of bucket lines) cheap to read.
KNOWN_NAMES = frozenset(name for engine in ENGINES for reading in engine.readings
                        for name in reading.names + reading.over)


def sample_name(line: str) -> str:
    """The metric name a line of exposition text starts with."""
    return line.split("{", 1)[0].split(" ", 1)[0]


def parse_samples(text: str, include: re.Pattern | None = None) -> dict[str, list[float]]:
    """Values by sample name (one per label set) of the known metrics, and of those `include` matches, in `text`.

    Comment lines are dropped, so every sample keeps its full name (a counter's _total, a histogram's _sum).
    """
    kept = [line for line in text.splitlines() if line and not line.startswith("#")
            and ((name := sample_name(line)) in KNOWN_NAMES or (include is not None and include.search(name)))]
    samples: dict[str, list[float]] = {}
    try:
        for family in text_string_to_metric_families("\n".join(kept) + "\n"):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append(float(sample.value))
    except (ValueError, TypeError, IndexError) as exc:
        raise ExpositionError(f"not Prometheus text ({str(exc)[:80]})") from None
    if not samples:
        raise ExpositionError("no metric genai-bench knows" + (" or --server-metrics-include selects" if include else ""))
    return samples


def combine(series: str, values: Iterable[float]) -> float | None:
    """Several values of one series as one: summed or averaged (COMBINE); None when there are none."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    return sum(finite) if COMBINE.get(series, "sum") == "sum" else sum(finite) / len(finite)


def engines_of(samples: dict[str, list[float]]) -> tuple[Engine, ...]:
    """The engines whose metrics a scrape holds (a server and a GPU exporter can share one endpoint)."""
    return tuple(e for e in ENGINES if any(name.startswith(e.marker) for name in samples))


@dataclass
class Reader:
    """Reads one source's scrapes into the vocabulary, keeping the counters of the previous scrape for rates."""

    include: re.Pattern | None = None  # unknown metrics kept raw when their name matches
    _previous: dict[str, float] = field(default_factory=dict)
    _previous_t: float | None = None

    def read(self, samples: dict[str, list[float]], t: float) -> tuple[str | None, dict, dict, dict]:
        """(engine, values by series, counter totals by series, raw values by sample name) of one scrape at `t`."""
        engines = engines_of(samples)
        counters = {name: sum(values) for name, values in samples.items()}
        dt = None if self._previous_t is None else t - self._previous_t
        values: dict[str, float | None] = {}
        totals: dict[str, float] = {}
        for reading in (r for e in engines for r in e.readings):
            if values.get(reading.series) is not None:
                continue  # an earlier name or engine already gave it
            name = next((n for n in reading.names if n in samples), None)
            if name is None:
                continue
            if reading.kind == GAUGE:
                values[reading.series] = _scaled(combine(reading.series, samples[name]), reading.scale)
            elif reading.kind == RATE:
                totals[reading.series] = counters[name]
                values[reading.series] = _scaled(self._delta(name, counters, dt), reading.scale)
            else:
                over = next((n for n in reading.over if n in samples), None)
                hits, queries = self._delta(name, counters, 1.0), over and self._delta(over, counters, 1.0)
                values[reading.series] = _scaled(hits / queries, reading.scale) if hits is not None and queries else None
        self._previous, self._previous_t = counters, t
        raw = {name: sum(v) for name, v in samples.items() if self.include and self.include.search(name)}
        return (engines[0].name if engines else None), values, totals, raw

    def _delta(self, name: str, counters: dict[str, float], dt: float | None) -> float | None:
        """The counter's increase since the previous scrape over `dt`; None on the first scrape or after a reset."""
        before = self._previous.get(name)
        if before is None or not dt or dt <= 0 or counters[name] < before:
            return None
        return (counters[name] - before) / dt


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else value * scale
