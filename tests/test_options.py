"""`benchmark` options parsed once, for the CLI and for wsgi.py's GENAI_BENCH_BENCHMARK."""

import math
import re

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genai_bench.config import ConfigError
from genai_bench.options import benchmark_options, build_config, parse_benchmark_args
from genai_bench.scenarios import ScenarioError


def test_arguments_become_a_config_that_records_them_as_given():
    config = parse_benchmark_args(["--num-concurrency", "1,4", "--traffic-scenario", "D(10,5)", "--api-key", "sk-x"])
    assert config.concurrencies == [1, 4]
    assert [s.text for s in config.traffic_scenarios] == ["D(10,5)"]
    # The metadata's command is the benchmark's, whatever process parsed it, with the key hidden.
    assert config.redacted_command() == ["genai-bench", "benchmark", "--num-concurrency", "1,4",
                                         "--traffic-scenario", "D(10,5)", "--api-key", "***"]


def test_bad_arguments_are_refused_with_the_option_named():
    with pytest.raises(ConfigError, match="--num-concurrency"):
        parse_benchmark_args(["--num-concurrency", "0"])
    with pytest.raises(click.UsageError):
        parse_benchmark_args(["--no-such-option"])


# The bad inputs that the options alone must refuse, each with the line the user gets.
REFUSED = [
    (["--traffic-scenario", "D(1000000000000,1)"], "token counts must be at most 1,000,000"),
    (["--max-time-per-run", "inf"], "--max-time-per-run must be at most 10080 minutes"),
    (["--max-time-per-run", "nan"], "--max-time-per-run must be positive"),
    (["--api-base", "http://127.0.0.1:99999"], "--api-base 'http://127.0.0.1:99999': port out of range 0-65535"),
    (["--seed", "-1"], "--seed must be an integer from 0 to 9223372036854775807"),
    (["--seed", "1180591620717411303424"], "--seed must be an integer from 0"),
    (["--num-concurrency", "100000000000000000000"], "--num-concurrency 100000000000000000000 needs about"),
    (["--num-concurrency", "1000000", "--max-requests-per-run", "2"], "--num-concurrency 1000000 needs about 2000064 open files"),
    (["--spawn-rate", "inf"], "--spawn-rate must be a positive number"),
    (["--experiment-folder-name", "../../escaped"], "--experiment-folder-name '../../escaped' must not contain path separators"),
    (["--experiment-folder-name", "/tmp/abs"], "must not be an absolute path"),
    (["--request-timeout", "inf"], "--request-timeout must be positive and at most 86400 seconds"),
    (["--request-rate", "inf"], "--request-rate must be positive and finite"),
    (["--additional-request-params", '{"max_tokens": NaN}'], "NaN is not a JSON number"),
    (["--additional-request-params", '{"max_tokens": 1e400}'], "too large for a JSON number"),
    (["--additional-request-params", '{"max_tokens": 100000000000000000000}'], "not valid JSON"),
    (["--additional-request-params", "[" * 100_000], "not valid JSON"),
    (["--server-gpu-count", "-1"], "--server-gpu-count"),
]


@pytest.mark.parametrize("args, message", REFUSED)
def test_bad_values_are_refused_in_one_line_naming_the_problem(args, message):
    with pytest.raises((ConfigError, ScenarioError)) as info:
        parse_benchmark_args(args)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_without_model_the_label_follows_the_model_sent():
    assert parse_benchmark_args([]).model_label == "genai-bench-sim"
    assert parse_benchmark_args(["--api-model-name", "ref-model"]).model_label == "ref-model"
    assert parse_benchmark_args(["--model", "mine", "--api-model-name", "ref-model"]).model_label == "mine"


def default_options() -> dict:
    """The `benchmark` options as click parses an empty command line."""
    return click.command("benchmark")(benchmark_options(lambda **_: None)).make_context("benchmark", []).params


huge = st.integers(min_value=-(2**80), max_value=2**80)
any_float = st.floats(allow_nan=True, allow_infinity=True)
INT_OPTIONS = ("max_requests_per_run", "max_concurrency", "num_workers", "master_port", "seed", "server_gpu_count",
               "streaming_port")
FLOAT_OPTIONS = ("max_time_per_run", "warmup_ratio", "cooldown_ratio", "spawn_rate", "request_timeout")
LIST_OPTIONS = ("num_concurrency", "request_rate")


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional={
    **{name: st.one_of(huge, any_float) for name in INT_OPTIONS},
    **{name: any_float for name in FLOAT_OPTIONS},
    **{name: st.lists(st.one_of(huge, any_float).map(str), min_size=1, max_size=3).map(tuple) for name in LIST_OPTIONS},
}))
def test_numeric_options_give_a_config_or_a_config_error_never_anything_else(values):
    options = {**default_options(), **values}
    try:
        config = build_config(options, ["genai-bench", "benchmark"])
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    # What is accepted can be used: finite limits, JSON-safe integers, ports a socket can have.
    assert 0 < config.max_time_seconds < math.inf and 0 < config.request_timeout < math.inf
    assert config.seed is None or 0 <= config.seed < 2**63
    assert 0 <= config.streaming_port <= 65535 and 0 <= config.master_port <= 65535
    assert all(0 < rate < math.inf for rate in config.request_rates)
    assert config.spawn_rate is None or 0 < config.spawn_rate < math.inf


def test_slo_targets_are_seconds_by_metric_repeatable_or_comma_separated():
    config = parse_benchmark_args(["--slo", "ttft=200ms,e2e=5s", "--slo", "tpot=0.05s", "--slo", "ITL=1e2ms",
                                   "--slo", "ttft_answer = 1.5 s"])
    assert config.slo == {"ttft": 0.2, "e2e_latency": 5.0, "tpot": 0.05, "itl": 0.1, "ttft_answer": 1.5}
    assert parse_benchmark_args([]).slo == {}


@pytest.mark.parametrize(("value", "message"), [
    ("ttft=200", "give METRIC=VALUE with a unit"),
    ("ttft<200ms", "give METRIC=VALUE with a unit"),
    ("latency=1s", "metrics: ttft, tpot, e2e, itl, ttft_answer; units: ms, s"),
    ("ttft=200us", "units: ms, s"),
    ("ttft=-1s", "give METRIC=VALUE"),
    ("ttft=0ms", "the target must be a positive duration"),
    ("ttft=1e999s", "the target must be a positive duration"),
    ("ttft=1ms,ttft=2ms", "--slo names ttft twice"),
    ("e2e=1s,e2e_latency=2s", "--slo names e2e_latency twice"),
])
def test_bad_slos_are_one_line_errors_naming_the_form(value, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        parse_benchmark_args(["--slo", value])
    assert "\n" not in str(raised.value) and str(raised.value).startswith("--slo")
