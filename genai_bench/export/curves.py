"""The results view's curves (static/js/results-curves.js) as data: one series per experiment × scenario.

Shared by `genai-bench plot` (drawn with matplotlib) and its tests; each point is a load point's mean over its
repeats, with the 95% interval's ends when there were repeats, like the view draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from genai_bench.intervals import point_intervals
from genai_bench.metrics import TIME_UNIT_SCALE
from genai_bench.results import Experiment

PERCENTILES = ("mean", "p25", "p50", "p75", "p90", "p95", "p99")


@dataclass
class Point:
    """One load point of a series: its load, the mean of its runs' metrics, and the interval's ends (or None)."""

    load: float
    n: int
    mean: dict
    low: dict | None
    high: dict | None


@dataclass
class Series:
    """One experiment × scenario: its points sorted by load."""

    label: str
    experiment: str
    scenario: str
    streamed: bool
    batched: bool
    points: list[Point] = field(default_factory=list)


@dataclass(frozen=True)
class Curve:
    """One chart: what it plots against what, and which series it applies to."""

    name: str  # the file name's stem
    title: str
    x_label: str
    y_label: str
    x: Callable[[dict], float | None]  # from a point's aggregated mean (or interval end)
    y: Callable[[dict], float | None]
    applies: Callable[[Series], bool]


def experiment_batched(experiment: Experiment) -> bool:
    """Whether the experiment's sweep is over batch sizes (embeddings, rerank)."""
    if experiment.metadata.get("iteration_type") == "batch_size":
        return True
    return any(run.batch_size is not None for run in experiment.runs)


def experiment_streamed(experiment: Experiment) -> bool:
    """Whether its task streams tokens, so TTFT and TPOT mean something."""
    task_metrics = experiment.metadata.get("task_metrics")
    if isinstance(task_metrics, list) and task_metrics:
        return "ttft" in task_metrics
    return not experiment_batched(experiment)


def load_of(aggregated: dict) -> float | None:
    """A run's load: its batch size, else its arrival rate (open loop), else its concurrency."""
    for key in ("batch_size", "request_rate", "num_concurrency"):
        if aggregated.get(key) is not None:
            return aggregated[key]
    return None


def scenario_points(experiment: Experiment, scenario: str) -> list[Point]:
    """A scenario's points: its runs, or with repeats one per load point (the mean of its runs and its interval)."""
    groups = [g for g in point_intervals(experiment.runs) if g["scenario"] == scenario]
    if any(g["n"] > 1 for g in groups):
        points = []
        for g in groups:
            mean = {**g["mean"], "num_concurrency": g["concurrency"], "request_rate": g["request_rate"],
                    "batch_size": g["batch_size"]}
            points.append(Point(load_of(mean), g["n"], mean, g["low"], g["high"]))
    else:
        points = [Point(load_of(run.aggregated), 1, run.aggregated, None, None)
                  for run in experiment.runs if run.scenario == scenario]
    return sorted((p for p in points if p.load is not None), key=lambda p: p.load)


def build_series(experiments: list[Experiment]) -> list[Series]:
    """One series per experiment × scenario (labelled "experiment / scenario" when several experiments are shown)."""
    out = []
    for experiment in experiments:
        for scenario in dict.fromkeys(run.scenario for run in experiment.runs):
            label = scenario if len(experiments) == 1 else f"{experiment.folder.name} / {scenario}"
            out.append(Series(label, experiment.id, scenario, experiment_streamed(experiment),
                              experiment_batched(experiment), scenario_points(experiment, scenario)))
    return out


def load_axis_title(series: list[Series]) -> str:
    """The load axis' title: batch size, request rate or concurrency, as the view names it."""
    points = [p for s in series for p in s.points]
    if series and all(s.batched for s in series):
        return "batch size"
    if points and all(p.mean.get("request_rate") is not None for p in points):
        return "request rate (req/s)"
    return "concurrency / batch size" if any(s.batched for s in series) else "concurrency"


def _stat(metric: str, stat: str, scale: float) -> Callable[[dict], float | None]:
    def get(aggregated: dict) -> float | None:
        value = ((aggregated.get("stats") or {}).get(metric) or {}).get(stat)
        return None if value is None else value * scale
    return get


def _field(name: str, scale: float = 1.0) -> Callable[[dict], float | None]:
    def get(aggregated: dict) -> float | None:
        value = aggregated.get(name)
        return None if value is None else value * scale
    return get


def curves(percentile: str, time_unit: str, load_title: str) -> list[Curve]:
    """The view's charts for one percentile, latencies in `time_unit`."""
    scale = TIME_UNIT_SCALE[time_unit]
    p, unit = percentile, time_unit
    otps, rps = _field("mean_output_throughput_tokens_per_s"), _field("requests_per_second")
    streamed, everyone = (lambda s: s.streamed), (lambda s: True)
    return [
        Curve("ttft_vs_output_throughput", f"TTFT {p} vs output tokens/s", "output tokens/s", f"TTFT {p} ({unit})",
              otps, _stat("ttft", p, scale), streamed),
        Curve("tpot_vs_output_throughput", f"TPOT {p} vs output tokens/s", "output tokens/s", f"TPOT {p} ({unit})",
              otps, _stat("tpot", p, scale), streamed),
        Curve("e2e_latency_vs_requests_per_s", f"E2E latency {p} vs requests/s", "requests/s",
              f"E2E {p} ({unit})", rps, _stat("e2e_latency", p, scale), everyone),
        Curve("e2e_latency_vs_inputs_per_s", f"E2E latency {p} vs inputs/s", "inputs/s", f"E2E {p} ({unit})",
              _field("inputs_per_second"), _stat("e2e_latency", p, scale), lambda s: s.batched),
        Curve("error_rate_vs_load", f"Error rate vs {load_title}", load_title, "error rate (%)", load_of,
              _field("error_rate", 100.0), everyone),
        Curve("output_throughput_vs_load", f"Output tokens/s vs {load_title}", load_title, "output tokens/s",
              load_of, otps, streamed),
        Curve("goodput_vs_load", f"Goodput vs {load_title}", load_title, "requests/s", load_of,
              lambda a: (a.get("slo") or {}).get("goodput_requests_per_second"), everyone),
    ]
