"""wsgi.py under a real `gunicorn -k gevent -w 1`: idle, running a benchmark, serving folders, prompt shutdown."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from geventhttpclient import HTTPClient

from tests.conftest import REPO_ROOT, SSEReader


class Gunicorn:
    def __init__(self, env: dict, cwd) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "-b", "127.0.0.1:0", "--chdir",
             str(REPO_ROOT), "wsgi:app"],
            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **env})
        self.output = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if match := re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line):
                self.port = int(match.group(1))
                try:
                    self._wait_ready()
                except BaseException:  # never leave a server behind when the test fails here
                    self.kill()
                    raise
                return
        self.proc.kill()
        pytest.fail("gunicorn did not start:\n" + "".join(self.output))

    def _wait_ready(self) -> None:
        for _ in range(100):
            try:
                self.get("/healthz")  # any HTTP answer (401 included) means the worker is up
                return
            except OSError:
                time.sleep(0.1)
        pytest.fail("gunicorn worker never answered /healthz")

    def get(self, path):
        client = HTTPClient("127.0.0.1", self.port, connection_timeout=2, network_timeout=5)
        try:
            response = client.get(path)
            return response.status_code, json.loads(response.read())
        finally:
            client.close()

    def stop(self) -> float:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.communicate(timeout=60)
        return time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def gunicorn(tmp_path):
    started = []

    def start(**env):
        server = Gunicorn(env, tmp_path)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def test_no_configuration_serves_an_idle_dashboard(gunicorn):
    server = gunicorn()
    assert server.get("/healthz") == (200, {"status": "ok"})
    assert server.get("/api/status")[1]["status"] == "idle"


def test_benchmark_streams_unbuffered_and_sigterm_ends_streams_promptly_keeping_results(gunicorn, tmp_path):
    server = gunicorn(GENAI_BENCH_BENCHMARK=f"--num-concurrency 2 --max-requests-per-run 100000 "
                                           f"--max-time-per-run 1 --experiment-base-dir {tmp_path} "
                                           f"--experiment-folder-name exp")
    reader = SSEReader(f"http://127.0.0.1:{server.port}/events?types=progress", timeout=10)
    try:
        reader.frame()  # retry hint
        first, second = reader.events(2)  # progress ticks arrive while the run goes on: nothing is buffered
        assert second["data"]["data"]["elapsed"] > first["data"]["data"]["elapsed"]
        took = server.stop()  # a stream is still open
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
    listing = server.get("/api/experiments")[1]
    assert listing["mode"] == "serve" and listing["experiments"][0]["run_count"] == 2


def test_token_from_environment(gunicorn):
    server = gunicorn(GENAI_BENCH_STREAMING_TOKEN="s3cret")
    assert server.get("/api/status")[0] == 401
    assert server.get("/api/status?token=s3cret")[0] == 200
