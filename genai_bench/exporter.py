"""/metrics for Prometheus (or any scraper of its text format): the live benchmark's requests, latencies and tokens.

Fed by the sweep's hooks: request_finished only appends the record to a list (O(1) on the hot path); the records
are folded into counters and numpy bucket counts on the live timer, at run boundaries and when scraped. Every app
gets its own CollectorRegistry (nothing global, so several benchmarks can share a process).
Series are labelled by experiment, scenario, concurrency and request_rate (empty in closed loop).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from genai_bench.metrics import request_metrics
from genai_bench.slo import met_metrics

LABELS = ("experiment", "scenario", "concurrency", "request_rate")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5,
                   10.0, 15.0, 20.0, 30.0, 60.0, 120.0)
TOKEN_GAP_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15,
                     0.2, 0.3, 0.5, 1.0, 2.5, 5.0)
HISTOGRAMS = {"ttft": ("Time to first token", LATENCY_BUCKETS),
              "tpot": ("Time per output token after the first", TOKEN_GAP_BUCKETS),
              "e2e_latency": ("End-to-end request latency", LATENCY_BUCKETS),
              "itl": ("Inter-token latency (each gap between content chunks, per token)", TOKEN_GAP_BUCKETS)}
PREFIX = "genai_bench_"


class Buckets:
    """A histogram's bucket counts, filled a batch at a time with numpy (no per-value Python work)."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = np.asarray(bounds)
        self.counts = np.zeros(len(bounds) + 1, dtype=np.int64)
        self.sum = 0.0

    def add(self, values: np.ndarray) -> None:
        """Count a batch of values (seconds); a value equal to a bound falls in that bound's bucket, as `le` says."""
        if values.size:
            self.counts += np.bincount(np.searchsorted(self.bounds, values, side="left"), minlength=self.counts.size)
            self.sum += float(values.sum())

    def exposition(self) -> list[tuple[str, float]]:
        """Cumulative (le, count) pairs ending with +Inf."""
        cumulative = np.cumsum(self.counts)
        return [(repr(float(b)), float(c)) for b, c in zip(self.bounds, cumulative)] + [("+Inf", float(cumulative[-1]))]


@dataclass
class Series:
    """Everything counted for one label set (one scenario × load of one experiment)."""

    requests: Counter = field(default_factory=Counter)  # by status: ok, or the error code
    input_tokens: int = 0
    output_tokens: int = 0
    good_requests: int = 0
    good_output_tokens: int = 0
    histograms: dict = field(default_factory=lambda: {name: Buckets(bounds) for name, (_, bounds) in HISTOGRAMS.items()})


class LiveMetricsExporter:
    """A prometheus_client collector over one benchmark's hooks, with its own registry."""

    def __init__(self, experiment: str, slo: dict[str, float] | None = None) -> None:
        self.experiment = experiment
        self.slo = slo or None
        self.series: dict[tuple[str, ...], Series] = {}
        self.labels: tuple[str, ...] | None = None  # the run under way
        self.pending: list = []
        self.in_flight = 0
        self.output_tokens_per_second = 0.0
        self.runs_finished = 0
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def attach(self, hooks) -> None:
        """Listen to a sweep's hooks."""
        hooks.run_started.add_listener(self.on_run_started)
        hooks.request_finished.add_listener(self.on_request_finished)
        hooks.live_tick.add_listener(self.on_live_tick)
        hooks.run_finished.add_listener(self.on_run_finished)

    def on_run_started(self, run, **_) -> None:
        """Label what follows with the new run."""
        self.drain()
        rate = "" if run.request_rate is None else f"{run.request_rate:g}"
        self.labels = (self.experiment, run.scenario_text, str(run.concurrency), rate)
        self.series.setdefault(self.labels, Series())
        self.in_flight = 0
        self.output_tokens_per_second = 0.0

    def on_request_finished(self, record, **_) -> None:
        """The hot path: keep the record for the next fold."""
        self.pending.append(record)

    def on_live_tick(self, progress, live_metrics: dict, **_) -> None:
        """Fold the records so far; take in-flight and tokens/s from the live snapshot."""
        self.drain()
        self.in_flight = progress.in_flight
        self.output_tokens_per_second = float(live_metrics.get("output_tokens_per_second") or 0.0)

    def on_run_finished(self, **_) -> None:
        """Fold the run's last records (the aborted ones included)."""
        self.drain()
        self.in_flight = 0
        self.runs_finished += 1

    def drain(self) -> None:
        """Fold the pending records into the current run's series."""
        records, self.pending = self.pending, []
        if not records or self.labels is None:
            return
        series = self.series[self.labels]
        values: dict[str, list] = {name: [] for name in HISTOGRAMS}
        for record in records:
            self._fold(series, record, values)
        for name, batch in values.items():
            if batch:
                series.histograms[name].add(np.concatenate(batch) if name == "itl" else np.asarray(batch))

    def _fold(self, series: Series, record, values: dict[str, list]) -> None:
        series.requests["ok" if record.ok else str(record.error_code)] += 1
        if not record.ok:
            return
        metrics = request_metrics(record)
        series.input_tokens += record.num_input_tokens
        series.output_tokens += record.num_output_tokens
        values["e2e_latency"].append(metrics.e2e_latency)
        if metrics.ttft is not None:
            values["ttft"].append(metrics.ttft)
            if len(record.chunk_times) > 1:  # the gaps, each divided among the tokens a chunk carries on average
                gaps = np.diff(np.frombuffer(record.chunk_times, dtype=np.float64))
                values["itl"].append(gaps / max(record.num_output_tokens / len(record.chunk_times), 1.0))
        if metrics.tpot is not None:
            values["tpot"].append(metrics.tpot)
        if self.slo and all(met_metrics(metrics, self.slo)):
            series.good_requests += 1
            series.good_output_tokens += record.num_output_tokens

    def collect(self):
        """The metric families, freshly folded (called by the registry on each scrape)."""
        self.drain()
        requests = CounterMetricFamily(PREFIX + "requests", "Requests finished, by status (ok or the error code)",
                                       labels=(*LABELS, "status"))
        tokens = {kind: CounterMetricFamily(f"{PREFIX}{kind}_tokens", f"{kind.capitalize()} tokens of successful "
                                            "requests", labels=LABELS) for kind in ("input", "output")}
        histograms = {name: HistogramMetricFamily(f"{PREFIX}{name}_seconds", doc, labels=LABELS)
                      for name, (doc, _) in HISTOGRAMS.items()}
        goodput = [CounterMetricFamily(PREFIX + "goodput_requests", "Requests meeting every SLO (--slo)", labels=LABELS),
                   CounterMetricFamily(PREFIX + "goodput_output_tokens", "Output tokens of requests meeting every SLO",
                                       labels=LABELS)]
        for labels, series in self.series.items():
            for status, count in sorted(series.requests.items()):
                requests.add_metric((*labels, status), count)
            tokens["input"].add_metric(labels, series.input_tokens)
            tokens["output"].add_metric(labels, series.output_tokens)
            for name, buckets in series.histograms.items():
                histograms[name].add_metric(labels, buckets.exposition(), buckets.sum)
            goodput[0].add_metric(labels, series.good_requests)
            goodput[1].add_metric(labels, series.good_output_tokens)
        yield requests
        yield from tokens.values()
        yield from histograms.values()
        if self.slo:
            yield from goodput
        yield from self._gauges()

    def _gauges(self):
        current = self.labels is not None and self.in_flight is not None
        in_flight = GaugeMetricFamily(PREFIX + "in_flight_requests", "Requests sent and not yet answered (the run "
                                      "under way)", labels=LABELS)
        rate = GaugeMetricFamily(PREFIX + "output_tokens_per_second", "Output tokens per second of the run under "
                                 "way, so far", labels=LABELS)
        if current:
            in_flight.add_metric(self.labels, self.in_flight)
            rate.add_metric(self.labels, self.output_tokens_per_second)
        runs = CounterMetricFamily(PREFIX + "runs_finished", "Runs finished", labels=("experiment",))
        runs.add_metric((self.experiment,), self.runs_finished)
        return [in_flight, rate, runs]
