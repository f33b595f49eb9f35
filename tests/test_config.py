"""BenchmarkConfig's checks and the helpers every layer uses to show a URL or refuse a name."""

import resource

import pytest

from genai_bench.config import FD_HEADROOM, BenchmarkConfig, ConfigError, api_base_problem, folder_name_problem
from genai_bench.scenarios import parse_scenario


def test_redacted_command_hides_keys_tokens_and_api_base_credentials():
    command = ["genai-bench", "benchmark", "--api-base", "http://u:pw@h:1/?token=t", "--api-key", "sk-1",
               "--api-base=http://u:pw@h:1", "--streaming-token=st", "--model", "m"]
    shown = " ".join(BenchmarkConfig(command=command).redacted_command())
    assert shown == ("genai-bench benchmark --api-base http://***@h:1/?token=*** --api-key *** "
                     "--api-base=http://***@h:1 --streaming-token=*** --model m")


@pytest.mark.parametrize("url, problem", [
    ("http://127.0.0.1:99999", "port out of range"),
    ("localhost:8000", "scheme must be http or https"),
    ("http://:8000", "no host name"),
    ("http://host:0", "port 0"),
])
def test_unusable_api_bases_are_named(url, problem):
    assert problem in api_base_problem(url)
    with pytest.raises(ConfigError, match="--api-base"):
        BenchmarkConfig(api_base=url, traffic_scenarios=[parse_scenario("D(1,1)")]).validate()


@pytest.mark.parametrize("name", ["..", ".", "", "../../escaped", "a/b", "/abs", "a\\b", "C:x"])
def test_folder_names_that_leave_the_base_directory_are_refused(name):
    assert folder_name_problem(name) is not None


def test_a_plain_folder_name_is_kept():
    assert folder_name_problem("exp-1_2026.05") is None


def valid(**fields) -> BenchmarkConfig:
    return BenchmarkConfig(traffic_scenarios=[parse_scenario("D(1,1)")], **fields).validate()


def test_users_beyond_the_open_file_limit_are_refused_with_what_to_do():
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    # Against a server: one descriptor per user; the embedded simulator holds the other end as well.
    valid(api_base="http://h:1", concurrencies=[soft - FD_HEADROOM])
    users = soft - FD_HEADROOM
    with pytest.raises(ConfigError, match=rf"--num-concurrency {users} needs about {2 * users + FD_HEADROOM} open files"):
        valid(concurrencies=[users])
    with pytest.raises(ConfigError, match="--max-concurrency"):
        valid(api_base="http://h:1", request_rates=[1.0], max_concurrency=soft)
    # Worker processes each hold their share of the users.
    valid(api_base="http://h:1", concurrencies=[2 * (soft - FD_HEADROOM)], num_workers=2)


def test_the_label_is_the_model_sent_unless_model_is_given():
    assert valid().model_label == "genai-bench-sim"
    assert valid(api_model_name="ref-model").model_label == "ref-model"
    assert valid(model="label", api_model_name="ref-model").model_label == "label"
    assert valid(model="label").sent_model == "label"


def test_scenarios_longer_than_most_contexts_are_warned_about():
    assert valid().warnings() == []
    config = BenchmarkConfig(traffic_scenarios=[parse_scenario("D(100,100)"), parse_scenario("D(200000,100)")])
    assert [w.split(" asks")[0] for w in config.validate().warnings()] == ["--traffic-scenario D(200000,100)"]
