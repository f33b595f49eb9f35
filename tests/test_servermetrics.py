"""The servers' /metrics: each engine's text read into one vocabulary, the scraper's sources, and the simulator's own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from genai_bench.hooks import SweepHooks
from genai_bench.servermetrics import (ExpositionError, Reader, RunServerMetrics, ServerMetrics, ServerSample,
                                       metrics_url, parse_samples, source_urls, token_mismatch)
from genai_bench.simulator.app import SimulatorApp
from genai_bench.simulator.config import SimulatorConfig

FIXTURES = Path(__file__).parent / "fixtures" / "server_metrics"


def exposition(engine: str, generation: float, prompt: float, hits: float = 0, queries: float = 0,
               preemptions: float = 0) -> str:
    """A fixture's text with its counters filled in."""
    text = (FIXTURES / f"{engine}.txt").read_text()
    for name, value in (("generation", generation), ("prompt", prompt), ("hits", hits), ("queries", queries),
                        ("preemptions", preemptions)):
        text = text.replace("{" + name + "}", f"{value:.1f}")
    return text


def two_scrapes(engine: str, include: str | None = None) -> tuple[str | None, dict, dict, dict]:
    """Read a scrape at t=10 and one 2 s later with every counter grown (tokens by 1000 and 400)."""
    reader = Reader(re.compile(include) if include else None)
    reader.read(parse_samples(exposition(engine, 5000, 2000, 100, 400, 1), reader.include), 10.0)
    return reader.read(parse_samples(exposition(engine, 6000, 2400, 400, 800, 3), reader.include), 12.0)


@pytest.mark.parametrize("engine", ["vllm", "sglang", "tgi", "llamacpp"])
def test_each_engine_reads_into_the_same_queue_and_token_rates(engine):
    name, values, totals, raw = two_scrapes(engine)
    assert name == engine
    assert (values["running"], values["waiting"]) == (12.0, 3.0)
    assert values["generation_tokens_per_second"] == pytest.approx(500.0)
    assert values["prompt_tokens_per_second"] == pytest.approx(200.0)
    assert totals["generation_tokens_per_second"] == 6000.0  # the counter's total, for a run's delta
    assert raw == {}
    if engine != "tgi":  # TGI has no KV cache gauge
        assert values["kv_cache_usage"] == pytest.approx(42.5)  # 0-1 everywhere, a percentage here


def test_vllm_prefix_cache_hit_rate_and_preemptions_come_from_counter_deltas():
    _, values, _, _ = two_scrapes("vllm")
    assert values["prefix_cache_hit_rate"] == pytest.approx(75.0)  # 300 hits of 400 queried tokens
    assert values["preemptions_per_second"] == pytest.approx(1.0)


def test_sglang_cache_hit_rate_is_a_gauge_in_percent():
    assert two_scrapes("sglang")[1]["prefix_cache_hit_rate"] == pytest.approx(50.0)


def test_dcgm_averages_utilization_and_adds_memory_over_gpus():
    reader = Reader()
    engine, values, _, _ = reader.read(parse_samples(exposition("dcgm", 0, 0)), 1.0)
    assert engine == "dcgm"
    assert values == {"gpu_utilization": 80.0, "gpu_memory_used": 130000.0}


def test_rates_wait_for_a_second_scrape_and_a_counter_reset_gives_none():
    reader = Reader()
    assert reader.read(parse_samples(exposition("vllm", 100, 10)), 1.0)[1]["generation_tokens_per_second"] is None
    assert reader.read(parse_samples(exposition("vllm", 50, 10)), 2.0)[1]["generation_tokens_per_second"] is None


def test_unknown_metrics_are_kept_raw_only_when_included():
    assert two_scrapes("vllm", include=r"spec_decode")[3] == {"vllm:spec_decode_num_accepted_tokens_total": 77.0}


@pytest.mark.parametrize("text", ["<html><body>Not found</body></html>", "", "some_other_app_metric 1\n"])
def test_text_without_known_metrics_is_refused(text):
    with pytest.raises(ExpositionError):
        parse_samples(text)


def test_broken_exposition_text_is_refused():
    with pytest.raises(ExpositionError):
        parse_samples('vllm:num_requests_running{model_name="m" 3\n')


def test_auto_is_the_targets_metrics_and_bare_urls_get_metrics():
    assert metrics_url("http://h:8000/v1") == "http://h:8000/metrics"
    assert metrics_url("http://h:8000/") == "http://h:8000/metrics"
    assert metrics_url("http://h/prefix/v1/") == "http://h/prefix/metrics"
    assert source_urls(("auto", "http://gpu:9400"), "http://h:8000") == ["http://h:8000/metrics", "http://gpu:9400/metrics"]
    assert source_urls(("http://gpu:9400/custom",), "http://h") == ["http://gpu:9400/custom"]
    assert source_urls(("off",), "http://h") == []


def sample(t: float, generated: float, **values) -> ServerSample:
    return ServerSample(t=t, sources=({"url": "u"},), values=values, raw={},
                        totals={"generation_tokens_per_second": generated})


def test_a_runs_summary_and_token_cross_check():
    run = RunServerMetrics(start_time=100.0)
    run.add(sample(100.0, 1000, running=0.0, waiting=0.0, kv_cache_usage=0.0))
    run.add(sample(101.0, 1500, running=4.0, waiting=2.0, kv_cache_usage=30.0, generation_tokens_per_second=500.0))
    run.add(sample(102.0, 2000, running=2.0, waiting=0.0, kv_cache_usage=10.0, generation_tokens_per_second=500.0))
    summary = run.summary(client_output_tokens=1000)
    assert summary["running_max"] == 4.0 and summary["running_mean"] == pytest.approx(2.0)
    assert (summary["waiting_max"], summary["kv_cache_usage_max"]) == (2.0, 30.0)
    assert summary["generation_tokens_per_second_mean"] == 500.0
    assert (summary["generated_tokens"], summary["token_difference"]) == (1000.0, 0.0)
    assert not token_mismatch(summary)
    assert token_mismatch(run.summary(client_output_tokens=900))
    assert run.series()["t"] == [0.0, 1.0, 2.0] and run.series()["running"] == [0.0, 4.0, 2.0]


def scrape_app(app: SimulatorApp) -> str:
    """GET /metrics from the app, as a scraper would."""
    statuses = []
    body = app({"PATH_INFO": "/metrics", "REQUEST_METHOD": "GET"}, lambda status, headers: statuses.append(status))
    assert statuses == ["200 OK"]
    return b"".join(body).decode()


def test_the_simulators_metrics_are_vllms_and_read_from_its_state():
    app = SimulatorApp(SimulatorConfig(model="sim", kv_cache_tokens=1000))
    from genai_bench.simulator.responses import Plan

    plan = Plan(chat=True, model="sim", stream=True, include_usage=True, prompt=100, count_tokens=len,
                output_tokens=50, reasoning_tokens=0)
    sequence = app.state.start(plan)
    app.state.generate(sequence, 20)
    app.state.waiting = 2
    _, values, totals, _ = Reader().read(parse_samples(scrape_app(app)), 1.0)
    assert (values["running"], values["waiting"]) == (1.0, 2.0)
    assert values["kv_cache_usage"] == pytest.approx(12.0)  # 100 prompt + 20 generated of 1000
    assert totals["generation_tokens_per_second"] == 20.0
    app.state.finish(sequence, "length")
    text = scrape_app(app)
    assert 'vllm:request_success_total{finished_reason="length",model_name="sim"} 1.0' in text
    assert "vllm:prompt_tokens_total{model_name=\"sim\"} 100.0" in text


def test_an_absent_endpoint_is_dropped_with_one_log_line(start_simulator):
    hooks, lines = SweepHooks(), []
    hooks.log.add_listener(lambda message, level: lines.append((level, message)))
    server = start_simulator()
    scraper = ServerMetrics.of(("auto", "http://127.0.0.1:1/metrics"), server.url + "/nothing/v1", {}, hooks).probe()
    assert not scraper.active
    assert [level for level, _ in lines] == ["info", "warning"]  # auto quietly, a named URL as a warning
    assert scraper.scrape() is None


def test_samples_of_several_servers_add_counts_and_average_shares(start_simulator):
    hooks, fired = SweepHooks(), []
    hooks.server_metrics.add_listener(lambda sample, run_key: fired.append((sample, run_key)))
    first, second = start_simulator(kv_cache_tokens=100), start_simulator(kv_cache_tokens=100)
    first.app.state.waiting, second.app.state.waiting = 1, 2
    scraper = ServerMetrics.of(("auto", second.url), first.url, {}, hooks).probe()
    scraper.begin_run("run-1", 0.0)
    sample, run_key = fired[-1]
    assert run_key == "run-1" and len(sample.sources) == 2
    assert sample.values["waiting"] == 3.0 and sample.values["kv_cache_usage"] == 0.0
    assert [s["values"]["waiting"] for s in sample.sources] == [1.0, 2.0]
    assert scraper.end_run().samples[0] is sample


def test_the_options_parse_and_bad_values_are_one_line_errors():
    from genai_bench.config import ConfigError
    from genai_bench.options import parse_benchmark_args

    assert parse_benchmark_args([]).server_metrics == ("auto",)
    config = parse_benchmark_args(["--server-metrics", "auto,http://gpu:9400", "--server-metrics-interval", "0.5",
                                   "--server-metrics-include", "spec_decode"])
    assert (config.server_metrics, config.server_metrics_interval) == (("auto", "http://gpu:9400"), 0.5)
    for args, message in ((["--server-metrics", "off", "--server-metrics", "auto"], "give it alone"),
                          (["--server-metrics", "gpu:9400"], "takes auto, off or a URL"),
                          (["--server-metrics-interval", "0"], "--server-metrics-interval"),
                          (["--server-metrics-include", "("], "is not a regular expression")):
        with pytest.raises(ConfigError, match=message):
            parse_benchmark_args(args)
