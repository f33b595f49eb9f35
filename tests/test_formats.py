"""Run-file formats: ours carries upstream genai-bench 0.0.5's keys; upstream folders (s or ms) and folders of our
earlier format are read back under today's names by the reader, `report` and `serve`."""

import csv
import io
import json

import pytest

from genai_bench.events import EventBus
from genai_bench.report import report_csv, write_report
from genai_bench.results import ExperimentLibrary, load_experiment
from genai_bench.results.formats import normalize_aggregated, run_file_aggregated
from genai_bench.web import create_app
from tests.support.upstream_folder import INPUT_TOKENS, OUTPUT_TOKENS, RUNS, write_upstream_folder

UPSTREAM_AGGREGATED_KEYS = {
    "scenario", "num_concurrency", "batch_size", "iteration_type", "run_duration",
    "mean_output_throughput_tokens_per_s", "mean_input_throughput_tokens_per_s",
    "mean_total_tokens_throughput_tokens_per_s", "requests_per_second", "error_codes_frequency", "error_rate",
    "num_error_requests", "num_completed_requests", "num_requests", "stats"}
UPSTREAM_METADATA_KEYS = {
    "cmd", "benchmark_version", "api_backend", "api_model_name", "server_model_tokenizer", "model", "task",
    "num_concurrency", "batch_size", "iteration_type", "traffic_scenario", "additional_request_params",
    "server_engine", "server_version", "server_gpu_type", "server_gpu_count", "max_time_per_run_s",
    "max_requests_per_run", "experiment_folder_name", "metrics_time_unit"}
UPSTREAM_REQUEST_KEYS = {"ttft", "tpot", "e2e_latency", "output_latency", "output_inference_speed", "num_input_tokens",
                         "num_output_tokens", "num_reasoning_tokens", "total_tokens", "input_throughput",
                         "output_throughput", "error_code", "error_message"}


def test_our_run_files_and_metadata_carry_upstreams_keys(finished_experiment):
    metadata = json.loads((finished_experiment / "experiment_metadata.json").read_text())
    assert UPSTREAM_METADATA_KEYS <= set(metadata)
    assert metadata["experiment_folder_name"] == finished_experiment.name and metadata["max_time_per_run_s"] == 60
    for path in finished_experiment.glob("*_num_concurrency_*.json"):
        document = json.loads(path.read_text())
        aggregated = document["aggregated_metrics"]
        assert UPSTREAM_AGGREGATED_KEYS <= set(aggregated)
        assert aggregated["iteration_type"] == "num_concurrency" and aggregated["batch_size"] == 1
        assert not {"concurrency", "num_completed", "num_errors", "output_tokens_per_second"} & set(aggregated)
        stats = aggregated["stats"]
        assert all(isinstance(described, dict) for described in stats.values())  # upstream refuses nulls
        requests = document["individual_request_metrics"]
        assert stats["num_output_tokens"]["sum"] == sum(r["num_output_tokens"] for r in requests if not r["error_code"])
        assert aggregated["mean_output_throughput_tokens_per_s"] == pytest.approx(
            stats["num_output_tokens"]["sum"] / aggregated["run_duration"])
        assert stats["total_tokens"]["sum"] == stats["num_input_tokens"]["sum"] + stats["num_output_tokens"]["sum"]
        assert all(UPSTREAM_REQUEST_KEYS <= set(r) for r in requests)
        assert all(r["total_tokens"] == r["num_input_tokens"] + r["num_output_tokens"] for r in requests)


@pytest.mark.parametrize("time_unit", ["s", "ms"])
def test_upstream_folder_reads_with_its_counts_and_throughputs(tmp_path, time_unit):
    experiment = load_experiment(write_upstream_folder(tmp_path / f"upstream_{time_unit}", time_unit))
    assert [run.concurrency for run in experiment.runs] == [1, 2]
    assert experiment.partial_reasons == []
    for run in experiment.runs:
        completed, errors, duration, ttft = RUNS[run.concurrency]
        agg = run.aggregated
        assert (agg["num_completed_requests"], agg["num_error_requests"]) == (completed, sum(errors.values()))
        assert agg["mean_output_throughput_tokens_per_s"] == pytest.approx(completed * OUTPUT_TOKENS / duration)
        assert agg["mean_input_throughput_tokens_per_s"] == pytest.approx(completed * INPUT_TOKENS / duration)
        assert agg["stats"]["ttft"]["p50"] == pytest.approx(ttft)  # seconds whatever the file's unit
        assert agg["stats"]["audio_throughput"] is None  # upstream's all-null stats: no data
        assert run.batch_size is None  # upstream writes 1 for runs that do not batch
        assert agg["error_kinds_frequency"] == errors
    assert experiment.summary()["num_concurrency"] == [1, 2]


@pytest.mark.parametrize("time_unit", ["s", "ms"])
def test_report_csv_of_an_upstream_folder(tmp_path, time_unit):
    experiment = load_experiment(write_upstream_folder(tmp_path / "up", time_unit))
    rows = list(csv.DictReader(io.StringIO(report_csv([experiment]))))
    assert [row["num_concurrency"] for row in rows] == ["1", "2"]
    for row in rows:
        completed, errors, duration, ttft = RUNS[int(row["num_concurrency"])]
        assert int(row["num_completed_requests"]) == completed and int(row["num_error_requests"]) == sum(errors.values())
        assert float(row["mean_output_throughput_tokens_per_s"]) == pytest.approx(completed * OUTPUT_TOKENS / duration)
        assert float(row["requests_per_second"]) == pytest.approx(completed / duration)
        assert float(row["ttft_p50_s"]) == pytest.approx(ttft)
    html = write_report(experiment, "html").read_text()
    assert "num_completed_requests" in html


@pytest.mark.parametrize("time_unit", ["s", "ms"])
def test_serve_shows_an_upstream_folder_beside_ours(tmp_path, finished_experiment, time_unit):
    upstream = write_upstream_folder(tmp_path / "upstream", time_unit)
    client = create_app(EventBus(), ExperimentLibrary([upstream, finished_experiment]), mode="serve").test_client()
    listing = client.get("/api/experiments").get_json()["experiments"]
    assert {e["id"] for e in listing} == {"upstream", finished_experiment.name}
    detail = client.get("/api/experiments/upstream").get_json()
    assert [r["concurrency"] for r in detail["runs"]] == [1, 2]
    second = detail["runs"][1]["aggregated"]
    assert second["num_completed_requests"] == 18 and second["num_error_requests"] == 2
    assert second["mean_output_throughput_tokens_per_s"] == pytest.approx(18 * OUTPUT_TOKENS / 6.0)
    drill = client.get(f"/api/experiments/upstream/runs/{detail['runs'][1]['key']}/requests").get_json()
    assert drill["total"] == 20 and drill["requests"][0]["t"] is None  # upstream's records carry no timestamps
    assert drill["requests"][0]["ttft"] == pytest.approx(0.08)


def test_a_folder_of_our_earlier_format_reads_under_todays_names(tmp_path, finished_experiment):
    folder = tmp_path / "old"
    folder.mkdir()
    metadata = json.loads((finished_experiment / "experiment_metadata.json").read_text())
    metadata["version"] = metadata.pop("benchmark_version")
    metadata["max_time_per_run"] = metadata.pop("max_time_per_run_s") / 60.0
    (folder / "experiment_metadata.json").write_text(json.dumps(metadata))
    for path in finished_experiment.glob("*_num_concurrency_*.json"):
        document = json.loads(path.read_text())
        agg = document["aggregated_metrics"]
        old = {**agg, "concurrency": agg.pop("num_concurrency"), "num_completed": agg.pop("num_completed_requests"),
               "num_errors": agg.pop("num_error_requests"),
               "output_tokens_per_second": agg.pop("mean_output_throughput_tokens_per_s"),
               "error_codes_frequency": {"timeout": 1}, "batch_size": None}
        for key in ("num_concurrency", "num_completed_requests", "num_error_requests", "iteration_type",
                    "mean_output_throughput_tokens_per_s", "error_kinds_frequency"):
            old.pop(key, None)
        (folder / path.name).write_text(json.dumps({**document, "aggregated_metrics": old}))
    new, old = load_experiment(finished_experiment), load_experiment(folder)
    assert [r.concurrency for r in old.runs] == [r.concurrency for r in new.runs] == [1, 2]
    for before, now in zip(old.runs, new.runs):
        for key in ("num_concurrency", "num_completed_requests", "num_error_requests",
                    "mean_output_throughput_tokens_per_s"):
            assert before.aggregated[key] == now.aggregated[key], key
        assert before.aggregated["error_kinds_frequency"] == {"timeout": 1}
        assert before.aggregated["error_codes_frequency"] == {"408": 1}  # upstream's status for a timeout
        assert before.batch_size is None
    assert old.metadata["benchmark_version"] == new.metadata["benchmark_version"]
    assert old.metadata["max_time_per_run_s"] == 60


def test_written_aggregated_gives_upstream_what_it_requires():
    written = run_file_aggregated({"batch_size": None, "stats": {"ttft": None, "e2e_latency": {"mean": 1.0}}})
    assert written == {"batch_size": 1, "stats": {"e2e_latency": {"mean": 1.0}}}
    back = normalize_aggregated({**written, "iteration_type": "num_concurrency"})
    assert back["batch_size"] is None and back["stats"]["ttft"] is None and back["stats"]["e2e_latency"] == {"mean": 1.0}
