"""The composition root against a real simulator: the model a run is labelled with, the URL it shows, its folder."""

import json

import pytest

from genai_bench.config import BenchmarkConfig, ConfigError
from genai_bench.scenarios import parse_scenario
from genai_bench.session import BenchmarkSession


def tiny(tmp_path, **fields) -> BenchmarkConfig:
    settings = dict(traffic_scenarios=[parse_scenario("D(5,3)")], concurrencies=[1], max_requests_per_run=2,
                    experiment_base_dir=str(tmp_path))
    return BenchmarkConfig(**{**settings, **fields})


def test_against_a_server_without_model_the_run_is_labelled_with_the_model_it_lists(tmp_path, start_simulator):
    server = start_simulator(model="ref-model", ttft_ms=1.0, itl_ms=0.0)
    session = BenchmarkSession(tiny(tmp_path, api_base=server.url))
    try:
        assert session.config.sent_model == "ref-model"
        assert session.folder.name.startswith("openai_text-to-text_ref-model_")
        assert session.publisher.context["model"] == "ref-model"
        session.run(handle_signals=False)
    finally:
        session.close()
    metadata = json.loads((session.folder / "experiment_metadata.json").read_text())
    assert (metadata["model"], metadata["api_model_name"]) == ("ref-model", "ref-model")


def test_api_model_name_labels_the_run_when_model_is_absent(tmp_path, start_simulator):
    server = start_simulator(model="ref-model")
    session = BenchmarkSession(tiny(tmp_path, api_base=server.url, api_model_name="other-model"))
    assert session.folder.name.startswith("openai_text-to-text_other-model_")
    assert session.publisher.context["model"] == "other-model"


def test_credentials_in_api_base_are_shown_nowhere(tmp_path, start_simulator):
    server = start_simulator(ttft_ms=1.0, itl_ms=0.0)
    api_base = f"http://user:hunter2@127.0.0.1:{server.port}/v1?api_key=s3cret"
    command = ["genai-bench", "benchmark", "--api-base", api_base]
    session = BenchmarkSession(tiny(tmp_path, api_base=api_base, experiment_folder_name="exp", command=command))
    try:
        outcome = session.run(handle_signals=False)
    finally:
        session.close()
    assert outcome.results[0].statistics.num_completed_requests == 2  # the real URL still reached the server
    shown = f"http://***@127.0.0.1:{server.port}/v1?api_key=***"
    metadata = json.loads((tmp_path / "exp" / "experiment_metadata.json").read_text())
    assert metadata["api_base"] == shown and metadata["cmd"].endswith(shown)
    assert session.publisher.context["api_base"] == shown
    written = "".join(p.read_text() for p in (tmp_path / "exp").iterdir())
    assert "hunter2" not in written and "s3cret" not in written
    statuses = [json.loads(line)["data"] for line in (tmp_path / "exp" / "events.ndjson").read_text().splitlines()
                if json.loads(line)["event_type"] == "status"]
    assert statuses and all(s["api_base"] == shown for s in statuses)


def test_an_unreachable_server_is_named_without_its_credentials(tmp_path):
    with pytest.raises(ConfigError, match=r"--api-base http://\*\*\*@127\.0\.0\.1:1\?token=\*\*\* is unreachable"):
        BenchmarkSession(tiny(tmp_path, api_base="http://u:pw@127.0.0.1:1?token=t"))


def test_an_unwritable_base_directory_is_refused_before_anything_runs(tmp_path):
    session = BenchmarkSession(tiny(tmp_path, experiment_base_dir="/proc/nope"))
    try:
        with pytest.raises(ConfigError, match="--experiment-base-dir /proc/nope: cannot create"):
            session.start()
    finally:
        session.close()
