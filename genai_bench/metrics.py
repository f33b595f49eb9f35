"""All metrics live here: per-request figures, run statistics and the live snapshots every view reads."""

from __future__ import annotations

from array import array
from collections import Counter, deque
from dataclasses import dataclass

import numpy as np

from genai_bench.protocol import RequestRecord
from genai_bench.slo import LiveSlo, scaled_slo, slo_statistics

# Per-request metrics (spec §5). Latencies are seconds internally; rates are per second.
LATENCY_METRICS = ("ttft", "tpot", "e2e_latency", "output_latency", "ttft_answer")
# Open-loop runs only: how late each request left, and latency counted from when it was due.
SCHEDULE_METRICS = ("schedule_lag", "ttft_from_schedule", "e2e_latency_from_schedule")
RATE_METRICS = ("output_inference_speed", "input_throughput", "output_throughput")
# Reasoning models only: tokens spent thinking before the answer.
COUNT_METRICS = ("num_reasoning_tokens",)
# Token counts of each completed request (upstream's stats.num_input_tokens etc.; their `sum` is the run's total).
TOKEN_METRICS = ("num_input_tokens", "num_output_tokens", "total_tokens")
REQUEST_METRICS = LATENCY_METRICS + RATE_METRICS + SCHEDULE_METRICS + COUNT_METRICS
# itl is aggregated over every inter-chunk gap of every request, not per request.
AGGREGATED_METRICS = REQUEST_METRICS + TOKEN_METRICS + ("itl",)
TIME_METRICS = frozenset(LATENCY_METRICS + SCHEDULE_METRICS + ("itl",))
STAT_NAMES = ("mean", "min", "max", "stddev", "sum", "p25", "p50", "p75", "p90", "p95", "p99")
PERCENTILES = (25, 50, 75, 90, 95, 99)
LIVE_METRICS = ("ttft", "tpot", "e2e_latency", "output_latency", "input_throughput", "output_throughput",
                "ttft_answer", "num_reasoning_tokens")
# A server's usage and a local count further apart than this share count as a token_count_mismatch.
TOKEN_COUNT_TOLERANCE = 0.05
LIVE_STATS = ("mean", "min", "max", "p50", "p90", "p99")
# Multi-turn runs: the metrics shown by turn index, where prefix reuse across turns shows.
TURN_METRICS = ("ttft", "e2e_latency")
TIME_UNIT_SCALE = {"s": 1.0, "ms": 1000.0}
_NO_GAPS = np.empty(0)
_LIVE_QUANTILES = np.array([50, 90, 99]) / 100  # LIVE_STATS' percentiles, as np.percentile scales them


@dataclass(slots=True)
class RequestMetrics:
    """The §5 figures of one request, computed once when its record arrives."""

    record: RequestRecord
    ttft: float | None = None
    tpot: float | None = None
    e2e_latency: float | None = None
    output_latency: float | None = None
    output_inference_speed: float | None = None
    input_throughput: float | None = None
    output_throughput: float | None = None
    schedule_lag: float | None = None
    ttft_from_schedule: float | None = None
    e2e_latency_from_schedule: float | None = None
    ttft_answer: float | None = None  # to the first answer token, for requests that reasoned first
    num_reasoning_tokens: int | None = None

    @property
    def itl(self) -> list[float]:
        """Inter-token latencies; derived when asked (run end, run files), so the hot path never loops over chunks."""
        if self.ttft is None:
            return []
        return inter_token_latencies(self.record.chunk_times, self.record.num_output_tokens)

    def itl_array(self) -> np.ndarray:
        """The same gaps as `itl`, computed in one vectorised pass (run statistics and run files go over every token)."""
        if self.ttft is None:
            return _NO_GAPS
        return inter_token_gaps(self.record.chunk_times, self.record.num_output_tokens)

    def to_dict(self, clock_offset: float = 0.0, time_unit: str = "s") -> dict:
        """The record's fields plus its metrics, times in `time_unit`."""
        scale = TIME_UNIT_SCALE[time_unit]
        out = self.record.to_dict(clock_offset)
        del out["reasoning_tokens"]  # the record's count, under upstream's name below (None for errors, like it)
        out["total_tokens"] = out["num_input_tokens"] + out["num_output_tokens"]
        for name in REQUEST_METRICS:
            value = getattr(self, name)
            out[name] = None if value is None else (value * scale if name in TIME_METRICS else value)
        out["itl"] = (self.itl_array() * scale).tolist()
        return out


def request_metrics(record: RequestRecord) -> RequestMetrics:
    """Compute ttft, tpot, itl, e2e, output latency and throughputs of one request (spec §5)."""
    metrics = RequestMetrics(record=record, e2e_latency=record.end - record.start)
    scheduled = record.scheduled_start
    if scheduled is not None:
        metrics.schedule_lag = record.start - scheduled
        metrics.e2e_latency_from_schedule = record.end - scheduled
        if record.first_token is not None:
            metrics.ttft_from_schedule = record.first_token - scheduled
    if not record.ok or record.first_token is None:
        return metrics
    ttft = record.first_token - record.start
    output_latency = record.end - record.first_token
    metrics.ttft = ttft
    metrics.output_latency = output_latency
    metrics.num_reasoning_tokens = record.reasoning_tokens
    if record.first_answer is not None and record.reasoning_tokens is not None:
        # Only when reasoning came first: otherwise it is the ttft itself, and views would show it twice.
        metrics.ttft_answer = record.first_answer - record.start
    if ttft > 0:
        metrics.input_throughput = record.num_input_tokens / ttft
    tokens_after_first = record.num_output_tokens - 1
    if tokens_after_first > 0 and output_latency > 0:
        metrics.tpot = output_latency / tokens_after_first
        metrics.output_inference_speed = 1.0 / metrics.tpot
        metrics.output_throughput = tokens_after_first / output_latency
    return metrics


def inter_token_latencies(chunk_times: list[float], num_output_tokens: int) -> list[float]:
    """Gaps between successive content chunks, each divided by the tokens a chunk carries on average."""
    num_chunks = len(chunk_times)
    if num_chunks < 2:
        return []
    # Per-chunk token counts are not known without tokenizing every chunk on the hot path; servers that
    # batch tokens do so evenly, so the mean tokens per chunk is the honest divisor.
    tokens_per_chunk = max(num_output_tokens / num_chunks, 1.0)
    return [(later - earlier) / tokens_per_chunk for earlier, later in zip(chunk_times, chunk_times[1:])]


def inter_token_gaps(chunk_times: array, num_output_tokens: int) -> np.ndarray:
    """inter_token_latencies as an array: each difference and division is the same float operation, so the same
    values."""
    times = np.frombuffer(chunk_times, dtype=float) if isinstance(chunk_times, array) else np.asarray(chunk_times, float)
    if times.size < 2:
        return _NO_GAPS
    return np.diff(times) / max(num_output_tokens / times.size, 1.0)


def describe(values: list[float] | np.ndarray, stats: tuple[str, ...] = STAT_NAMES) -> dict[str, float] | None:
    """Mean, min, max, stddev and percentiles of `values` (None when empty)."""
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return None
    out = {}
    wanted_percentiles = [p for p in PERCENTILES if f"p{p}" in stats]
    if wanted_percentiles:
        out.update({f"p{p}": float(v) for p, v in zip(wanted_percentiles, np.percentile(array, wanted_percentiles))})
    simple = {"mean": np.mean, "min": np.min, "max": np.max, "stddev": np.std, "sum": np.sum}
    out.update({name: float(simple[name](array)) for name in stats if name in simple})
    return {name: out[name] for name in stats}


def live_describe(values: deque[float]) -> dict[str, float] | None:
    """describe(values, LIVE_STATS), the same floats from one sort: the live tick runs it for every metric four times
    a second, and np.percentile's own overhead was most of its cost."""
    if not values:
        return None
    array = np.fromiter(values, dtype=float, count=len(values))
    ordered = np.sort(array)
    # numpy's "linear" method, step for step: position q*(n-1), and its lerp that works back from the upper value
    # past the midpoint.
    position = _LIVE_QUANTILES * (ordered.size - 1)
    below = np.floor(position)
    weight = position - below
    low = ordered[below.astype(int)]
    high = ordered[np.minimum(below.astype(int) + 1, ordered.size - 1)]
    diff = high - low
    p50, p90, p99 = np.where(weight >= 0.5, high - diff * (1 - weight), low + diff * weight).tolist()
    return {"mean": float(array.mean()), "min": float(ordered[0]), "max": float(ordered[-1]), "p50": p50, "p90": p90,
            "p99": p99}


def histogram(values: list[float] | np.ndarray, bins: int = 20) -> dict[str, list]:
    """Bin edges and counts of non-empty `values`."""
    low, high = float(np.min(values)), float(np.max(values))
    # Near-identical values would give bins narrower than float precision allows.
    high = max(high, low + abs(low) * 1e-6 + 1e-9)
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    return {"edges": edges.tolist(), "counts": counts.tolist()}


@dataclass
class RunStatistics:
    """Aggregated metrics of one scenario × concurrency run over its measured window.

    Field names are upstream genai-bench's `aggregated_metrics` keys where it has the quantity (docs/formats.md).
    """

    scenario: str
    num_concurrency: int
    num_requests: int
    num_completed_requests: int
    num_error_requests: int
    num_excluded: int
    error_rate: float
    error_kinds_frequency: dict[str, int]  # by our error code: "429", "timeout", "incomplete_stream", ...
    run_duration: float
    requests_per_second: float
    mean_input_throughput_tokens_per_s: float
    mean_output_throughput_tokens_per_s: float
    mean_total_tokens_throughput_tokens_per_s: float
    tokens_estimated: bool
    stats: dict[str, dict[str, float] | None]
    token_count_checked: int = 0  # requests whose usage was compared with a local count
    token_count_mismatch: float | None = None  # share of those that differ by more than TOKEN_COUNT_TOLERANCE
    partial: bool = False
    client: dict | None = None  # the client's own health during the run (monitor.ClientHealth)
    request_rate: float | None = None  # open loop: the scheduled arrival rate; None for closed loop
    stats_by_turn: dict[str, dict] | None = None  # multi-turn runs: TTFT and E2E by turn index ("1", "2", ...)
    # With --slo: {targets (s), attainment, per_metric, goodput_requests_per_second, goodput_output_tokens_per_second}.
    slo: dict | None = None
    oversaturated: bool = False  # the server could not keep up: waiting rose through the run (saturation.py)
    trace: dict | None = None  # trace replays: requests sent and their send-time error vs the trace (trace.py)
    # Embeddings and rerank: texts (documents) sent in completed requests and their rate; the run's --batch-size.
    total_inputs: int = 0
    inputs_per_second: float = 0.0
    batch_size: int | None = None
    # --server-metrics: the server's queue, KV usage and token rate over the run, and its generated-token count
    # against the client's (servermetrics.RunServerMetrics.summary); None when nothing was scraped.
    server: dict | None = None
    server_token_mismatch: bool = False  # the two token counts differ by more than TOKEN_COUNT_TOLERANCE
    # What the measured requests sent: mean request body and image bytes, images per request, bytes sent per second.
    upload: dict | None = None

    @property
    def iteration_type(self) -> str:
        """The sweep's axis, like upstream: "batch_size" for batched tasks, else "num_concurrency"."""
        return "num_concurrency" if self.batch_size is None else "batch_size"

    @property
    def error_codes_frequency(self) -> dict[str, int]:
        """Errors by upstream's numeric code: the HTTP status, or the status upstream gives a failure without one."""
        return upstream_error_codes(self.error_kinds_frequency)

    @property
    def total_input_tokens(self) -> int:
        """Input tokens of the completed requests (stats.num_input_tokens.sum)."""
        return int((self.stats.get("num_input_tokens") or {}).get("sum") or 0)

    @property
    def total_output_tokens(self) -> int:
        """Output tokens of the completed requests (stats.num_output_tokens.sum)."""
        return int((self.stats.get("num_output_tokens") or {}).get("sum") or 0)

    @property
    def client_saturated(self) -> bool:
        """True when the client's own load may have distorted this run's timings."""
        return bool(self.client and self.client.get("saturated"))

    def to_dict(self, time_unit: str = "s") -> dict:
        """Plain dict with latency statistics in `time_unit`."""
        scale = TIME_UNIT_SCALE[time_unit]
        out = {name: value for name, value in self.__dict__.items() if name not in ("stats", "stats_by_turn", "slo")}
        out["iteration_type"] = self.iteration_type
        out["error_codes_frequency"] = self.error_codes_frequency
        out["client_saturated"] = self.client_saturated
        out["stats"] = scaled_stats(self.stats, scale)
        out["stats_by_turn"] = scaled_by_turn(self.stats_by_turn, scale)
        out["slo"] = scaled_slo(self.slo, scale)
        return out


def scaled_stats(stats: dict[str, dict | None], scale: float) -> dict[str, dict | None]:
    """Statistics by metric with the time metrics multiplied by `scale` (seconds to ms, or back with 1/1000)."""
    return {metric: (None if described is None else
                     {k: v * scale for k, v in described.items()} if metric in TIME_METRICS else dict(described))
            for metric, described in stats.items()}


def scaled_by_turn(by_turn: dict[str, dict] | None, scale: float) -> dict[str, dict] | None:
    """stats_by_turn with its latency statistics multiplied by `scale`."""
    if by_turn is None:
        return None
    return {turn: {**entry, **scaled_stats({m: entry[m] for m in TURN_METRICS}, scale)}
            for turn, entry in by_turn.items()}


def turn_statistics(measured: list[RequestMetrics]) -> dict[str, dict] | None:
    """By turn index: completed requests, errors, TTFT and E2E statistics and mean input tokens (None: single-turn)."""
    by_turn: dict[int, list[RequestMetrics]] = {}
    for m in measured:
        if m.record.turn is not None:
            by_turn.setdefault(m.record.turn, []).append(m)
    if not by_turn:
        return None
    out = {}
    for turn, group in sorted(by_turn.items()):
        completed = [m for m in group if m.record.ok]
        out[str(turn)] = {
            "count": len(completed),
            "errors": len(group) - len(completed),
            **{name: describe([getattr(m, name) for m in completed]) for name in TURN_METRICS},
            "num_input_tokens": float(np.mean([m.record.num_input_tokens for m in completed])) if completed else None,
        }
    return out


def measured_slice(metrics: list[RequestMetrics], warmup_ratio: float, cooldown_ratio: float) -> list[RequestMetrics]:
    """Requests left after dropping the first `warmup_ratio` and last `cooldown_ratio` share by start time."""
    ordered = sorted(metrics, key=lambda m: m.record.start)
    head = int(len(ordered) * warmup_ratio)
    tail = int(len(ordered) * cooldown_ratio)
    return ordered[head:len(ordered) - tail]


def aggregate(
    metrics: list[RequestMetrics],
    scenario: str,
    concurrency: int,
    warmup_ratio: float = 0.0,
    cooldown_ratio: float = 0.0,
    partial: bool = False,
    slo: dict[str, float] | None = None,
) -> RunStatistics:
    """Run statistics over the measured window: counts, error rate, throughputs and per-metric stats."""
    measured = measured_slice(metrics, warmup_ratio, cooldown_ratio)
    completed = [m for m in measured if m.record.ok]
    errors = Counter(m.record.error_code for m in measured if not m.record.ok)
    duration = (max(m.record.end for m in measured) - min(m.record.start for m in measured)) if measured else 0.0
    input_tokens = sum(m.record.num_input_tokens for m in completed)
    output_tokens = sum(m.record.num_output_tokens for m in completed)
    inputs = sum(m.record.num_inputs for m in completed)
    stats = {name: describe([v for m in completed if (v := getattr(m, name)) is not None]) for name in REQUEST_METRICS}
    stats["num_input_tokens"] = describe([m.record.num_input_tokens for m in completed])
    stats["num_output_tokens"] = describe([m.record.num_output_tokens for m in completed])
    stats["total_tokens"] = describe([m.record.num_input_tokens + m.record.num_output_tokens for m in completed])
    stats["itl"] = describe(np.concatenate([m.itl_array() for m in completed] or [_NO_GAPS]))
    checked = [m.record for m in completed if m.record.local_output_tokens is not None]
    return RunStatistics(
        scenario=scenario,
        num_concurrency=concurrency,
        num_requests=len(measured),
        num_completed_requests=len(completed),
        num_error_requests=sum(errors.values()),
        num_excluded=len(metrics) - len(measured),
        error_rate=(sum(errors.values()) / len(measured)) if measured else 0.0,
        error_kinds_frequency=dict(errors),
        run_duration=duration,
        requests_per_second=_rate(len(completed), duration),
        mean_input_throughput_tokens_per_s=_rate(input_tokens, duration),
        mean_output_throughput_tokens_per_s=_rate(output_tokens, duration),
        mean_total_tokens_throughput_tokens_per_s=_rate(input_tokens + output_tokens, duration),
        tokens_estimated=any(m.record.tokens_estimated for m in completed),
        stats=stats,
        token_count_checked=len(checked),
        token_count_mismatch=(sum(_miscounted(r) for r in checked) / len(checked)) if checked else None,
        partial=partial,
        stats_by_turn=turn_statistics(measured),
        slo=slo_statistics(measured, duration, slo),
        total_inputs=inputs,
        inputs_per_second=_rate(inputs, duration),
        upload=upload_statistics(measured, duration),
    )


# The status upstream genai-bench records for a failure that has no HTTP error status of its own.
UPSTREAM_ERROR_STATUS = {"connection_error": 503, "timeout": 408}
UPSTREAM_OTHER_ERROR_STATUS = 500


def upstream_error_codes(kinds: dict[str, int]) -> dict[str, int]:
    """Error counts by our error code regrouped by upstream's numeric code ("429" stays "429", "timeout" is "408")."""
    out: Counter[str] = Counter()
    for kind, count in kinds.items():
        code = kind if kind.isdigit() else str(UPSTREAM_ERROR_STATUS.get(kind, UPSTREAM_OTHER_ERROR_STATUS))
        out[code] += count
    return dict(out)


def upload_statistics(measured: list[RequestMetrics], duration: float) -> dict | None:
    """Mean request body bytes, image bytes and images per measured request, and body bytes sent per second.

    Errors count too: their bytes were sent all the same. With images the body is mostly their base64, so this is
    what a server's network and decoder took in.
    """
    if not measured:
        return None
    records = [m.record for m in measured]
    sent = sum(r.request_bytes for r in records)
    return {"mean_request_bytes": sent / len(records),
            "mean_image_bytes": sum(r.image_bytes for r in records) / len(records),
            "mean_num_images": sum(r.num_images for r in records) / len(records),
            "request_bytes_per_second": _rate(sent, duration)}


def _miscounted(record: RequestRecord) -> bool:
    """True when the server's output count and the local one differ by more than the tolerance."""
    reported = max(record.num_output_tokens, 1)
    return abs(record.local_output_tokens - record.num_output_tokens) / reported > TOKEN_COUNT_TOLERANCE


def _rate(amount: float, duration: float) -> float:
    return amount / duration if duration > 0 else 0.0


class MetricsCollector:
    """Collects request records of the current run: O(1) per request, statistics on demand."""

    def __init__(self, live_window: int = 2000, histogram_bins: int = 20, slo: dict[str, float] | None = None) -> None:
        self.live_window = live_window
        self.histogram_bins = histogram_bins
        self.slo = slo or None  # targets in seconds by metric (--slo); None: no SLO
        self.begin_run("", 0, 0.0)

    def begin_run(self, scenario: str, concurrency: int, start: float, request_rate: float | None = None) -> None:
        """Forget the previous run and start counting a new one at perf_counter time `start`."""
        self.scenario = scenario
        self.concurrency = concurrency
        self.request_rate = request_rate  # open loop: arrivals per second (concurrency is then the in-flight cap)
        self.run_start = start
        self.requests: list[RequestMetrics] = []
        # The latest values of each live metric, kept per metric so a tick reads them without touching requests.
        self.recent: dict[str, deque[float]] = {name: deque(maxlen=self.live_window) for name in LIVE_METRICS}
        self.completed = 0
        self.errors = 0
        self.output_tokens = 0
        self.input_tokens = 0
        self.inputs = 0
        self.error_codes: Counter[str] = Counter()
        # Multi-turn runs: (turn, ttft, e2e) of the latest successes, and successes per turn over the whole run.
        self.recent_turns: deque[tuple[int, float, float]] = deque(maxlen=self.live_window)
        self.turn_counts: Counter[int] = Counter()
        self.live_slo = LiveSlo(self.slo, self.live_window) if self.slo else None

    def record(self, record: RequestRecord) -> RequestMetrics:
        """Take one finished request; cheap enough for the hot path."""
        metrics = request_metrics(record)
        self.requests.append(metrics)
        if record.ok:
            for name, values in self.recent.items():
                value = getattr(metrics, name)
                if value is not None:
                    values.append(value)
            self.completed += 1
            self.output_tokens += record.num_output_tokens
            self.input_tokens += record.num_input_tokens
            self.inputs += record.num_inputs
            if record.turn is not None and metrics.ttft is not None:
                self.recent_turns.append((record.turn, metrics.ttft, metrics.e2e_latency))
                self.turn_counts[record.turn] += 1
        else:
            self.errors += 1
            self.error_codes[record.error_code] += 1
        if self.live_slo is not None:
            self.live_slo.add(metrics)
        return metrics

    @property
    def total(self) -> int:
        """Requests recorded in this run, errors included."""
        return self.completed + self.errors

    def live_snapshot(self, now: float) -> dict:
        """Live statistics over the recent window plus run-so-far counters (called on a timer, not per request)."""
        elapsed = max(now - self.run_start, 0.0)
        return {
            "scenario": self.scenario,
            "concurrency": self.concurrency,
            "request_rate": self.request_rate,
            "elapsed": elapsed,
            "completed": self.completed,
            "errors": self.errors,
            "error_rate": self.errors / self.total if self.total else 0.0,
            "error_codes": dict(self.error_codes),
            "requests_per_second": _rate(self.completed, elapsed),
            "output_tokens_per_second": _rate(self.output_tokens, elapsed),
            "input_tokens_per_second": _rate(self.input_tokens, elapsed),
            "inputs_per_second": _rate(self.inputs, elapsed),
            "window": len(self.recent["e2e_latency"]),
            "stats": {name: live_describe(values) for name, values in self.recent.items()},
            "by_turn": self._live_by_turn(),
            "slo": self.live_slo.snapshot(elapsed) if self.live_slo is not None else None,
        }

    def _live_by_turn(self) -> dict[str, dict] | None:
        """Successes per turn so far, and each turn's p50 TTFT and E2E over the live window (None: single-turn)."""
        if not self.turn_counts:
            return None
        window: dict[int, list[tuple[float, float]]] = {}
        for turn, ttft, e2e in self.recent_turns:
            window.setdefault(turn, []).append((ttft, e2e))
        out = {}
        for turn in sorted(self.turn_counts):
            ttft_p50, e2e_p50 = np.median(window[turn], axis=0).tolist() if turn in window else (None, None)
            out[str(turn)] = {"count": self.turn_counts[turn], "ttft_p50": ttft_p50, "e2e_latency_p50": e2e_p50}
        return out

    def histograms(self, metric_names: tuple[str, ...] = ("ttft", "e2e_latency")) -> dict[str, dict]:
        """Histogram (bin edges and counts) of each metric over the recent window."""
        out = {}
        for name in metric_names:
            values = self.recent[name]
            if values:
                out[name] = histogram(np.fromiter(values, dtype=float, count=len(values)), self.histogram_bins)
        return out

    def finish_run(self, warmup_ratio: float, cooldown_ratio: float, partial: bool = False) -> RunStatistics:
        """Aggregate statistics of the run that just ended."""
        return aggregate(self.requests, self.scenario, self.concurrency, warmup_ratio, cooldown_ratio, partial,
                         slo=self.slo)
