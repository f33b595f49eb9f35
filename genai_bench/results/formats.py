"""Run-file and metadata formats: ours is upstream genai-bench 0.0.5's plus our own fields (docs/formats.md).

Writing: the few places where upstream's reader needs a value ours leaves empty (batch_size, empty stats).
Reading: run files of our earlier format and of upstream come back under today's names, so every view reads one
spelling.
"""

from __future__ import annotations

from genai_bench.metrics import AGGREGATED_METRICS, upstream_error_codes

# Our earlier run-file keys -> today's (upstream's) names for the same quantity.
OLD_AGGREGATED_KEYS = {
    "concurrency": "num_concurrency",
    "num_completed": "num_completed_requests",
    "num_errors": "num_error_requests",
    "input_tokens_per_second": "mean_input_throughput_tokens_per_s",
    "output_tokens_per_second": "mean_output_throughput_tokens_per_s",
    "total_tokens_per_second": "mean_total_tokens_throughput_tokens_per_s",
}
OLD_STATS_KEYS = {"reasoning_tokens": "num_reasoning_tokens"}
# Our earlier metadata keys -> today's; max_time_per_run was in minutes, max_time_per_run_s is in seconds.
OLD_METADATA_KEYS = {"version": "benchmark_version", "model_tokenizer": "server_model_tokenizer"}


def run_file_aggregated(aggregated: dict) -> dict:
    """RunStatistics.to_dict() as written to a run file: what upstream's reader requires filled in.

    Upstream's batch_size is an int (1 for runs that do not batch) and its stats entries are objects, never null.
    """
    out = dict(aggregated)
    if out.get("batch_size") is None:
        out["batch_size"] = 1
    out["stats"] = {metric: described for metric, described in (out.get("stats") or {}).items()
                    if described is not None}
    return out


def normalize_aggregated(raw: dict) -> dict:
    """A run file's aggregated_metrics (ours today, ours before, or upstream's) under today's names."""
    out = dict(raw)
    for old, new in OLD_AGGREGATED_KEYS.items():
        if old in out:
            value = out.pop(old)
            out.setdefault(new, value)
    out.pop("total_input_tokens", None)  # now stats.num_input_tokens.sum
    out.pop("total_output_tokens", None)
    if out.get("iteration_type", "num_concurrency") != "batch_size":
        out["batch_size"] = None  # upstream writes 1 for runs that do not batch; ours reads None as "no batches"
    if "error_kinds_frequency" not in out:
        # Before, and in upstream, error_codes_frequency was the only breakdown: keep it as the kinds too.
        kinds = {str(code): count for code, count in (out.get("error_codes_frequency") or {}).items()}
        out["error_kinds_frequency"] = kinds
        out["error_codes_frequency"] = upstream_error_codes(kinds)
    if out.get("num_requests") is None and "num_completed_requests" in out:
        out["num_requests"] = out["num_completed_requests"] + (out.get("num_error_requests") or 0)
    out["stats"] = normalize_stats(out.get("stats") or {})
    return out


def normalize_stats(stats: dict) -> dict:
    """Stats under today's metric names; upstream's all-null entries (a metric with no data) become None."""
    out = {}
    for metric, described in stats.items():
        name = OLD_STATS_KEYS.get(metric, metric)
        if isinstance(described, dict) and all(value is None for value in described.values()):
            described = None
        if name not in out or out[name] is None:
            out[name] = described
    for metric in AGGREGATED_METRICS:
        out.setdefault(metric, None)  # written files leave out metrics without data
    return out


def normalize_metadata(raw: dict) -> dict:
    """experiment_metadata.json (ours today, ours before, or upstream's) under today's names."""
    out = dict(raw)
    for old, new in OLD_METADATA_KEYS.items():
        if old in out:
            value = out.pop(old)
            out.setdefault(new, value)
    minutes = out.pop("max_time_per_run", None)
    if minutes is not None and "max_time_per_run_s" not in out:
        out["max_time_per_run_s"] = seconds_value(minutes * 60.0)
    return out


def seconds_value(seconds: float) -> float | int:
    """Seconds as an int when whole (upstream's max_time_per_run_s is an int), else as they are."""
    return int(seconds) if float(seconds).is_integer() else seconds
