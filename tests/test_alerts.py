"""--alert rules: the grammar, units and one-line errors; the monitor's firing and resolving on the sweep's hooks; the
options that build them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genai_bench import live_events
from genai_bench.alerts import METRICS, AlertMonitor, AlertSettings, parse_rule
from genai_bench.config import ConfigError
from genai_bench.hooks import SweepHooks
from genai_bench.live_events import PlannedRun, RunProgress
from genai_bench.options import parse_benchmark_args
from genai_bench.scenarios import parse_scenario
from genai_bench.servermetrics.runs import ServerSample


@pytest.mark.parametrize("text, metric, op, threshold, for_seconds", [
    ("ttft.p99>500ms", "ttft.p99", ">", 0.5, 0.0),
    ("error_rate>5%", "error_rate", ">", 0.05, 0.0),
    ("error_rate >= 0.05", "error_rate", ">=", 0.05, 0.0),
    ("server.kv_cache_usage>95%", "server.kv_cache_usage", ">", 95.0, 0.0),  # the servers' shares are percent
    ("server.kv_cache_usage>95", "server.kv_cache_usage", ">", 95.0, 0.0),
    ("goodput<10", "goodput", "<", 10.0, 0.0),
    ("ttft.p99>500ms for 10s", "ttft.p99", ">", 0.5, 10.0),
    ("e2e.p50 <= 2s for 1m", "e2e_latency.p50", "<=", 2.0, 60.0),  # e2e is e2e_latency, like --slo
    ("TPOT.P90>40MS for 500ms", "tpot.p90", ">", 0.04, 0.5),
    ("slo_attainment<90%", "slo_attainment", "<", 0.9, 0.0),
])
def test_rules_parse_into_the_metrics_own_unit(text, metric, op, threshold, for_seconds):
    rule = parse_rule(text)
    assert (rule.metric, rule.op, rule.for_seconds) == (metric, op, for_seconds)
    assert rule.threshold == pytest.approx(threshold)


@pytest.mark.parametrize("text, says", [
    ("ttft.p99>500", "ttft.p99 is a duration; give the threshold in ms or s"),
    ("error_rate>5", "error_rate is a share; give a percentage (5%) or a fraction (0.05)"),
    ("goodput<10%", "goodput is a plain number; drop the unit '%'"),
    ("ttt.p99>5ms", "unknown metric ttt.p99 (did you mean ttft.p99?)"),
    ("server.kv>5", "unknown metric server.kv"),
    ("ttft.p99 = 5ms", "give METRIC OP VALUE[UNIT] [for DURATION]"),
    ("ttft.p99>5ms for ever", "give METRIC OP VALUE[UNIT] [for DURATION]"),
    ("ttft.p99>1e999ms", "the threshold must be a finite number"),
    ("ttft.p99>5ms for 30000m", "'for' must be at most a week"),
])
def test_bad_rules_are_one_line_errors(text, says):
    with pytest.raises(ConfigError) as error:
        parse_rule(text)
    message = str(error.value)
    assert says in message and "\n" not in message
    assert message.startswith(f"--alert {text!r}")


def test_an_unknown_metric_names_the_paths_that_exist():
    with pytest.raises(ConfigError, match=r"metrics: .*ttft.*p99.*error_rate.*goodput.*server\.\{running.*kv_cache"):
        parse_rule("latency>5ms")


DURATIONS = [path for path, metric in METRICS.items() if metric.kind == "duration"]


@given(st.sampled_from(DURATIONS), st.sampled_from([">", ">=", "<", "<="]), st.integers(0, 10**6),
       st.sampled_from(["ms", "s"]), st.one_of(st.none(), st.integers(0, 3600)))
def test_any_well_formed_duration_rule_parses_to_seconds(path, op, number, unit, hold):
    text = f"{path}{op}{number}{unit}" + (f" for {hold}s" if hold is not None else "")
    rule = parse_rule(text)
    assert (rule.metric, rule.op, rule.unit) == (path, op, unit)
    assert rule.threshold == pytest.approx(number * (0.001 if unit == "ms" else 1.0))
    assert rule.for_seconds == (hold or 0)


@given(st.text(max_size=40))
def test_arbitrary_text_parses_or_fails_in_one_line(text):
    try:
        parse_rule(text)
    except ConfigError as error:
        assert "\n" not in str(error)


def test_values_are_shown_in_the_rules_unit():
    assert parse_rule("ttft.p99>500ms").shown(0.8123) == "812.3 ms"
    assert parse_rule("ttft.p99>0.5s").shown(0.8123) == "0.8123 s"
    assert parse_rule("error_rate>5%").shown(0.075) == "7.5%"
    assert parse_rule("server.kv_cache_usage>95%").shown(97.0) == "97%"


@pytest.mark.parametrize("settings, has_slo, server_metrics, says", [
    (AlertSettings.of(["goodput<10"]), False, ("auto",), "give them with --slo"),
    (AlertSettings.of(["server.running>4"]), True, ("off",), "--server-metrics is off"),
    (AlertSettings.of([], action="stop"), False, ("auto",), "give an --alert rule"),
    (AlertSettings.of([], ["ftp://example.com/x"]), False, ("auto",), "--alert-webhook takes an http://"),
    (AlertSettings.of([], ["not a url"]), False, ("auto",), "--alert-webhook takes an http://"),
])
def test_settings_are_checked_against_the_other_options(settings, has_slo, server_metrics, says):
    with pytest.raises(ConfigError, match=says):
        settings.validate(has_slo, server_metrics)


def test_the_options_build_the_settings_and_the_webhook_stays_secret():
    config = parse_benchmark_args(["--alert", "ttft.p99>500ms for 10s", "--alert", "error_rate>5%",
                                   "--alert-webhook", "https://hooks.example.com/services/T0/B0/SECRET",
                                   "--alert-action", "stop", "--notify", "none"])
    settings = config.alerts
    assert [rule.text for rule in settings.rules] == ["ttft.p99>500ms for 10s", "error_rate>5%"]
    assert (settings.action, settings.notify, settings.webhooks) == (
        "stop", "none", ("https://hooks.example.com/services/T0/B0/SECRET",))
    assert "SECRET" not in " ".join(config.redacted_command())
    assert settings.to_dict()["webhooks"] == 1  # the metadata keeps how many, never where
    assert parse_benchmark_args([]).alerts is None
    with pytest.raises(ConfigError, match="give them with --slo"):
        parse_benchmark_args(["--alert", "goodput<10"])
    assert parse_benchmark_args(["--alert", "goodput<10", "--slo", "ttft=1s"]).alerts.rules[0].metric == "goodput"


# ---------------------------------------------------------------- the monitor on the sweep's hooks

def planned_run(concurrency: int = 4) -> PlannedRun:
    scenario = parse_scenario("D(100,100)")
    key = live_events.run_key(scenario.name, "text-to-text", concurrency, 60.0)
    return PlannedRun(scenario.text, concurrency, None, 1, 1, key, 60.0, None, scenario)


def tick(hooks: SweepHooks, run: PlannedRun, t: float, ttft_p99: float | None, error_rate: float = 0.0) -> None:
    stats = {"ttft": {"p99": ttft_p99}} if ttft_p99 is not None else {"ttft": None}
    hooks.live_tick.fire(progress=RunProgress(run, 10, 0, 2, t), live_metrics={"stats": stats, "error_rate": error_rate},
                         histograms={}, timestamp=t)


def watch(rules, action="notify"):
    hooks, changes, stops = SweepHooks(), [], []
    hooks.alert.add_listener(lambda alert: changes.append(alert))
    AlertMonitor(AlertSettings.of(rules, action=action).validate(), hooks, stops.append).attach(hooks)
    return hooks, changes, stops


def test_a_rule_fires_after_holding_for_its_duration_and_resolves_once():
    hooks, changes, _ = watch(["ttft.p99>500ms for 2s"])
    run = planned_run()
    tick(hooks, run, 100.0, 0.4)
    tick(hooks, run, 101.0, 0.9)  # holds from 101
    tick(hooks, run, 102.0, 0.1)  # a blip: back to normal before 2 s
    tick(hooks, run, 103.0, 0.9)
    tick(hooks, run, 104.0, None)  # no data: nothing changes
    tick(hooks, run, 104.5, 0.8)
    assert changes == []
    tick(hooks, run, 105.0, 0.7)  # held 2 s since 103
    tick(hooks, run, 106.0, 0.95)  # still firing: no second event
    tick(hooks, run, 107.0, 0.2)
    tick(hooks, run, 108.0, 0.1)
    assert [(c.state, c.since, c.t) for c in changes] == [("firing", 103.0, 105.0), ("resolved", 105.0, 107.0)]
    firing = live_events.alert(changes[0])
    assert (firing["value"], firing["threshold"], firing["shown_value"], firing["run_key"]) == (
        0.7, 0.5, "700 ms", run.key)
    assert firing["text"] == f"Alert firing: ttft.p99>500ms for 2s (ttft.p99 = 700 ms for 2 s, {run.label})"
    assert live_events.alert(changes[1])["text"].startswith("Alert resolved: ttft.p99>500ms for 2s (ttft.p99 = 200 ms "
                                                              "after 2 s firing")


def test_the_end_resolves_each_rule_still_firing_with_its_reason():
    hooks, changes = SweepHooks(), []
    hooks.alert.add_listener(lambda alert: changes.append(alert))
    monitor = AlertMonitor(AlertSettings.of(["ttft.p99>500ms", "error_rate>5%"]).validate(), hooks).attach(hooks)
    run = planned_run()
    tick(hooks, run, 100.0, 0.9)  # ttft fires; error_rate (0) does not
    tick(hooks, run, 101.0, 0.8)
    monitor.end(now=110.0)
    monitor.end(now=111.0)  # once
    assert [(c.rule, c.state, c.reason) for c in changes] == [
        ("ttft.p99>500ms", "firing", None), ("ttft.p99>500ms", "resolved", "benchmark ended")]
    resolved = live_events.alert(changes[1])
    assert (resolved["value"], resolved["since"], resolved["t"], resolved["run_key"], resolved["reason"]) == (
        0.8, 100.0, 110.0, run.key, "benchmark ended")
    assert resolved["text"] == (f"Alert resolved: ttft.p99>500ms (benchmark ended; ttft.p99 = 800 ms after 10 s "
                                f"firing, {run.label})")
    assert live_events.alert(changes[0])["reason"] is None and monitor.firing == []


def test_server_rules_read_the_scrapes_and_stop_asks_once():
    hooks, changes, stops = watch(["server.kv_cache_usage>=90%", "error_rate>5%"], action="stop")
    run = planned_run()
    hooks.run_started.fire(run=run, start_time=0.0)
    for t, usage in [(1.0, 50.0), (2.0, 92.0), (3.0, 99.0), (4.0, 10.0)]:
        hooks.server_metrics.fire(sample=ServerSample(t, (), {"kv_cache_usage": usage}, {}, {}), run_key=run.key)
    tick(hooks, run, 5.0, 0.1, error_rate=0.5)
    assert [(c.rule, c.state, c.t) for c in changes] == [
        ("server.kv_cache_usage>=90%", "firing", 2.0), ("server.kv_cache_usage>=90%", "resolved", 4.0),
        ("error_rate>5%", "firing", 5.0)]
    assert changes[0].run_label == run.label and changes[0].shown_value == "92%"
    assert [c.rule for c in stops] == ["server.kv_cache_usage>=90%"]  # the first firing rule stops; once


# ---------------------------------------------------------------- against the simulator, end to end

@pytest.mark.slow
def test_an_alert_fires_and_resolves_against_the_simulator_on_events_the_webhook_and_the_files(
        tmp_path, start_simulator, webhook):
    import json

    import gevent

    from genai_bench.config import BenchmarkConfig
    from genai_bench.session import BenchmarkSession
    from tests.support.servers import http_json
    from tests.support.sse import SSEReader

    # 1 ms of prefill per prompt token: D(300,2) gets its first token after ~300 ms, D(2,2) after ~4 ms.
    simulator = start_simulator(ttft_ms=2.0, prefill_ms_per_token=1.0, itl_ms=1.0, seed=1)
    receiver = webhook()
    config = BenchmarkConfig(
        api_base=simulator.url, traffic_scenarios=[parse_scenario("D(300,2)"), parse_scenario("D(2,2)")],
        concurrencies=[2], max_requests_per_run=12, max_time_per_run=1.0, experiment_base_dir=str(tmp_path),
        experiment_folder_name="exp", enable_streaming=True, streaming_port=0,
        alerts=AlertSettings.of(["ttft.p50>150ms"], [receiver.url]))
    session = BenchmarkSession(config)
    session.start()
    reader = SSEReader(f"{session.dashboard_url}events?types=alert,benchmark_completed"
                       f"&last_event_id={session.bus.last_id}", timeout=30)
    running = gevent.spawn(session.run, handle_signals=False)
    try:
        envelopes = [frame["data"] for frame in reader.events(3)]
        _, state = http_json(session.dashboard_url + "api/state")
    finally:
        reader.close()
        running.get(timeout=60)
        session.close()
    assert [e["event_type"] for e in envelopes] == ["alert", "alert", "benchmark_completed"]
    firing, resolved = (e["data"] for e in envelopes[:2])
    first_run, second_run = (p.stem for p in session.writer.run_files)
    assert (firing["state"], firing["rule"], firing["metric"], firing["run_key"]) == (
        "firing", "ttft.p50>150ms", "ttft.p50", first_run)
    assert firing["value"] > 0.15 and firing["threshold"] == 0.15 and envelopes[0]["timestamp"] == firing["t"]
    assert (resolved["state"], resolved["run_key"], resolved["since"]) == ("resolved", second_run, firing["t"])
    assert resolved["value"] < 0.15
    assert [a["state"] for a in state["alerts"]] == ["firing", "resolved"]
    # The webhook: both alerts, then the end's notice, each with its text.
    texts = [m["text"] for m in receiver.messages]
    assert texts[:2] == [firing["text"], resolved["text"]] and texts[0].startswith("Alert firing: ttft.p50>150ms")
    assert texts[2].startswith("genai-bench benchmark of genai-bench-sim completed: 2 runs, 24 requests")
    # The run files keep their run's alerts, the metadata all of them, events.ndjson every event.
    folder = tmp_path / "exp"
    assert json.loads((folder / f"{first_run}.json").read_text())["alerts"] == [firing]
    assert json.loads((folder / f"{second_run}.json").read_text())["alerts"] == [resolved]
    metadata = json.loads((folder / "experiment_metadata.json").read_text())
    assert metadata["alerts"] == [firing, resolved] and metadata["stopped_by_alert"] is None
    assert metadata["alert_rules"]["rules"][0]["threshold"] == 0.15
    logged = [json.loads(line) for line in (folder / "events.ndjson").read_text().splitlines()]
    assert [e["data"] for e in logged if e["event_type"] == "alert"] == [firing, resolved]


@pytest.mark.slow
def test_a_rule_firing_at_the_end_is_on_a_new_clients_stream_and_resolves_when_the_benchmark_ends(
        tmp_path, start_simulator, webhook):
    import json

    import gevent

    from genai_bench.config import BenchmarkConfig
    from genai_bench.session import BenchmarkSession
    from tests.support.servers import http_json
    from tests.support.sse import SSEReader

    simulator = start_simulator(ttft_ms=5.0, itl_ms=2.0, seed=1)
    receiver = webhook()
    config = BenchmarkConfig(
        api_base=simulator.url, traffic_scenarios=[parse_scenario("D(20,10)")], concurrencies=[1, 2],
        max_requests_per_run=400, max_time_per_run=1.5, experiment_base_dir=str(tmp_path), experiment_folder_name="exp",
        enable_streaming=True, streaming_port=0, alerts=AlertSettings.of(["completed>=1"], [receiver.url]))
    session = BenchmarkSession(config)
    session.start()
    running = gevent.spawn(session.run, handle_signals=False)
    try:
        for _ in range(200):  # bounded: the rule fires on the first live tick with a completed request
            if session.bus.firing:
                break
            gevent.sleep(0.05)
        # A client connecting now, with no Last-Event-ID (curl -N /events), gets the firing alert in its snapshot.
        reader = SSEReader(f"{session.dashboard_url}events?types=alert,benchmark_completed", timeout=30)
        envelopes: list[dict] = []
        try:
            while len(envelopes) < 3:  # ends with benchmark_completed (heartbeats aside)
                envelopes += [f["data"] for f in reader.events(1) if f["data"]["event_type"] != "heartbeat"]
        finally:
            reader.close()
        running.get(timeout=60)
        _, state = http_json(session.dashboard_url + "api/state")
    finally:
        session.close()
    assert [(e["event_type"], e["data"].get("state")) for e in envelopes] == [
        ("alert", "firing"), ("alert", "resolved"), ("benchmark_completed", None)]
    firing, resolved = (e["data"] for e in envelopes[:2])
    assert firing["rule"] == resolved["rule"] == "completed>=1" and firing["reason"] is None
    assert envelopes[2]["data"]["status"] == "completed"
    assert (resolved["reason"], resolved["since"]) == ("benchmark ended", firing["t"])
    assert resolved["text"].startswith("Alert resolved: completed>=1 (benchmark ended; completed = ")
    assert [a["state"] for a in state["alerts"]] == ["firing", "resolved"] and session.bus.firing == {}
    # The webhook, the metadata and the event log agree: the rule resolved before the benchmark's end.
    assert [m["event"] for m in receiver.messages] == ["alert", "alert", "benchmark_completed"]
    assert receiver.messages[1]["alert"] == resolved
    folder = tmp_path / "exp"
    assert json.loads((folder / "experiment_metadata.json").read_text())["alerts"] == [firing, resolved]
    logged = [json.loads(line) for line in (folder / "events.ndjson").read_text().splitlines()]
    kinds = [(e["event_type"], e["data"].get("state")) for e in logged if e["event_type"] in ("alert", "benchmark_completed")]
    assert kinds == [("alert", "firing"), ("alert", "resolved"), ("benchmark_completed", None)]
