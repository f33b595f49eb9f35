"""The results database on a real PostgreSQL server (Debian's, started by the fixture on a free port in a temporary
directory): the same assertions as on SQLite, and a server stopped mid-run."""

from __future__ import annotations

import subprocess

import gevent
import pytest
from click.testing import CliRunner

from genai_bench.cli import main
from genai_bench.results import load_experiment
from tests.support.postgres import PostgresServer
from tests.support.servers import run_benchmark
from tests.test_database import (SECRET_PASSWORD, assert_schema_matches, assert_serves_and_compares,
                                 check_database_matches, run_files)

pytestmark = pytest.mark.slow  # starts postgres


@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def database(postgres):
    """A fresh database on the shared server for each test; its URL carries a password that must never be written."""
    name = f"t{abs(hash(object())) % 10**9}"
    psql(postgres, f"CREATE DATABASE {name}")
    yield postgres.url(SECRET_PASSWORD).rsplit("/", 1)[0] + "/" + name
    psql(postgres, f"DROP DATABASE {name} WITH (FORCE)")


def psql(server: PostgresServer, sql: str, database: str = "postgres") -> str:
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={server.port} user=bench dbname={database}", autocommit=True) as db:
        cursor = db.execute(sql)
        return "\n".join(repr(row) for row in cursor.fetchall()) if cursor.description else ""


def dump(server: PostgresServer, url: str) -> str:
    """Every row of every table, as text."""
    name = url.rsplit("/", 1)[1]
    return "\n".join(psql(server, f"SELECT * FROM {table}", name) for table in ("experiments", "runs", "requests"))


def test_runs_land_in_postgres_and_serve_lists_filters_and_compares_them(tmp_path, postgres, database):
    folders = {
        "a": run_benchmark(tmp_path, "a", results_db=database, server_engine="vllm", server_version="0.6",
                           server_gpu_type="H100", results_db_requests="all"),
        "b": run_benchmark(tmp_path, "b", results_db=database, server_engine="sglang", server_gpu_type="A100",
                           command=["genai-bench", "benchmark", "--results-db", database]),
    }
    library = check_database_matches(database, folders["a"], experiments=2)
    assert_serves_and_compares(library, folders)
    library.store.close()
    text = dump(postgres, database)
    assert "D(20,10)" in text and SECRET_PASSWORD not in text
    assert "(3 rows)" not in text  # the dump is rows, not psql's table
    # JSONB: the aggregated metrics can be queried in SQL (docs/database.md).
    p99 = psql(postgres, "SELECT (aggregated->'stats'->'ttft'->>'p99')::float FROM runs", database.rsplit("/", 1)[1])
    assert p99.count("\n") == 3


def test_importing_into_postgres_twice_gives_no_duplicates(postgres, database, finished_experiment):
    for _ in range(2):
        result = CliRunner().invoke(main, ["db", "import", "--results-db", database, "--experiment-folder",
                                           str(finished_experiment)])
        assert result.exit_code == 0, result.output
        assert SECRET_PASSWORD not in result.output
    name = database.rsplit("/", 1)[1]
    counts = [psql(postgres, f"SELECT count(*) FROM {t}", name) for t in ("experiments", "runs", "requests")]
    records = sum(len(d["individual_request_metrics"]) for d in run_files(finished_experiment).values())
    assert counts == ["(1,)", "(2,)", f"({records},)"]
    check_database_matches(database, finished_experiment).store.close()


def test_postgres_stopped_mid_run_costs_one_log_line_and_nothing_else(tmp_path):
    from genai_bench.config import BenchmarkConfig
    from genai_bench.scenarios import parse_scenario
    from genai_bench.session import BenchmarkSession
    from genai_bench.simulator import SimulatorConfig, SimulatorServer

    server = PostgresServer().start()  # its own: this test stops it
    try:
        with SimulatorServer(SimulatorConfig(ttft_ms=2.0, itl_ms=0.5, seed=1)).start() as simulator:
            session = BenchmarkSession(BenchmarkConfig(
                api_base=simulator.url, traffic_scenarios=[parse_scenario("D(20,10)")], concurrencies=[1, 2, 4],
                max_requests_per_run=6, experiment_base_dir=str(tmp_path), experiment_folder_name="down",
                results_db=server.url()))
            lines = []
            session.hooks.log.add_listener(lambda message, level: lines.append((level, message)))
            written = []

            def stop_after_first_write(run, **_) -> None:
                if run.index == 2:  # once the first run is in the database, the server goes away
                    for _ in range(200):
                        if session.results_db.written_runs:
                            break
                        gevent.sleep(0.05)
                    written.append(psql(server, "SELECT count(*) FROM runs"))
                    server.stop()

            session.hooks.run_started.add_listener(stop_after_first_write)
            outcome = session.run(handle_signals=False)
            session.close()
    finally:
        server.close()
    assert len(outcome.results) == 3 and not outcome.interrupted and not session.failed
    assert len(run_files(outcome.folder)) == 3 and not load_experiment(outcome.folder).partial_reasons
    about_db = [line for line in lines if "results database" in line[1]]
    assert written == ["(1,)"] and len(about_db) == 1, lines
    assert "unavailable" in about_db[0][1] and "db import --experiment-folder" in about_db[0][1]


def test_migrations_build_exactly_the_schema_the_code_queries_on_postgres(database):
    assert_schema_matches(database)


def test_the_fixture_runs_postgres_unprivileged_when_root(postgres):
    owner = subprocess.run(["ps", "-o", "user=", "-p", str(postgres.proc.pid)], capture_output=True, text=True)
    assert owner.stdout.strip() != "root"
