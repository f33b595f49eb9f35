"""wsgi.py under a real `gunicorn -k gevent -w 1`: idle, running a benchmark, serving folders, prompt shutdown."""

import json
import signal
import sys
import time

import pytest

from tests.support.processes import REPO_ROOT
from tests.support.servers import http_json
from tests.support.sse import SSEReader

GUNICORN = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "-b", "127.0.0.1:0", "--chdir",
            str(REPO_ROOT), "wsgi:app"]


@pytest.fixture
def gunicorn(child_processes):
    """Start `gunicorn -k gevent -w 1 wsgi:app` with extra environment variables; returns the child once its worker
    answers, with `url` set. Stopped at teardown."""

    def start(**env):
        server = child_processes(GUNICORN, env=env)
        server.url = "http://127.0.0.1:%s" % server.wait_for(r"Listening at: http://127\.0\.0\.1:(\d+)").group(1)
        for _ in range(100):
            try:
                http_json(server.url + "/healthz")  # any HTTP answer (401 included) means the worker is up
                return server
            except OSError:
                time.sleep(0.1)
        pytest.fail("gunicorn's worker never answered /healthz; its output:\n" + server.output)

    return start


def test_no_configuration_serves_an_idle_dashboard(gunicorn):
    server = gunicorn()
    assert http_json(server.url + "/healthz") == (200, {"status": "ok"})
    assert http_json(server.url + "/api/status")[1]["status"] == "idle"


def test_benchmark_streams_unbuffered_and_sigterm_ends_streams_promptly_keeping_results(gunicorn, tmp_path):
    server = gunicorn(GENAI_BENCH_BENCHMARK=f"--num-concurrency 2 --max-requests-per-run 100000 "
                                           f"--max-time-per-run 1 --experiment-base-dir {tmp_path} "
                                           f"--experiment-folder-name exp")
    reader = SSEReader(server.url + "/events?types=progress", timeout=10)
    try:
        reader.frame()  # retry hint
        first, second = reader.events(2)  # progress ticks arrive while the run goes on: nothing is buffered
        assert second["data"]["data"]["elapsed"] > first["data"]["data"]["elapsed"]
        started = time.monotonic()
        server.send_signal(signal.SIGTERM)  # while a stream is still open
        server.wait_exit(timeout=60)
        took = time.monotonic() - started
    finally:
        reader.close()
    # gunicorn's default graceful timeout is 30 s; the open stream must not hold the worker that long.
    assert took < 15, f"shutdown took {took:.1f} s"
    metadata = json.loads((tmp_path / "exp" / "experiment_metadata.json").read_text())
    assert metadata["partial"] is True and metadata["run_files"]
    # The benchmark's own arguments, not gunicorn's command line.
    assert metadata["cmd"] == (f"genai-bench benchmark --num-concurrency 2 --max-requests-per-run 100000 "
                               f"--max-time-per-run 1 --experiment-base-dir {tmp_path} --experiment-folder-name exp")


def test_experiment_folders_are_served(gunicorn, finished_experiment):
    server = gunicorn(GENAI_BENCH_EXPERIMENT_FOLDER=str(finished_experiment))
    listing = http_json(server.url + "/api/experiments")[1]
    assert listing["mode"] == "serve" and listing["experiments"][0]["run_count"] == 2


def test_token_from_environment(gunicorn):
    server = gunicorn(GENAI_BENCH_STREAMING_TOKEN="s3cret")
    assert http_json(server.url + "/api/status")[0] == 401
    assert http_json(server.url + "/api/status?token=s3cret")[0] == 200


def test_a_results_database_is_served_with_the_folders(gunicorn, finished_experiment, tmp_path):
    from click.testing import CliRunner

    from genai_bench.cli import main
    from tests.support.servers import run_benchmark

    url = f"sqlite:///{tmp_path}/results.db"
    imported = CliRunner().invoke(main, ["db", "import", "--results-db", url, "--experiment-folder",
                                         str(finished_experiment)])
    assert imported.exit_code == 0, imported.output
    other = run_benchmark(tmp_path, "folder-only", concurrencies=(1,))
    server = gunicorn(GENAI_BENCH_RESULTS_DB=url, GENAI_BENCH_EXPERIMENT_FOLDER=str(other))
    listing = http_json(server.url + "/api/experiments")[1]
    by_name = {e["name"]: e for e in listing["experiments"]}
    assert listing["mode"] == "serve" and set(by_name) == {finished_experiment.name, "folder-only"}
    assert by_name[finished_experiment.name]["source"] == "database" and by_name["folder-only"]["run_count"] == 1
    detail = http_json(server.url + f"/api/experiments/{by_name[finished_experiment.name]['id']}")[1]
    assert len(detail["runs"]) == 2


def test_a_bad_results_database_or_one_with_redis_is_a_one_line_error(tmp_path):
    from genai_bench.config import ConfigError
    from genai_bench.deployment import app_from_environment

    with pytest.raises(ConfigError, match=r"^GENAI_BENCH_RESULTS_DB: --results-db .*mysql"):
        app_from_environment({"GENAI_BENCH_RESULTS_DB": "mysql://u@h/db"})
    with pytest.raises(ConfigError, match="set GENAI_BENCH_RESULTS_DB or GENAI_BENCH_REDIS_URL, not both"):
        app_from_environment({"GENAI_BENCH_RESULTS_DB": f"sqlite:///{tmp_path}/x.db",
                              "GENAI_BENCH_REDIS_URL": "redis://127.0.0.1:1"})
