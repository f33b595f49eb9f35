"""The results database on SQLite, end to end: a benchmark's runs land as they finish, `serve --results-db` lists,
filters and compares them through the results API, `db import` is idempotent, nothing secret is written, and a
database that fails mid-run costs one log line and nothing else."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from genai_bench.cli import main
from genai_bench.config import ConfigError
from genai_bench.database import ResultsStore, database_url, scrub
from genai_bench.database.library import DatabaseLibrary
from genai_bench.database.settings import ResultsDbSettings
from genai_bench.events import EventBus
from genai_bench.results import ExperimentFilter, load_experiment
from genai_bench.web import create_app
from tests.support.servers import run_benchmark

SECRET_KEY = "sk-very-secret-4242"
SECRET_PASSWORD = "hunter2pw"


def run_files(folder: Path) -> dict[str, dict]:
    """The run files of a folder by run key."""
    return {p.stem: orjson.loads(p.read_bytes()) for p in folder.glob("*_num_concurrency_*.json")}


def check_database_matches(url: str, folder: Path, experiments: int = 1) -> DatabaseLibrary:
    """The database holds the folder's experiment and runs, with the same figures."""
    library = DatabaseLibrary(ResultsStore.connect(url))
    listed = library.experiments()
    assert len(listed) == experiments
    stored = library.get(next(e.id for e in listed if e.folder.name == folder.name))
    from_folder = load_experiment(folder)
    assert [r.key for r in stored.runs] == [r.key for r in from_folder.runs]
    for mine, theirs in zip(stored.runs, from_folder.runs):
        assert mine.aggregated == theirs.aggregated
        assert mine.requests()["total"] == theirs.requests()["total"]
    return library


def api_client(library: DatabaseLibrary):
    """Flask's test client on the serve app over a database library (the endpoints of docs/results-api.md)."""
    return create_app(EventBus(), library, mode="serve").test_client()


def assert_serves_and_compares(library: DatabaseLibrary, folders: dict[str, Path]) -> None:
    """List, filter, open, compare and drill into the experiments through the API, as the results view does."""
    client = api_client(library)
    listed = client.get("/api/experiments").get_json()["experiments"]
    assert {e["name"] for e in listed} == set(folders)
    assert all(e["source"] == "database" and e["run_count"] == 2 for e in listed)
    vllm = client.get("/api/experiments?engine=VLLM").get_json()["experiments"]
    assert [e["server_engine"] for e in vllm] == ["vllm"]
    assert client.get("/api/experiments?gpu=H100&version=0.6").get_json()["experiments"][0]["server_gpu_type"] == "H100"
    assert client.get("/api/experiments?scenario=D(20,10)").get_json()["experiments"] == listed
    assert client.get("/api/experiments?scenario=D(1,1)").get_json()["experiments"] == []
    assert client.get("/api/experiments?since=2000-01-01&until=2999-12-31").get_json()["experiments"] == listed
    assert client.get("/api/experiments?until=2000-01-01").get_json()["experiments"] == []
    bad = client.get("/api/experiments?since=soon")
    assert bad.status_code == 400 and "since" in bad.get_json()["error"]["message"]
    # Comparing: the page opens each ticked experiment and draws their runs together.
    for summary in listed:
        detail = client.get(f"/api/experiments/{summary['id']}").get_json()
        assert len(detail["runs"]) == 2 and detail["intervals"]
        files = run_files(folders[summary["name"]])
        for run in detail["runs"]:
            drill = client.get(f"/api/experiments/{summary['id']}/runs/{run['key']}/requests").get_json()
            assert drill["total"] == len(files[run["key"]]["individual_request_metrics"])
            assert len(drill["requests"]) == drill["total"] and drill["histograms"]["ttft"]["counts"]
    assert len(client.get("/api/historical-data").get_json()["runs"]) == 4
    report = client.get(f"/api/experiments/{listed[0]['id']}/report.csv")
    assert report.status_code == 200 and report.data.decode().count("\n") == 3
    assert client.get("/api/experiments/nope").status_code == 404


def test_benchmark_runs_land_in_sqlite_and_serve_lists_filters_and_compares_them(tmp_path):
    url = f"sqlite:///{tmp_path}/results.db"
    folders = {
        "a": run_benchmark(tmp_path, "a", results_db=url, server_engine="vllm", server_version="0.6",
                           server_gpu_type="H100"),
        "b": run_benchmark(tmp_path, "b", results_db=str(tmp_path / "results.db"), server_engine="sglang",
                           server_gpu_type="A100"),  # a bare path is the same SQLite file
    }
    library = check_database_matches(url, folders["a"], experiments=2)
    assert_serves_and_compares(library, folders)
    stored = library.get(library.select(ExperimentFilter(engine="vllm"))[0].id)
    assert stored.summary()["end_time"] is not None and not stored.summary()["partial"]
    # The columns people sort and query by are filled from the run files (whichever key names they use).
    row = library.store.run_rows(library.store.experiment_row(stored.id)["id"])[0]
    assert row["num_requests"] == row["num_completed"] == 6 and row["num_errors"] == 0 and row["error_rate"] == 0
    assert row["output_tokens_per_second"] > 0 and row["requests_per_second"] > 0
    assert 0 < row["ttft_p50"] <= row["ttft_p99"] and row["e2e_latency_p99"] > 0


def test_importing_a_folder_twice_gives_no_duplicates(tmp_path, finished_experiment):
    url = f"sqlite:///{tmp_path}/imported.db"
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(main, ["db", "import", "--results-db", url, "--experiment-folder",
                                      str(finished_experiment), "--results-db-requests", "all"])
        assert result.exit_code == 0, result.output
        assert f"Imported {finished_experiment}" in result.output
    counts = table_counts(tmp_path / "imported.db")
    records = sum(len(d["individual_request_metrics"]) for d in run_files(finished_experiment).values())
    assert counts == {"experiments": 1, "runs": 2, "requests": records}
    check_database_matches(url, finished_experiment)


def test_a_live_run_then_its_import_is_one_experiment(tmp_path):
    url = f"sqlite:///{tmp_path}/r.db"
    folder = run_benchmark(tmp_path, "live", results_db=url, results_db_requests="none")
    assert table_counts(tmp_path / "r.db") == {"experiments": 1, "runs": 2, "requests": 0}
    result = CliRunner().invoke(main, ["db", "import", "--results-db", url, "--experiment-folder", str(folder)])
    assert result.exit_code == 0, result.output
    assert table_counts(tmp_path / "r.db")["experiments"] == 1
    assert table_counts(tmp_path / "r.db")["requests"] == 12  # the default: a sample (all of these few)


def table_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {t: db.execute(f"select count(*) from {t}").fetchone()[0] for t in ("experiments", "runs", "requests")}


def test_nothing_secret_is_written(tmp_path):
    db_url = f"sqlite:///{tmp_path}/s.db"
    command = ["genai-bench", "benchmark", "--api-key", SECRET_KEY, "--results-db", db_url,
               "--streaming-token=" + SECRET_KEY, "--server-metrics", f"http://u:{SECRET_PASSWORD}@127.0.0.1:1/m"]
    folder = run_benchmark(tmp_path, "s", results_db=db_url, api_key=SECRET_KEY, command=command,
                           results_db_requests="all")
    dump = "\n".join(sqlite3.connect(tmp_path / "s.db").iterdump())
    assert "D(20,10)" in dump and folder.name in dump  # the dump is the real content
    assert SECRET_KEY not in dump and SECRET_PASSWORD not in dump
    metadata = (folder / "experiment_metadata.json").read_text()
    assert SECRET_KEY not in metadata, metadata
    assert SECRET_PASSWORD not in metadata, metadata


def test_scrub_hides_credentials_in_foreign_metadata():
    metadata = {"cmd": f"genai-bench benchmark --api-key {SECRET_KEY} --api-base https://me:{SECRET_PASSWORD}@x/v1",
                "auth_config": {"api_key": SECRET_KEY}, "api_key": SECRET_KEY, "max_tokens": 5,
                "headers": ["Authorization: Bearer " + SECRET_KEY], "model_tokenizer": "tok"}
    text = orjson.dumps(scrub(metadata)).decode()
    assert SECRET_KEY not in text and SECRET_PASSWORD not in text
    assert scrub(metadata)["max_tokens"] == 5 and scrub(metadata)["model_tokenizer"] == "tok"


def test_a_database_failing_mid_run_costs_one_log_line_and_nothing_else(tmp_path):
    from genai_bench.config import BenchmarkConfig
    from genai_bench.scenarios import parse_scenario
    from genai_bench.session import BenchmarkSession
    from genai_bench.simulator import SimulatorConfig, SimulatorServer

    place = tmp_path / "db-place"
    place.mkdir()
    with SimulatorServer(SimulatorConfig(ttft_ms=2.0, itl_ms=0.5, seed=1)).start() as server:
        session = BenchmarkSession(BenchmarkConfig(
            api_base=server.url, traffic_scenarios=[parse_scenario("D(20,10)")], concurrencies=[1, 2, 4],
            max_requests_per_run=6, experiment_base_dir=str(tmp_path), experiment_folder_name="down",
            results_db=str(place / "r.db")))
        lines = []
        session.hooks.log.add_listener(lambda message, level: lines.append((level, message)))
        # After the start, the database's place becomes unwritable: its file is a directory, where nothing opens.
        session.hooks.run_started.add_listener(lambda **_: (place / "r.db").mkdir(exist_ok=True))
        outcome = session.run(handle_signals=False)
        session.close()
    assert len(outcome.results) == 3 and not outcome.interrupted and not session.failed
    assert len(run_files(outcome.folder)) == 3
    assert not load_experiment(outcome.folder).partial_reasons
    about_db = [line for line in lines if "results database" in line[1]]
    assert len(about_db) == 1, lines
    assert about_db[0][0] == "warning" and "db import --experiment-folder" in about_db[0][1]


def test_database_url_forms_and_one_line_errors(tmp_path):
    assert database_url(str(tmp_path / "x.db")) == f"sqlite:///{tmp_path}/x.db"
    assert database_url("sqlite:///rel.db") == "sqlite:///rel.db"
    assert database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("postgresql://u@h:5/db") == "postgresql+psycopg://u@h:5/db"
    with pytest.raises(ConfigError, match="unknown database 'mysql'"):
        database_url(f"mysql://u:{SECRET_PASSWORD}@h/db")
    with pytest.raises(ConfigError) as error:
        database_url(f"mysql://u:{SECRET_PASSWORD}@h/db")
    assert SECRET_PASSWORD not in str(error.value)
    with pytest.raises(ConfigError, match="--results-db-requests"):
        ResultsDbSettings("x.db", "some").validate()


def test_a_missing_db_extra_is_named_in_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    with pytest.raises(ConfigError, match=r"needs the db extra \(psycopg missing\): pip install 'genai-bench\[db\]'"):
        ResultsDbSettings("postgresql://u@h/db").validate()
    ResultsDbSettings("sqlite:///x.db").validate()  # SQLite needs no psycopg


def test_report_from_the_database_with_a_filter(tmp_path, finished_experiment):
    url = f"sqlite:///{tmp_path}/r.db"
    runner = CliRunner()
    assert runner.invoke(main, ["db", "import", "--results-db", url, "--experiment-folder",
                                str(finished_experiment)]).exit_code == 0
    out = tmp_path / "report.csv"
    result = runner.invoke(main, ["report", "--results-db", url, "--format", "csv", "--output", str(out),
                                  "--scenario", "D(20,10)", "--since", "2020-01-01"])
    assert result.exit_code == 0, result.output
    assert out.read_text().count("\n") == 3
    html = tmp_path / "report.html"
    assert runner.invoke(main, ["report", "--results-db", url, "--output", str(html)]).exit_code == 0
    assert finished_experiment.name in html.read_text()


def test_migrations_build_exactly_the_schema_the_code_queries(tmp_path):
    assert_schema_matches(f"sqlite:///{tmp_path}/m.db")


def assert_schema_matches(url: str) -> None:
    """Alembic's comparison of the migrated database with schema.py finds nothing to change."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from genai_bench.database.schema import metadata

    store = ResultsStore.connect(url)
    try:
        with store.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
            assert MigrationContext.configure(connection).get_current_revision() == "0001"
    finally:
        store.close()


@pytest.fixture(scope="module")
def two_models_db(tmp_path_factory):
    """A SQLite results database with two imported experiments of different models, and their folders."""
    base = tmp_path_factory.mktemp("two-models")
    folders = {model: run_benchmark(base, model, model=model) for model in ("model-a", "model-b")}
    url = f"sqlite:///{base}/two.db"
    for folder in folders.values():
        result = CliRunner().invoke(main, ["db", "import", "--results-db", url, "--experiment-folder", str(folder)])
        assert result.exit_code == 0, result.output
    return url, folders


def sheet_rows(path: Path, title: str) -> list[dict]:
    """A worksheet's data rows as header -> value."""
    from openpyxl import load_workbook

    sheet = load_workbook(path)[title]
    header = [cell.value for cell in sheet[1]]
    return [dict(zip(header, (cell.value for cell in row))) for row in sheet.iter_rows(min_row=2)]


def test_excel_from_the_database_writes_the_filtered_experiments_runs(tmp_path, two_models_db):
    url, folders = two_models_db
    runner = CliRunner()
    out = tmp_path / "b.xlsx"
    result = runner.invoke(main, ["excel", "--results-db", url, "--model", "MODEL-B", "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = sheet_rows(out, "Summary")
    runs = {r.key: r for r in load_experiment(folders["model-b"]).runs}
    assert sorted(row["Run"] for row in rows) == sorted(runs) and len(rows) == 2
    for row in rows:
        run = runs[row["Run"]]
        assert row["Concurrency"] == run.concurrency and row["Scenario"] == run.scenario
        assert row["Requests"] == run.aggregated["num_requests"] == 6
        assert row["TTFT mean (ms)"] == pytest.approx(run.aggregated["stats"]["ttft"]["mean"] * 1000)
        assert row["E2E latency p99 (ms)"] == pytest.approx(run.aggregated["stats"]["e2e_latency"]["p99"] * 1000)
    # The same sheets as the folder's own workbook, value for value.
    from_folder = tmp_path / "folder.xlsx"
    assert runner.invoke(main, ["excel", "--experiment-folder", str(folders["model-b"]),
                                "--output", str(from_folder)]).exit_code == 0
    for title in ("Summary", "D(20,10)"):
        assert sheet_rows(out, title) == sheet_rows(from_folder, title)
    assert dict((r["Field"], r["Value"]) for r in sheet_rows(out, "Metadata"))["model"] == "model-b"


def test_excel_from_the_database_refuses_no_match_and_several_in_one_line(tmp_path, two_models_db):
    url, _ = two_models_db
    runner = CliRunner()
    out = tmp_path / "x.xlsx"
    for extra, message in ((["--model", "nope"], "no experiment matches the filter"),
                           (["--scenario", "D(20,10)"], "2 experiments match the filter"),
                           (["--since", "soon"], "--since"), ([], "give --output")):
        args = ["excel", "--results-db", url, *extra] + (["--output", str(out)] if extra else [])
        result = runner.invoke(main, args)
        assert result.exit_code != 0 and message in result.output, result.output
        assert result.output.strip().count("\n") == 0 and "Traceback" not in result.output
    assert not out.exists()
    both = runner.invoke(main, ["excel", "--results-db", url, "--experiment-folder", "x", "--output", str(out)])
    assert both.exit_code != 0 and "one of them" in both.output


def test_folders_and_a_database_are_served_together_with_unique_ids(two_models_db, finished_experiment):
    from genai_bench.database.commands import served_library

    url, folders = two_models_db
    # model-a is both a served folder and in the database: listed once, from its folder.
    client = api_client(served_library(url, [folders["model-a"], finished_experiment]))
    listed = client.get("/api/experiments").get_json()["experiments"]
    assert sorted(e["name"] for e in listed) == sorted(["model-a", "model-b", finished_experiment.name])
    assert len({e["id"] for e in listed}) == 3
    assert [e.get("source") for e in listed if e["name"] == "model-a"] == [None]  # the folder's
    assert [e["source"] for e in listed if e["name"] == "model-b"] == ["database"]
    for summary in listed:
        detail = client.get(f"/api/experiments/{summary['id']}").get_json()
        assert len(detail["runs"]) == 2
        key = detail["runs"][0]["key"]
        assert client.get(f"/api/experiments/{summary['id']}/runs/{key}/requests").get_json()["total"] == 6
    assert len(client.get("/api/historical-data").get_json()["runs"]) == 6
    assert [e["name"] for e in client.get("/api/experiments?model=model-b").get_json()["experiments"]] == ["model-b"]
    assert [e["name"] for e in client.get("/api/experiments?model=MODEL-A").get_json()["experiments"]] == ["model-a"]


def test_serve_refuses_redis_with_a_database_in_one_line(tmp_path):
    result = CliRunner().invoke(main, ["serve", "--redis-url", "redis://127.0.0.1:1", "--results-db",
                                       f"sqlite:///{tmp_path}/x.db", "--port", "0"])
    assert result.exit_code != 0 and "--redis-url and --results-db do not combine" in result.output
