"""Repeated runs of one point (--repeats): the mean and a 95% confidence interval of every metric, Student t.

Computed once here, from the run files as read back, and served in the results API's experiment document
(`intervals`), which the results page and the HTML report both draw.
"""

from __future__ import annotations

import math

import numpy as np

# Two-sided 95% Student t critical values for 1..30 degrees of freedom.
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
Z_975 = 1.959964
# The run-level figures given an interval (each run's statistics get one per metric and statistic too).
RUN_FIELDS = ("requests_per_second", "mean_input_throughput_tokens_per_s", "mean_output_throughput_tokens_per_s",
              "mean_total_tokens_throughput_tokens_per_s", "error_rate", "token_count_mismatch", "run_duration")


def t_critical(degrees_of_freedom: int) -> float:
    """The 97.5% quantile of Student's t (the table, then the Cornish-Fisher expansion past 30, off by < 0.001)."""
    if degrees_of_freedom <= len(T_975):
        return T_975[degrees_of_freedom - 1]
    z, df = Z_975, degrees_of_freedom
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


def confidence_interval(values: list[float]) -> tuple[float, float | None, float | None]:
    """Mean and the 95% interval's low and high ends (None for a single value: one run has no interval)."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, None, None
    half = t_critical(len(values) - 1) * float(np.std(values, ddof=1)) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def _numbers(values: list) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]


def point_interval(aggregated: list[dict]) -> dict:
    """`mean`, `low` and `high` of one point's runs, each shaped like a run's aggregated metrics (fields + stats);
    `low` and `high` are None for a single run."""
    ends: dict[str, dict] = {"mean": {"stats": {}}, "low": {"stats": {}}, "high": {"stats": {}}}

    def put(values: list, place: str, metric: str | None = None) -> None:
        numbers = _numbers(values)
        if not numbers:
            return
        for end, value in zip(("mean", "low", "high"), confidence_interval(numbers)):
            target = ends[end] if metric is None else ends[end]["stats"].setdefault(metric, {})
            target[place] = value

    for field in RUN_FIELDS:
        put([run.get(field) for run in aggregated], field)
    metrics = sorted({metric for run in aggregated for metric, stats in (run.get("stats") or {}).items() if stats})
    for metric in metrics:
        described = [(run.get("stats") or {}).get(metric) or {} for run in aggregated]
        for stat in sorted({name for d in described for name in d}):
            put([d.get(stat) for d in described], stat, metric)
    if len(aggregated) < 2:
        return {**ends, "low": None, "high": None}
    return ends


def point_intervals(runs: list) -> list[dict]:
    """One entry per scenario × load point of the results' runs (each with `key` and `aggregated`): its runs' keys,
    their count `n`, and the mean, low and high ends of every metric."""
    points: dict[tuple, list] = {}
    for run in runs:
        agg = run.aggregated
        # A load point is its concurrency, arrival rate and (embeddings, rerank) batch size: repeats share all three.
        point = (agg.get("scenario"), agg.get("num_concurrency"), agg.get("request_rate"), agg.get("batch_size"))
        points.setdefault(point, []).append(run)
    return [{"scenario": scenario, "concurrency": concurrency, "request_rate": rate, "batch_size": batch_size,
             "n": len(group), "run_keys": [run.key for run in group],
             **point_interval([run.aggregated for run in group])}
            for (scenario, concurrency, rate, batch_size), group in points.items()]
