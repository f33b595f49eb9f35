"""Servers and experiments made in the test process: free ports, plain HTTP calls, a finished benchmark."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from geventhttpclient import HTTPClient
from geventhttpclient.url import URL

from genai_bench.simulator import SimulatorConfig, SimulatorServer
from tests.support.processes import ChildProcess


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_listening(port: int, child: ChildProcess, timeout: float = 20.0) -> None:
    """Wait until `child` accepts connections on `port`; fails with its output when it exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    child.stop()
    pytest.fail(f"nothing listened on port {port} within {timeout:g} s; the child's output:\n{child.output}")


def http_json(url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None,
              timeout: float = 5.0) -> tuple[int, object]:
    """One request on a new connection; the status and the parsed JSON body."""
    client = HTTPClient.from_url(url, connection_timeout=timeout, network_timeout=timeout)
    path = URL(url).request_uri or "/"
    try:
        if method == "POST":
            response = client.post(path, body=json.dumps(body), headers={"Content-Type": "application/json",
                                                                        **(headers or {})})
        else:
            response = client.get(path, headers=headers or {})
        return response.status_code, json.loads(response.read())
    finally:
        client.close()


def run_benchmark(base: Path, name: str = "exp", concurrencies=(1, 2), requests: int = 6, **fields) -> Path:
    """A real benchmark, in this process, against a fast simulator; returns its experiment folder."""
    from genai_bench.config import BenchmarkConfig
    from genai_bench.scenarios import parse_scenario
    from genai_bench.session import BenchmarkSession

    with SimulatorServer(SimulatorConfig(ttft_ms=2.0, itl_ms=0.5, seed=1)).start() as server:
        settings = dict(api_base=server.url, traffic_scenarios=[parse_scenario("D(20,10)")],
                        concurrencies=list(concurrencies), max_requests_per_run=requests, max_time_per_run=1.0,
                        experiment_base_dir=str(base), experiment_folder_name=name, seed=3)
        settings.update(fields)
        session = BenchmarkSession(BenchmarkConfig(**settings))
        session.run(handle_signals=False)
        session.close()
    return base / name
