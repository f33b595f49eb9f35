"""`benchmark` options parsed once, for the CLI and for wsgi.py's GENAI_BENCH_BENCHMARK."""

import click
import pytest

from genai_bench.config import ConfigError
from genai_bench.options import parse_benchmark_args


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
