"""Notifiers: where alerts and the benchmark's end are announced (a webhook built in, more from plugins).

A notifier is any object with `send(message: dict)` that raises when delivery failed. Messages always carry `text`
(one line for people; Slack's incoming webhooks show it) and `event` (alert or benchmark_completed), plus the
event's data. Each notifier gets its own greenlet and bounded queue, so a slow or dead one never holds up the
benchmark or the other notifiers; failures are retried with doubling waits and logged once per failure burst.
Plugins add notifiers through the `genai_bench.notifiers` entry-point group (docs/alerts.md).
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Callable, Iterable
from typing import Protocol
from urllib.parse import urlsplit

import gevent
import orjson
from gevent.queue import Full, Queue

from genai_bench import __version__
from genai_bench.alerts import AlertSettings
from genai_bench.plugins import load_group

log = logging.getLogger(__name__)
NOTIFIER_GROUP = "genai_bench.notifiers"
QUEUE_SIZE = 256  # messages waiting per notifier; beyond it new ones are dropped (and that is logged once)
Report = Callable[[str, str], None]  # (message, level): a line for the benchmark's log


class Notifier(Protocol):
    """What a notifier implements: deliver one message or raise."""

    def send(self, message: dict) -> None:
        """Deliver `message` (a dict with at least `text` and `event`); raise when it was not delivered."""


class WebhookNotifier:
    """POSTs each message as JSON to a URL (a Slack incoming webhook, or anything reading a `text` field)."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout
        parts = urlsplit(url)
        # A webhook's path is its secret (Slack's is): people see only where it goes.
        self.name = f"webhook {parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}/…"

    def send(self, message: dict) -> None:
        """POST the message; anything but a 2xx answer within the timeout raises."""
        request = urllib.request.Request(self.url, data=orjson.dumps(message), method="POST", headers={
            "Content-Type": "application/json", "User-Agent": f"genai-bench/{__version__}"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (http(s) only: validated)
            response.read()


class Courier:
    """Delivers one notifier's messages in order from its own greenlet, retrying each with doubling waits."""

    def __init__(self, notifier: Notifier, name: str, report: Report, retries: int, backoff: float) -> None:
        self.notifier = notifier
        self.name = name
        self.report = report
        self.retries = retries
        self.backoff = backoff
        self.queue: Queue = Queue(maxsize=QUEUE_SIZE)
        self.failing = False  # inside a failure burst: the first failure was logged, the next ones are not
        self.dropping = False
        self.delivered = 0
        self.handled = 0  # messages delivered or given up on
        self.greenlet = gevent.spawn(self._loop)
        self.greenlet.link_exception(lambda g: log.error("notifier %s stopped: %r", self.name, g.exception))

    def post(self, message: dict) -> None:
        """Queue a message without blocking; a full queue drops it (logged once per burst)."""
        try:
            self.queue.put_nowait(message)
            self.dropping = False
        except Full:
            if not self.dropping:
                self.dropping = True
                self.report(f"{self.name} is {QUEUE_SIZE} messages behind; newer ones are dropped", "warning")

    def close(self) -> None:
        """No more messages: the greenlet ends once it delivered (or gave up on) what is queued."""
        self.queue.put(None)

    def _loop(self) -> None:
        while (message := self.queue.get()) is not None:
            self._deliver(message)
            self.handled += 1

    def _deliver(self, message: dict) -> None:
        error: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                gevent.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                self.notifier.send(message)
            except Exception as exc:  # a failing notifier is reported, never raised into the benchmark
                error = exc
                continue
            self.delivered += 1
            if self.failing:
                self.failing = False
                self.report(f"{self.name} delivers again", "info")
            return
        if not self.failing:
            self.failing = True
            self.report(f"{self.name} failed after {self.retries + 1} attempt(s) ({type(error).__name__}: {error}); "
                        "the benchmark goes on, and further failures are not logged until it delivers again",
                        "warning")


class Notifications:
    """Fans messages out to every notifier's courier; `close()` waits (bounded) for what is queued."""

    def __init__(self, notifiers: Iterable[tuple[str, Notifier]], report: Report, retries: int = 3,
                 backoff: float = 0.5) -> None:
        self.couriers = [Courier(notifier, name, report, retries, backoff) for name, notifier in notifiers]

    def __bool__(self) -> bool:
        return bool(self.couriers)

    def post(self, message: dict) -> None:
        """Send a message to every notifier, off the caller's path."""
        for courier in self.couriers:
            courier.post(message)

    def close(self, timeout: float = 15.0) -> None:
        """Deliver what is queued, waiting at most `timeout` seconds in all; then stop every courier."""
        for courier in self.couriers:
            courier.close()
        greenlets = [courier.greenlet for courier in self.couriers]
        gevent.joinall(greenlets, timeout=timeout)
        gevent.killall([g for g in greenlets if not g.dead], block=False)


def plugin_notifiers(report: Report) -> list[tuple[str, Notifier]]:
    """The notifiers installed plugins declare (each entry point is a class or factory taking no arguments)."""
    out = []
    for plugin in load_group(NOTIFIER_GROUP, report=lambda line: report(line, "warning")):
        try:
            notifier = plugin.target()
            if not callable(getattr(notifier, "send", None)):
                raise TypeError("it has no send(message) method")
        except Exception as exc:  # a broken plugin must never stop a benchmark
            report(f"plugin {plugin.name!r} ({NOTIFIER_GROUP}) could not be set up and is skipped: "
                   f"{type(exc).__name__}: {exc}", "warning")
            continue
        out.append((f"notifier {plugin.name}", notifier))
    return out


def notifications_of(settings: AlertSettings | None, report: Report) -> Notifications:
    """The benchmark's notifiers: one per --alert-webhook, then the plugins'."""
    settings = settings or AlertSettings()
    notifiers: list[tuple[str, Notifier]] = []
    for url in settings.webhooks:
        webhook = WebhookNotifier(url, settings.webhook_timeout)
        notifiers.append((webhook.name, webhook))
    notifiers += plugin_notifiers(report)
    return Notifications(notifiers, report, settings.webhook_retries, settings.retry_backoff)


def alert_message(alert: dict) -> dict:
    """The notifiers' message for an `alert` event's data."""
    return {"text": alert["text"], "event": "alert", "alert": alert}


def end_message(outcome: str, model: str, summary: str, link: str, folder: str, error: str | None = None,
                stopped_by_alert: str | None = None) -> dict:
    """The notifiers' message for the benchmark's end: completed, stopped (interrupted or by an alert) or failed."""
    how = {"completed": "completed", "failed": "FAILED", "stopped": "was interrupted"}.get(outcome, outcome)
    if stopped_by_alert:
        how = f"was stopped by alert {stopped_by_alert}"
    reason = f" ({error})" if error else ""
    text = f"genai-bench benchmark of {model} {how}{reason}: {summary}. Results: {link}"
    return {"text": text, "event": "benchmark_completed", "status": outcome, "model": model, "summary": summary,
            "link": link, "experiment_folder": folder, "error": error, "stopped_by_alert": stopped_by_alert}


def run_summary(results: list) -> str:
    """The sweep in one line: runs, requests, errors and the best throughput (runner.RunResult objects)."""
    if not results:
        return "no run finished"
    stats = [result.statistics for result in results]
    requests = sum(s.num_requests for s in stats)
    errors = sum(s.num_error_requests for s in stats)
    best = max(stats, key=lambda s: s.mean_output_throughput_tokens_per_s)
    runs = f"{len(results)} run{'s' if len(results) != 1 else ''}"
    best_rate = best.mean_output_throughput_tokens_per_s
    return (f"{runs}, {requests} requests, {errors} errors; best {best_rate:.1f} output tok/s "
            f"({best.scenario} @ concurrency {best.num_concurrency})")
