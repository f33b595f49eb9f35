"""--distributed options: parsed into ClusterSettings, each misuse a one-line error naming the option."""

import pytest

from genai_bench.config import ConfigError
from genai_bench.options import parse_benchmark_args


@pytest.mark.parametrize("args, message", [
    (["--distributed"], "--distributed needs --expect-workers N"),
    (["--distributed", "--expect-workers", "0"], "--distributed needs --expect-workers N"),
    (["--expect-workers", "2"], "--expect-workers needs --distributed"),
    (["--master-bind-host", "0.0.0.0"], "--master-bind-host needs --distributed"),
    (["--distributed", "--expect-workers", "2", "--num-workers", "2"],
     "--num-workers starts local worker processes and --distributed waits for remote ones; give one"),
    (["--distributed", "--expect-workers", "2", "--expect-workers-max-wait", "0"],
     "--expect-workers-max-wait must be positive seconds"),
    (["--distributed", "--expect-workers", "2", "--trace", "t.jsonl"], "drop --num-workers/--distributed"),
])
def test_misused_cluster_options_are_one_line_errors(args, message):
    with pytest.raises(ConfigError) as error:
        parse_benchmark_args(args)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_distributed_waits_for_the_expected_workers_and_warns_when_open_beyond_this_host():
    config = parse_benchmark_args(["--distributed", "--expect-workers", "3", "--master-bind-host", "0.0.0.0",
                                   "--expect-workers-max-wait", "5"])
    assert config.num_workers == 3  # the workers' share of the load is split as for local ones
    assert (config.cluster.distributed, config.cluster.master_bind_host, config.cluster.expect_workers_max_wait) == \
        (True, "0.0.0.0", 5.0)
    warnings = config.cluster.warnings(config.api_base)
    assert len(warnings) == 2 and "API key" in warnings[0] and "embedded simulator" in warnings[1]
    assert config.cluster.warnings("http://10.0.0.5:8000") == warnings[:1]
    local = parse_benchmark_args(["--distributed", "--expect-workers", "1"])
    assert local.cluster.warnings(None) == [] and local.cluster.master_bind_host == "127.0.0.1"
    assert parse_benchmark_args([]).cluster.distributed is False


def test_the_distributed_doc_names_every_option_and_its_manifest_is_valid():
    """docs/distributed.md: each --distributed option is described, and the Kubernetes manifest parses into a master
    Job whose benchmark arguments are valid, its Service and a worker Deployment pointing at that Service."""
    from pathlib import Path

    from genai_bench.options import CLUSTER_OPTIONS

    yaml = pytest.importorskip("yaml")
    text = (Path(__file__).resolve().parents[1] / "docs" / "distributed.md").read_text()
    for option in CLUSTER_OPTIONS:
        flag = option(lambda: None).__click_params__[0].opts[0]
        assert f"`{flag}" in text, flag
    manifest = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    documents = {d["kind"]: d for d in yaml.safe_load_all(manifest)}
    assert set(documents) == {"Secret", "Job", "Service", "Deployment"}
    master = documents["Job"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert master[:2] == ["genai-bench", "benchmark"]
    config = parse_benchmark_args(master[2:])
    assert config.cluster.distributed and config.cluster.master_bind_host == "0.0.0.0"
    worker = documents["Deployment"]["spec"]["template"]["spec"]["containers"][0]["command"]
    service = documents["Service"]["metadata"]["name"]
    assert worker == ["genai-bench", "worker", "--master-host", service, "--master-port", str(config.master_port)]
    assert documents["Deployment"]["spec"]["replicas"] == config.cluster.expect_workers
    assert documents["Service"]["spec"]["selector"] == documents["Job"]["spec"]["template"]["metadata"]["labels"]
