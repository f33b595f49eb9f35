"""Notifiers: the webhook against a real local HTTP server, retries and once-per-burst failure logging, plugins from
real entry points, and the benchmark's completion and failure notices from real in-process sessions."""

from __future__ import annotations

import textwrap
import time

import gevent
import pytest
from gevent.pywsgi import WSGIServer

from genai_bench.alerts import AlertSettings
from genai_bench.config import BenchmarkConfig
from genai_bench.notifiers import NOTIFIER_GROUP, Notifications, WebhookNotifier, end_message, notifications_of
from genai_bench.planner import SweepPlan
from genai_bench.scenarios import parse_scenario
from genai_bench.session import BenchmarkSession
from tests.support.servers import free_port, run_benchmark


def wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        gevent.sleep(0.02)


def test_the_webhook_posts_json_with_a_text_field(webhook):
    receiver = webhook()
    WebhookNotifier(receiver.url).send({"text": "Alert firing: ttft.p99>500ms", "event": "alert", "alert": {"x": 1}})
    assert receiver.messages == [{"text": "Alert firing: ttft.p99>500ms", "event": "alert", "alert": {"x": 1}}]
    assert receiver.paths == ["/services/T0/B0/secret"]
    assert "secret" not in WebhookNotifier(receiver.url).name  # its path is its secret: never shown


def test_a_webhook_answering_an_error_status_counts_as_failed(webhook):
    with pytest.raises(Exception, match="500"):
        WebhookNotifier(webhook(status=500).url).send({"text": "x", "event": "alert"})


def test_a_dead_webhook_is_retried_logged_once_per_burst_and_recovers():
    port = free_port()
    reports: list[tuple[str, str]] = []
    webhook = WebhookNotifier(f"http://127.0.0.1:{port}/hook", timeout=1.0)
    notifications = Notifications([(webhook.name, webhook)], lambda m, level: reports.append((level, m)),
                                  retries=2, backoff=0.01)
    courier = notifications.couriers[0]
    for i in range(3):
        notifications.post({"text": f"message {i}", "event": "alert"})
    wait_until(lambda: courier.handled == 3)
    assert courier.delivered == 0
    assert len(reports) == 1 and reports[0][0] == "warning"
    assert "failed after 3 attempt(s)" in reports[0][1] and f"127.0.0.1:{port}" in reports[0][1]
    received: list[bytes] = []

    def app(environ, start_response):
        received.append(environ["wsgi.input"].read())
        start_response("200 OK", [])
        return [b""]

    server = WSGIServer(("127.0.0.1", port), app, log=None, error_log=None)
    server.start()
    try:
        notifications.post({"text": "message 3", "event": "alert"})
        notifications.close(timeout=10)
    finally:
        server.stop()
    assert len(received) == 1 and b"message 3" in received[0]
    assert reports[-1] == ("info", f"{webhook.name} delivers again")


PLUGIN = """
    class Recorder:
        messages = []

        def send(self, message):
            Recorder.messages.append(message)


    class Broken:
        def __init__(self):
            raise RuntimeError("no credentials")
"""


def test_notifiers_from_plugins_are_used_and_broken_ones_reported_in_one_line(tmp_path, monkeypatch, webhook):
    (tmp_path / "alert_sink_plugin.py").write_text(textwrap.dedent(PLUGIN))
    dist = tmp_path / "genai_bench_alert_sink-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: genai-bench-alert-sink\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{NOTIFIER_GROUP}]\nrecorder = alert_sink_plugin:Recorder\n"
                                           "broken = alert_sink_plugin:Broken\nmissing = no_such_module:Thing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reports: list[tuple[str, str]] = []
    receiver = webhook()
    notifications = notifications_of(AlertSettings.of([], [receiver.url]), lambda m, level: reports.append((level, m)))
    assert [c.name for c in notifications.couriers][1:] == ["notifier recorder"]
    assert sorted(m.split("'")[1] for _, m in reports) == ["broken", "missing"]
    assert all("\n" not in m and "is skipped" in m for _, m in reports)
    notifications.post({"text": "hello", "event": "alert"})
    notifications.close(timeout=10)
    import alert_sink_plugin

    assert alert_sink_plugin.Recorder.messages == [{"text": "hello", "event": "alert"}]
    assert receiver.messages == [{"text": "hello", "event": "alert"}]


def test_the_end_message_has_the_summary_and_the_link():
    message = end_message("stopped", "m", "2 runs", "http://127.0.0.1:8080/", "/x/exp", None, "ttft.p99>1s")
    assert message["text"] == "genai-bench benchmark of m was stopped by alert ttft.p99>1s: 2 runs. Results: " \
                              "http://127.0.0.1:8080/"
    assert (message["event"], message["status"], message["experiment_folder"]) == ("benchmark_completed", "stopped",
                                                                                    "/x/exp")


def test_a_finished_benchmark_announces_its_completion(tmp_path, webhook):
    receiver = webhook()
    folder = run_benchmark(tmp_path, alerts=AlertSettings.of([], [receiver.url]))
    [message] = receiver.messages  # close() delivered it before returning
    assert (message["event"], message["status"], message["link"]) == ("benchmark_completed", "completed", str(folder))
    assert message["text"].startswith("genai-bench benchmark of genai-bench-sim completed: 2 runs, 12 requests, "
                                      "0 errors; best ")
    assert message["text"].endswith(f"Results: {folder}")


def test_notify_none_keeps_the_end_quiet(tmp_path, webhook):
    receiver = webhook()
    run_benchmark(tmp_path, alerts=AlertSettings.of([], [receiver.url], notify="none"))
    assert receiver.messages == []


class FailingPlan(SweepPlan):
    """The real sweep plan, failing after its first run (a fault the benchmark must report)."""

    def record(self, run, statistics) -> None:
        super().record(run, statistics)
        raise RuntimeError("disk on fire")


def test_a_failed_benchmark_announces_its_failure(tmp_path, webhook, fast_simulator):
    receiver = webhook()
    config = BenchmarkConfig(api_base=fast_simulator.url, traffic_scenarios=[parse_scenario("D(20,10)")],
                             concurrencies=[1, 2], max_requests_per_run=4, experiment_base_dir=str(tmp_path),
                             alerts=AlertSettings.of([], [receiver.url]))
    session = BenchmarkSession(config)
    session.planner = FailingPlan(session.config)
    with pytest.raises(RuntimeError, match="disk on fire"):
        session.run(handle_signals=False)
    session.close()
    [message] = receiver.messages
    assert (message["status"], message["error"]) == ("failed", "RuntimeError: disk on fire")
    assert "FAILED (RuntimeError: disk on fire): 1 run, 4 requests, 0 errors" in message["text"]
