"""The live contract: what each event type carries, built in exactly one function per type (docs/events.md).

The sweep describes itself with the small typed objects below (a planned run, its progress, the sweep's status);
the builders turn them into the `data` of each event. Every view (the bus and so SSE, WebSocket, events.ndjson,
/api/state; the terminal; the §7.1 dashboard adapter) reads what these functions build, so a field is named and
computed once, and the page applies what an event carries instead of rebuilding it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from genai_bench.metrics import RunStatistics
from genai_bench.scenarios import Scenario
from genai_bench.servermetrics.runs import ServerSample


def run_key(scenario_name: str, task: str, concurrency: int, max_time_seconds: float,
            request_rate: float | None = None, repeat: int = 1, batch_size: int | None = None) -> str:
    """A run's one spelling everywhere (events, run file stem, results API): upstream's run file name without .json.

    e.g. D100_100_text-to-text_num_concurrency_8_time_60s; open-loop runs add their rate after the concurrency, and
    the second and later repeats of a point (--repeats) end in _repeat_<i>, so the first keeps upstream's name.
    Batch-size sweeps name their iteration like upstream (E1024_text-to-embeddings_batch_size_8_time_60s), with
    the concurrency after it only when it is not upstream's 1.
    """
    rate = "" if request_rate is None else f"_request_rate_{request_rate:g}"
    again = f"_repeat_{repeat}" if repeat > 1 else ""
    if batch_size is None:
        iteration = f"num_concurrency_{concurrency}"
    else:
        iteration = f"batch_size_{batch_size}" + (f"_num_concurrency_{concurrency}" if concurrency != 1 else "")
    return f"{scenario_name}_{task}_{iteration}{rate}_time_{int(round(max_time_seconds))}s{again}"


@dataclass(frozen=True)
class PlannedRun:
    """One scenario × load run of the sweep, known before it starts."""

    scenario_text: str  # e.g. "D(100,100)"
    concurrency: int  # users; in open loop the most requests in flight
    request_rate: float | None  # open loop: arrivals per second; None in closed loop
    index: int  # 1-based position in the sweep
    total: int  # runs in the sweep
    key: str
    max_time: float  # seconds
    max_requests: int | None
    scenario: Scenario | None = None  # the parsed scenario the users draw from (None for a run a §7.1 caller announces)
    repeat: int = 1  # which repeat of its scenario × load point (--repeats), from 1
    batch_size: int | None = None  # batched tasks: inputs per request, the sweep's axis

    @property
    def label(self) -> str:
        """Human label, e.g. "D(100,100) @ concurrency 8", "E(256) @ batch size 8" or "D(100,100) @ 5 req/s (≤256 in
        flight)"."""
        again = f" (repeat {self.repeat})" if self.repeat > 1 else ""
        if self.batch_size is not None:
            users = f", concurrency {self.concurrency}" if self.concurrency != 1 else ""
            return f"{self.scenario_text} @ batch size {self.batch_size}{users}{again}"
        if self.request_rate is None:
            return f"{self.scenario_text} @ concurrency {self.concurrency}{again}"
        return f"{self.scenario_text} @ {self.request_rate:g} req/s (≤{self.concurrency} in flight){again}"


@dataclass(frozen=True)
class RunProgress:
    """Where the current run stands at one live tick."""

    run: PlannedRun
    requests_done: int
    errors: int
    in_flight: int
    elapsed: float  # seconds since the run started

    @property
    def percentage(self) -> float:
        """Share of the run done (percent)."""
        return run_percentage(self.requests_done, self.run.max_requests, self.elapsed, self.run.max_time)


def run_percentage(requests_done: int, max_requests: int | None, elapsed: float, max_time: float | None) -> float:
    """Share of a run done (percent), by whichever limit (requests or time) is nearer."""
    by_requests = requests_done / max_requests if max_requests else 0.0
    by_time = elapsed / max_time if max_time else 0.0
    return min(100.0, 100.0 * max(by_requests, by_time))


@dataclass(frozen=True)
class SweepStatus:
    """The whole sweep's state: what it is doing and how far it got."""

    status: str  # idle, running, completed, failed, stopped
    runs_done: int
    total_runs: int
    total_scenarios: int
    start_time: float
    max_time: float  # seconds per run, for the estimated end
    current: PlannedRun | None = None
    error_message: str | None = None

    @property
    def progress_percentage(self) -> float:
        """Share of runs finished."""
        return 100.0 * self.runs_done / self.total_runs if self.total_runs else 100.0


@dataclass(frozen=True)
class SearchStep:
    """One finished step of a capacity search: the run, the load it tried and whether it met the SLOs."""

    run_key: str
    load: float  # requests per second (max-rate) or users (max-concurrency)
    attainment: float | None  # share of requests meeting every SLO; None when the run had none to judge
    passed: bool  # attainment reached the target and the run was not oversaturated
    oversaturated: bool = False


@dataclass(frozen=True)
class SearchProgress:
    """Where a capacity search stands: its goal, its steps so far and the bounds they give."""

    kind: str  # max-rate or max-concurrency
    slos: dict  # the SLO targets, as given
    attainment_target: float  # share of requests that must meet the SLOs, e.g. 0.9
    tolerance: float  # relative width at which the bisection stops
    max_steps: int
    steps: tuple[SearchStep, ...]
    low: float | None  # the highest load that passed
    high: float | None  # the lowest load that failed
    done: bool = False
    stop_reason: str | None = None  # converged, max_steps, ceiling, none_passed, stopped

    @property
    def unit(self) -> str:
        """The load's unit for people: req/s or concurrency."""
        return "req/s" if self.kind == "max-rate" else "concurrency"

    @property
    def result(self) -> float | None:
        """The capacity found: the highest load that passed, once the search is done."""
        return self.low if self.done else None


@dataclass(frozen=True)
class AlertChange:
    """An --alert rule started or stopped holding (alerts.AlertMonitor); values in the metric's own unit."""

    state: str  # firing or resolved
    rule: str  # the rule as given, e.g. "ttft.p99>500ms for 10s"
    metric: str  # its metric path, e.g. ttft.p99
    op: str  # >, >=, < or <=
    threshold: float  # seconds, a 0-1 share, percent or a count, like the metric
    value: float  # the value that fired or resolved it
    unit: str  # the rule's unit for people: ms, s, % or ""
    shown_value: str  # e.g. "812 ms"
    shown_threshold: str  # e.g. "500 ms"
    for_seconds: float  # how long the condition must hold before it fires
    since: float  # unix s; firing: when the condition began to hold; resolved: when it fired
    t: float  # unix s of this change
    run_key: str | None  # the run under way (None between runs)
    run_label: str | None
    action: str  # notify, or stop: a firing rule ends the benchmark
    reason: str | None = None  # why it resolved when not by its value, e.g. "benchmark ended"


REPLAYING = "replaying"  # the status a replay starts with: views start over
IDLE_STATUS = {
    "status": "idle", "current_scenario": None, "traffic_scenario": None, "current_concurrency": None,
    "current_request_rate": None, "current_batch_size": None, "current_iteration": 0, "total_iterations": 0, "total_scenarios": 0,
    "progress_percentage": 0.0, "start_time": None, "estimated_end_time": None, "error_message": None,
}


def status(sweep: SweepStatus, context: dict) -> dict:
    """`status`: the complete status (views replace theirs with it), with the session's labels in `context`."""
    running = sweep.status == "running"
    run = sweep.current if running else None
    now = time.time()
    return {
        **IDLE_STATUS,
        "status": sweep.status,
        "current_scenario": run.scenario_text if run else None,
        "traffic_scenario": run.scenario_text if run else None,
        "current_concurrency": run.concurrency if run else None,
        "current_request_rate": run.request_rate if run else None,
        "current_batch_size": run.batch_size if run else None,
        "current_iteration": min(sweep.runs_done + 1, sweep.total_runs) if running else sweep.runs_done,
        "total_iterations": sweep.total_runs,
        "total_scenarios": sweep.total_scenarios,
        "progress_percentage": sweep.progress_percentage,
        "start_time": sweep.start_time,
        "estimated_end_time": now + (sweep.total_runs - sweep.runs_done) * sweep.max_time if running else now,
        "error_message": sweep.error_message,
        **context,
    }


def replay_status(summary: dict, speed: float) -> dict:
    """`status` of a replay's start (views start over): the replayed experiment and the speed."""
    return {**IDLE_STATUS, "status": REPLAYING, "experiment_folder": summary["folder"], "model": summary["model"],
            **replay_marks(summary, speed)}


def replay_marks(summary: dict, speed: float) -> dict:
    """What every `status` of a replay carries besides the replayed one's fields."""
    return {"experiment": summary["id"], "replay_speed": speed}


def run_started(run: PlannedRun, start_time: float) -> dict:
    """`run_started`: a run begins."""
    return {
        "run_key": run.key, "label": run.label, "scenario": run.scenario_text, "concurrency": run.concurrency,
        "request_rate": run.request_rate, "batch_size": run.batch_size, "run_index": run.index,
        "total_runs": run.total, "max_time": run.max_time, "max_requests": run.max_requests, "start_time": start_time,
    }


def progress(tick: RunProgress) -> dict:
    """`progress`: the current run's counters and both progress shares (run and whole sweep)."""
    run = tick.run
    runs_done = run.index - 1
    return {
        "run_key": run.key, "run_name": run.label, "run_index": run.index,
        "requests_done": tick.requests_done, "errors": tick.errors, "in_flight": tick.in_flight,
        "max_requests": run.max_requests, "elapsed": tick.elapsed, "max_time": run.max_time,
        "run_progress_percentage": tick.percentage, "runs_done": runs_done, "total_runs": run.total,
        "total_progress_percentage": 100.0 * (runs_done + tick.percentage / 100.0) / run.total if run.total else 0.0,
    }


def timeseries_point(live_metrics: dict, run_key: str | None, timestamp: float) -> dict:
    """One point of the live charts (kept by the state for /api/state, plotted by the page as it comes)."""
    stats = live_metrics.get("stats") or {}

    def stat(metric: str, name: str) -> float | None:
        return (stats.get(metric) or {}).get(name)

    return {
        "t": timestamp, "elapsed": live_metrics.get("elapsed"), "run_key": run_key,
        "scenario": live_metrics.get("scenario"), "concurrency": live_metrics.get("concurrency"),
        "request_rate": live_metrics.get("request_rate"),
        "ttft_p50": stat("ttft", "p50"), "ttft_p99": stat("ttft", "p99"), "tpot_p50": stat("tpot", "p50"),
        "e2e_latency_p50": stat("e2e_latency", "p50"), "e2e_latency_p99": stat("e2e_latency", "p99"),
        "ttft_answer_p50": stat("ttft_answer", "p50"),
        "requests_per_second": live_metrics.get("requests_per_second"),
        "output_tokens_per_second": live_metrics.get("output_tokens_per_second"),
        "errors": live_metrics.get("errors"), "error_rate": live_metrics.get("error_rate"),
        "slo_attainment": (live_metrics.get("slo") or {}).get("attainment"),
    }


def metrics(live_metrics: dict, run_key: str | None, timestamp: float) -> dict:
    """`metrics`: the live statistics snapshot and its ready-made chart point (published with `timestamp`)."""
    return {"run_key": run_key, "live_metrics": live_metrics,
            "point": timeseries_point(live_metrics, run_key, timestamp)}


def histogram(live_metrics: dict, histograms: dict, run_key: str | None) -> dict:
    """`histogram`: latency histograms of the current run's recent window."""
    return {"run_key": run_key, "scenario": live_metrics.get("scenario"),
            "concurrency": live_metrics.get("concurrency"), "request_rate": live_metrics.get("request_rate"),
            "histograms": histograms}


def scatter_point(run_completed_data: dict) -> dict:
    """A finished run as one point of the throughput-vs-latency scatter."""
    stats = run_completed_data.get("stats") or {}
    ttft = stats.get("ttft") or {}
    e2e = stats.get("e2e_latency") or {}
    return {
        "run_key": run_completed_data.get("run_key"), "scenario": run_completed_data["scenario"],
        "concurrency": run_completed_data["num_concurrency"], "request_rate": run_completed_data.get("request_rate"),
        "output_tokens_per_second": run_completed_data["mean_output_throughput_tokens_per_s"],
        "requests_per_second": run_completed_data["requests_per_second"],
        "ttft_p50": ttft.get("p50"), "ttft_p99": ttft.get("p99"), "e2e_latency_p50": e2e.get("p50"),
        "error_rate": run_completed_data["error_rate"],
    }


def completed_runs(results: list) -> list[dict]:
    """`run_completed` data of finished runs (runner.RunResult objects: each has `run` and `statistics`)."""
    return [run_completed(result.run, result.statistics) for result in results]


def scatter(finished_runs: list[dict]) -> dict:
    """`scatter`: one point per finished run (each `run_completed` data)."""
    return {"points": [scatter_point(run) for run in finished_runs]}


def run_completed(run: PlannedRun | None, statistics: RunStatistics | dict) -> dict:
    """`run_completed`: the run's aggregated metrics (seconds), with its key and place in the sweep."""
    aggregated = statistics.to_dict() if isinstance(statistics, RunStatistics) else dict(statistics)
    if run is None:
        return aggregated
    return {**aggregated, "run_key": run.key, "run_index": run.index, "total_runs": run.total}


def search(progress: SearchProgress) -> dict:
    """`search`: a capacity search's goal, steps and bounds, and `summary`, its state in one line for people (also
    the metadata's `search`)."""
    data = {
        "kind": progress.kind, "unit": progress.unit, "slos": progress.slos,
        "attainment_target": progress.attainment_target, "tolerance": progress.tolerance,
        "max_steps": progress.max_steps,
        "steps": [{"run_key": step.run_key, "load": step.load, "attainment": step.attainment, "passed": step.passed,
                   "oversaturated": step.oversaturated} for step in progress.steps],
        "low": progress.low, "high": progress.high, "done": progress.done, "result": progress.result,
        "stop_reason": progress.stop_reason,
    }
    return {**data, "summary": search_summary(data)}


def search_summary(data: dict) -> str:
    """A search's state in one line, e.g. "Capacity: 12.5 req/s at ≥90% SLO attainment (bounds 12.5–13.4)"."""
    target = f"≥{data['attainment_target']:.0%} SLO attainment"
    low, high = data["low"], data["high"]

    def load(value: float | None) -> str:
        if value is None:
            return "none yet"
        return f"{value:g} req/s" if data["kind"] == "max-rate" else f"concurrency {value:g}"

    if not data["done"]:
        return f"Searching for the highest load at {target}: passed {load(low)}, failed {load(high)}"
    if low is None:
        return f"Capacity: no load tried met {target} (lowest tried: {load(high)})" if high else "Capacity: no step ran"
    if high is None:
        return f"Capacity: at least {load(low)} at {target} (no load tried failed)"
    return f"Capacity: {load(low)} at {target} (bounds {low:g}–{high:g})"


def server_metrics(sample: ServerSample, run_key: str | None) -> dict:
    """`server_metrics`: one scrape of the servers' /metrics in the normalized vocabulary, combined and per source."""
    return {
        "t": sample.t, "run_key": run_key,
        "sources": [{"url": s["url"], "engine": s["engine"], "values": s["values"], "raw": s["raw"]}
                    for s in sample.sources],
        "values": sample.values, "raw": sample.raw,
    }


def alert(change: AlertChange) -> dict:
    """`alert`: a rule fired or resolved, with `text`, the change in one line for people (and for webhooks)."""
    return {"state": change.state, "rule": change.rule, "metric": change.metric, "op": change.op,
            "threshold": change.threshold, "value": change.value, "unit": change.unit,
            "shown_value": change.shown_value, "shown_threshold": change.shown_threshold,
            "for_seconds": change.for_seconds, "since": change.since, "t": change.t, "run_key": change.run_key,
            "run_label": change.run_label, "action": change.action, "reason": change.reason,
            "text": alert_text(change)}


def alert_text(change: AlertChange) -> str:
    """e.g. "Alert firing: ttft.p99>500ms (ttft.p99 = 812 ms, D(100,100) @ concurrency 8)"."""
    where = f", {change.run_label}" if change.run_label else ""
    if change.state == "firing":
        held = f" for {change.t - change.since:.0f} s" if change.for_seconds else ""
        stop = "; stopping the benchmark (--alert-action stop)" if change.action == "stop" else ""
        return f"Alert firing: {change.rule} ({change.metric} = {change.shown_value}{held}{where}){stop}"
    reason = f"{change.reason}; " if change.reason else ""
    return (f"Alert resolved: {change.rule} ({reason}{change.metric} = {change.shown_value} after "
            f"{change.t - change.since:.0f} s firing{where})")


def log(message: str, level: str = "info") -> dict:
    """`log`: a line for the log panel."""
    return {"message": str(message), "level": level}


def benchmark_completed(final_status: str, runs: int, experiment_folder: str | None,
                        experiment: dict | None = None) -> dict:
    """`benchmark_completed`: the sweep ended; `experiment` is its results-API summary when it was written."""
    return {"status": final_status, "runs": runs, "experiment_folder": experiment_folder, "experiment": experiment}
