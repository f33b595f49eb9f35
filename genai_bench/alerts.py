"""Alert rules (--alert): their grammar, the metric paths they watch, and the monitor that evaluates them live.

A rule is `METRIC OP VALUE[UNIT] [for DURATION]`, e.g. `ttft.p99>500ms for 10s`. The metric paths are the fields of
the live `metrics` snapshot (docs/events.md), the capacity of SLOs (`goodput`) and the servers' own /metrics
(`server.kv_cache_usage`). The monitor listens to the sweep's hooks and fires `hooks.alert` when a rule starts or
stops holding; the notifiers (notifiers.py), the bus, the terminal and the writer take it from there.
"""

from __future__ import annotations

import difflib
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from genai_bench.config import ConfigError
from genai_bench.durations import to_seconds
from genai_bench.hooks import SweepHooks
from genai_bench.live_events import AlertChange, PlannedRun, RunProgress
from genai_bench.metrics import LIVE_STATS
from genai_bench.servermetrics.runs import ServerSample
from genai_bench.servermetrics.vocabulary import SERIES

# What a metric's number is, which says which units its threshold takes.
DURATION = "duration"  # seconds: thresholds need ms or s
SHARE = "share"  # 0-1: thresholds as a percentage (5%) or a fraction (0.05)
PERCENT = "percent"  # already 0-100 (the servers' shares): 95% or 95
NUMBER = "number"  # counts and rates: a plain number

NOTIFY, STOP = "notify", "stop"
ACTIONS = (NOTIFY, STOP)
NOTIFY_AUTO, NOTIFY_NONE = "auto", "none"
NOTIFY_CHOICES = (NOTIFY_AUTO, NOTIFY_NONE)
FIRING, RESOLVED = "firing", "resolved"
BENCHMARK_ENDED = "benchmark ended"  # the reason of the resolves the benchmark's end gives rules still firing
SERVER_PREFIX = "server."
MAX_FOR_SECONDS = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Metric:
    """One metric path a rule may watch: where its value is read and what kind of number it is."""

    path: str
    kind: str
    keys: tuple[str, ...]  # the way down the live snapshot (or, for server.*, the sample's values)
    server: bool = False  # read from the servers' /metrics scrapes, not the live snapshot
    needs_slo: bool = False

    def read(self, values: dict) -> float | None:
        """The metric's value in `values` (a live snapshot, or a scrape's values), None when it has none yet."""
        value = values
        for key in self.keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _catalog() -> dict[str, Metric]:
    metrics: list[Metric] = []
    for name in ("ttft", "tpot", "e2e_latency", "output_latency", "ttft_answer"):
        metrics += [Metric(f"{name}.{stat}", DURATION, ("stats", name, stat)) for stat in LIVE_STATS]
    for name in ("input_throughput", "output_throughput"):
        metrics += [Metric(f"{name}.{stat}", NUMBER, ("stats", name, stat)) for stat in LIVE_STATS]
    metrics += [Metric(f"reasoning_tokens.{stat}", NUMBER, ("stats", "num_reasoning_tokens", stat)) for stat in LIVE_STATS]
    metrics.append(Metric("error_rate", SHARE, ("error_rate",)))
    metrics += [Metric(name, NUMBER, (name,)) for name in (
        "errors", "completed", "in_flight", "requests_per_second", "output_tokens_per_second",
        "input_tokens_per_second", "inputs_per_second")]
    metrics += [Metric("goodput", NUMBER, ("slo", "goodput_requests_per_second"), needs_slo=True),
                Metric("goodput_tokens", NUMBER, ("slo", "goodput_output_tokens_per_second"), needs_slo=True),
                Metric("slo_attainment", SHARE, ("slo", "attainment"), needs_slo=True)]
    percent = {"kv_cache_usage", "prefix_cache_hit_rate", "gpu_utilization"}
    metrics += [Metric(SERVER_PREFIX + name, PERCENT if name in percent else NUMBER, (name,), server=True)
                for name in SERIES]
    return {metric.path: metric for metric in metrics}


METRICS = _catalog()
ALIASES = {"e2e": "e2e_latency"}  # like --slo: `e2e.p99` is e2e_latency.p99
PATHS_TEXT = ("{ttft,tpot,e2e_latency,output_latency,ttft_answer}.{" + ",".join(LIVE_STATS) + "} (durations: ms, s), "
              "{input_throughput,output_throughput,reasoning_tokens}.<stat>, error_rate (%), errors, completed, "
              "in_flight, requests_per_second, output_tokens_per_second, input_tokens_per_second, inputs_per_second, "
              "goodput, goodput_tokens, slo_attainment (%) (these three with --slo), "
              "server.{" + ",".join(SERIES) + "}")
RULE_FORM = "give METRIC OP VALUE[UNIT] [for DURATION], e.g. 'ttft.p99>500ms for 10s' or 'error_rate>5%'"
_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?"
_RULE = re.compile(rf"^\s*(?P<path>[a-z][a-z0-9_.]*)\s*(?P<op>>=|<=|>|<)\s*(?P<value>{_NUMBER})\s*(?P<unit>ms|s|%)?"
                   rf"(?:\s+for\s+(?P<for>{_NUMBER})\s*(?P<for_unit>ms|s|m|min)?)?\s*$", re.IGNORECASE)
COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}


@dataclass(frozen=True)
class AlertRule:
    """One parsed --alert rule; `threshold` is in the metric's own unit (seconds, a 0-1 share, percent, a count)."""

    text: str
    metric: str
    op: str
    threshold: float
    unit: str  # how people gave it and read it: ms, s, % or ""
    for_seconds: float = 0.0

    @property
    def spec(self) -> Metric:
        """The metric the rule watches."""
        return METRICS[self.metric]

    def holds(self, value: float) -> bool:
        """True when `value` breaks the rule (the alert's condition holds)."""
        return COMPARE[self.op](value, self.threshold)

    def shown(self, value: float) -> str:
        """A value of the rule's metric in the rule's unit, e.g. "812 ms", "7.5%", "12.3"."""
        kind = self.spec.kind
        if kind == DURATION:
            scale = 1000.0 if self.unit == "ms" else 1.0
            return f"{value * scale:.4g} {self.unit}"
        if kind == SHARE and self.unit == "%":
            return f"{value * 100:.3g}%"
        if kind == PERCENT:
            return f"{value:.3g}%"
        return f"{value:.4g}"

    def to_dict(self) -> dict:
        """The rule as the metadata keeps it."""
        return {"rule": self.text, "metric": self.metric, "op": self.op, "threshold": self.threshold,
                "unit": self.unit, "for_seconds": self.for_seconds}


def parse_rule(text: str) -> AlertRule:
    """One --alert value as an AlertRule, or a one-line ConfigError naming the metric paths that exist."""
    shown = f"--alert {text.strip()!r}"
    match = _RULE.match(text)
    if not match:
        raise ConfigError(f"{shown}: {RULE_FORM}; metrics: {PATHS_TEXT}")
    path = match.group("path").lower()
    head, dot, tail = path.partition(".")
    path = ALIASES.get(head, head) + dot + tail
    if path not in METRICS:
        close = difflib.get_close_matches(path, METRICS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigError(f"{shown}: unknown metric {path}{hint}; metrics: {PATHS_TEXT}")
    metric = METRICS[path]
    unit = (match.group("unit") or "").lower()
    threshold = threshold_of(shown, metric, float(match.group("value")), unit)
    for_seconds = to_seconds(float(match.group("for") or 0), match.group("for_unit") or "s")
    if not 0 <= for_seconds <= MAX_FOR_SECONDS:
        raise ConfigError(f"{shown}: 'for' must be at most a week")
    return AlertRule(" ".join(text.split()), path, match.group("op"), threshold, unit, for_seconds)


def threshold_of(shown: str, metric: Metric, number: float, unit: str) -> float:
    """The threshold in the metric's unit, or a one-line error saying which units the metric takes."""
    if not math.isfinite(number):
        raise ConfigError(f"{shown}: the threshold must be a finite number")
    if metric.kind == DURATION:
        if unit not in ("ms", "s"):
            raise ConfigError(f"{shown}: {metric.path} is a duration; give the threshold in ms or s, e.g. 500ms")
        return to_seconds(number, unit)
    if metric.kind == SHARE:
        if unit == "%":
            return number / 100.0
        if unit or number > 1:
            raise ConfigError(f"{shown}: {metric.path} is a share; give a percentage (5%) or a fraction (0.05)")
        return number
    if unit and not (metric.kind == PERCENT and unit == "%"):
        raise ConfigError(f"{shown}: {metric.path} is a plain number{' or a percentage' if metric.kind == PERCENT else ''}"
                          f"; drop the unit {unit!r}")
    return number


def webhook_problem(url: str) -> str | None:
    """What makes `url` unusable as --alert-webhook, or None."""
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 1) > 0  # a bad port raises
    except ValueError:
        ok = False
    return None if ok else "--alert-webhook takes an http:// or https:// URL (e.g. a Slack incoming webhook)"


@dataclass(frozen=True)
class AlertSettings:
    """The alert rules, what a firing rule does, and where notifications go (the webhooks; plugins add more)."""

    rules: tuple[AlertRule, ...] = ()
    webhooks: tuple[str, ...] = ()
    action: str = NOTIFY  # notify, or stop: a firing rule ends the benchmark
    notify: str = NOTIFY_AUTO  # auto: completion, failure and interruption go to the notifiers too; none: alerts only
    webhook_timeout: float = 5.0  # seconds per POST
    webhook_retries: int = 3  # more attempts after a failed one, with doubling waits
    retry_backoff: float = 0.5  # seconds before the first retry

    @classmethod
    def of(cls, rules: Iterable[str] = (), webhooks: Iterable[str] = (), action: str = NOTIFY,
           notify: str = NOTIFY_AUTO) -> AlertSettings:
        """Settings from the options' values (rules and webhooks may repeat)."""
        return cls(tuple(parse_rule(text) for text in rules if text.strip()), tuple(webhooks), action, notify)

    def validate(self, has_slo: bool = False, server_metrics: Iterable[str] = ("auto",)) -> AlertSettings:
        """Raise a one-line ConfigError on the first problem; return self."""
        if self.action not in ACTIONS:
            raise ConfigError(f"--alert-action {self.action!r} is unknown; use {' or '.join(ACTIONS)}")
        if self.notify not in NOTIFY_CHOICES:
            raise ConfigError(f"--notify {self.notify!r} is unknown; use {' or '.join(NOTIFY_CHOICES)}")
        if self.action == STOP and not self.rules:
            raise ConfigError("--alert-action stop ends the benchmark when a rule fires; give an --alert rule")
        for url in self.webhooks:
            if problem := webhook_problem(url):
                raise ConfigError(problem)
        for rule in self.rules:
            if rule.spec.needs_slo and not has_slo:
                raise ConfigError(f"--alert {rule.text!r}: {rule.metric} counts the requests meeting the SLOs; "
                                  "give them with --slo (e.g. --slo ttft=500ms)")
            if rule.spec.server and tuple(server_metrics) == ("off",):
                raise ConfigError(f"--alert {rule.text!r} watches the servers' /metrics, but --server-metrics is off")
        return self

    def to_dict(self) -> dict:
        """What the metadata keeps (the webhooks' addresses are secrets: only their count)."""
        return {"rules": [rule.to_dict() for rule in self.rules], "action": self.action, "notify": self.notify,
                "webhooks": len(self.webhooks)}


@dataclass
class RuleState:
    """Where one rule stands: since when its condition holds (pending or firing), and whether it fired."""

    holding_since: float | None = None
    firing: bool = False
    fired_at: float | None = None
    value: float | None = None  # the latest value seen
    run_key: str | None = None  # the run it was seen in


class AlertMonitor:
    """Evaluates the rules on each live snapshot (and server scrape) and fires `hooks.alert` as they fire and resolve.

    `on_stop(change)` is called once, when the first rule fires under --alert-action stop.
    """

    def __init__(self, settings: AlertSettings, hooks: SweepHooks,
                 on_stop: Callable[[AlertChange], None] | None = None) -> None:
        self.settings = settings
        self.hooks = hooks
        self.on_stop = on_stop
        self.states = {rule: RuleState() for rule in settings.rules}
        self.live_rules = [rule for rule in settings.rules if not rule.spec.server]
        self.server_rules = [rule for rule in settings.rules if rule.spec.server]
        self.run: PlannedRun | None = None
        self.stopping = False

    def attach(self, hooks: SweepHooks) -> AlertMonitor:
        """Listen to the hooks whose data the rules read (nothing when there is no rule)."""
        if self.live_rules:
            hooks.live_tick.add_listener(self.on_live_tick)
        if self.server_rules:
            hooks.server_metrics.add_listener(self.on_server_metrics)
        if self.settings.rules:
            hooks.run_started.add_listener(self.on_run_started)
        return self

    def on_run_started(self, run: PlannedRun, start_time: float) -> None:
        """Remember the run under way, for the alerts' labels."""
        self.run = run

    def on_live_tick(self, progress: RunProgress, live_metrics: dict, histograms: dict, timestamp: float) -> None:
        """Evaluate the live rules on a fresh snapshot."""
        self.run = progress.run
        values = {**live_metrics, "in_flight": progress.in_flight}
        for rule in self.live_rules:
            self.evaluate(rule, rule.spec.read(values), timestamp, progress.run.key)

    def on_server_metrics(self, sample: ServerSample, run_key: str | None) -> None:
        """Evaluate the server.* rules on a fresh scrape."""
        for rule in self.server_rules:
            self.evaluate(rule, rule.spec.read(sample.values), sample.t, run_key)

    def evaluate(self, rule: AlertRule, value: float | None, now: float, run_key: str | None) -> None:
        """Move one rule's state on a new value (None: no data yet, nothing changes)."""
        if value is None:
            return
        state = self.states[rule]
        state.value, state.run_key = value, run_key
        if rule.holds(value):
            if state.holding_since is None:
                state.holding_since = now
            if not state.firing and now - state.holding_since >= rule.for_seconds:
                state.firing, state.fired_at = True, now
                self._change(rule, FIRING, value, state.holding_since, now, run_key)
        else:
            state.holding_since = None
            if state.firing:
                state.firing = False
                self._change(rule, RESOLVED, value, state.fired_at or now, now, run_key)

    def end(self, reason: str = BENCHMARK_ENDED, now: float | None = None) -> None:
        """Resolve every rule still firing, with `reason` (the benchmark ended: nothing will resolve them later)."""
        now = time.time() if now is None else now
        for rule, state in self.states.items():
            state.holding_since = None
            if state.firing:
                state.firing = False
                self._change(rule, RESOLVED, state.value, state.fired_at or now, now, state.run_key, reason)

    @property
    def firing(self) -> list[AlertRule]:
        """The rules firing now."""
        return [rule for rule, state in self.states.items() if state.firing]

    def _change(self, rule: AlertRule, state: str, value: float, since: float, now: float, run_key: str | None,
                reason: str | None = None) -> None:
        run = self.run if self.run is not None and (run_key is None or self.run.key == run_key) else None
        change = AlertChange(state, rule.text, rule.metric, rule.op, rule.threshold, value, rule.unit,
                             rule.shown(value), rule.shown(rule.threshold), rule.for_seconds, since, now, run_key,
                             run.label if run else None, self.settings.action, reason)
        self.hooks.alert.fire(alert=change)
        if state == FIRING and self.settings.action == STOP and not self.stopping and self.on_stop is not None:
            self.stopping = True
            self.on_stop(change)
