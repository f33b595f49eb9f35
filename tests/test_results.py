"""Experiment folders written and read back, including what a crash leaves behind."""

import json
import os
import shutil

import pytest

from genai_bench.results import (
    ExperimentLibrary,
    ExperimentNotFound,
    load_experiment,
    read_events,
    write_json_atomic,
)
from genai_bench.live_events import run_key
from tests.support.servers import run_benchmark


def test_run_keys_are_upstream_run_file_names():
    assert run_key("D100_100", "text-to-text", 8, 60.0) == "D100_100_text-to-text_num_concurrency_8_time_60s"
    assert run_key("D100_100", "text-to-text", 256, 30.0, 2.5) == "D100_100_text-to-text_num_concurrency_256_request_rate_2.5_time_30s"


def test_atomic_write_leaves_no_temp_files(tmp_path):
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    write_json_atomic(tmp_path / "a.json", {"x": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 2}


def test_finished_experiment_reads_back_complete(finished_experiment):
    experiment = load_experiment(finished_experiment)
    assert experiment.partial_reasons == []
    assert [(r.scenario, r.concurrency) for r in experiment.runs] == [("D(20,10)", 1), ("D(20,10)", 2)]
    summary = experiment.summary()
    assert summary["run_count"] == 2 and summary["has_events"] and not summary["partial"]
    drill = experiment.runs[0].requests()
    assert drill["total"] == 6 and len(drill["requests"]) == 6 and drill["requests"][0]["t"] == 0.0
    assert sum(drill["histograms"]["ttft"]["counts"]) == 6


def test_crashed_experiment_loads_as_partial_with_reasons(finished_experiment, tmp_path):
    folder = shutil.copytree(finished_experiment, tmp_path / "crashed")
    events = (folder / "events.ndjson").read_text()
    (folder / "events.ndjson").write_text(events[: len(events) - 40])  # cut mid-line, as kill -9 would
    next(folder.glob("*_num_concurrency_2_*.json")).unlink()
    experiment = load_experiment(folder)
    assert experiment.summary()["partial"]
    assert any("events.ndjson" in reason for reason in experiment.partial_reasons)
    assert any("missing" in reason for reason in experiment.partial_reasons)
    assert [r.concurrency for r in experiment.runs] == [1]
    stored, bad = read_events(folder / "events.ndjson")
    assert bad == 1 and stored and stored[0]["id"] == 1


def test_runs_written_in_ms_are_read_back_in_seconds(tmp_path):
    folder = run_benchmark(tmp_path, metrics_time_unit="ms", concurrencies=(1,))
    run = json.loads(next(folder.glob("D20_10_*.json")).read_text())
    assert run["_time_unit"] == "ms"
    in_ms = run["aggregated_metrics"]["stats"]["ttft"]["p50"]
    experiment = load_experiment(folder)
    assert experiment.runs[0].aggregated["stats"]["ttft"]["p50"] == pytest.approx(in_ms / 1000)
    assert experiment.runs[0].requests()["requests"][0]["ttft"] < 1.0


def test_not_an_experiment(tmp_path):
    with pytest.raises(ExperimentNotFound):
        load_experiment(tmp_path)
    with pytest.raises(ExperimentNotFound):
        load_experiment(tmp_path / "absent")


def test_library_ids_are_unique_and_history_tags_experiments(finished_experiment, tmp_path):
    twin = shutil.copytree(finished_experiment, tmp_path / "other" / finished_experiment.name)
    library = ExperimentLibrary([finished_experiment, twin])
    ids = sorted(e.id for e in library.experiments())
    assert ids == [finished_experiment.name, finished_experiment.name + "-2"]
    runs = library.historical_runs()
    assert len(runs) == 4 and {r["experiment"] for r in runs} == set(ids)
    with pytest.raises(ExperimentNotFound):
        library.get("nope")


def test_symbolic_links_in_a_folder_are_never_followed(finished_experiment, tmp_path):
    folder = shutil.copytree(finished_experiment, tmp_path / "served")
    secret = tmp_path / "outside"
    secret.mkdir()
    run_file = next(folder.glob("*_num_concurrency_2_*.json"))
    document = json.loads(run_file.read_text())
    document["aggregated_metrics"]["concurrency"] = 99  # what a followed link would show
    (secret / "run.json").write_text(json.dumps(document))
    shutil.move(folder / "events.ndjson", secret / "events.ndjson")
    run_file.unlink()
    run_file.symlink_to(secret / "run.json")
    (folder / "events.ndjson").symlink_to(secret / "events.ndjson")
    (folder / "D1_1_text-to-text_num_concurrency_7_time_1s.json").symlink_to(secret / "missing.json")  # dangling

    experiment = load_experiment(folder)
    assert [r.concurrency for r in experiment.runs] == [1]
    assert f"{run_file.name} is a symbolic link (not read)" in experiment.partial_reasons
    assert "D1_1_text-to-text_num_concurrency_7_time_1s.json is a symbolic link (not read)" in experiment.partial_reasons
    assert experiment.summary()["has_events"] is False
    assert read_events(folder / "events.ndjson") == ([], 0)


def test_a_fifo_in_a_folder_is_not_read(finished_experiment, tmp_path):
    folder = shutil.copytree(finished_experiment, tmp_path / "served")
    run_file = next(folder.glob("*_num_concurrency_2_*.json"))
    run_file.unlink()
    os.mkfifo(run_file)  # reading it would block the server forever
    experiment = load_experiment(folder)
    assert [r.concurrency for r in experiment.runs] == [1]
    assert f"{run_file.name} is not a regular file (not read)" in experiment.partial_reasons
