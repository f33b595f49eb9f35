"""A storm of dashboard viewers during a real run: the run's client health records it, and flags it when it hurt."""

from __future__ import annotations

import json
import socket

import gevent
from gevent.event import Event

from genai_bench.config import BenchmarkConfig
from genai_bench.monitor import STORM_LAG_MS
from genai_bench.scenarios import parse_scenario
from genai_bench.session import BenchmarkSession

VIEWERS = 60


def open_stream(port: int, streams: list[socket.socket]) -> None:
    """One SSE viewer: connect, ask for /events, read the first bytes, then stay connected."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    streams.append(sock)
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.recv(4096)


def test_sixty_viewers_connecting_at_once_mid_run_are_recorded_as_a_storm_in_the_run_file(start_simulator, tmp_path):
    simulator = start_simulator(ttft_ms=5.0, itl_ms=1.0, seed=1)
    config = BenchmarkConfig(api_base=simulator.url, traffic_scenarios=[parse_scenario("D(20,20)")],
                             concurrencies=[8], max_time_per_run=3 / 60, max_requests_per_run=1_000_000,
                             enable_streaming=True, streaming_port=0, experiment_base_dir=str(tmp_path),
                             experiment_folder_name="storm", seed=3)
    session = BenchmarkSession(config)
    warnings: list[str] = []
    session.hooks.log.add_listener(lambda message, level, **_: warnings.append(message) if level == "warning" else None)
    started = Event()
    session.hooks.run_started.add_listener(lambda **_: started.set())
    session.start()
    streams: list[socket.socket] = []
    try:
        run = gevent.spawn(session.run, handle_signals=False)
        assert started.wait(30)
        gevent.sleep(0.5)
        gevent.joinall([gevent.spawn(open_stream, session.server.port, streams) for _ in range(VIEWERS)],
                       timeout=30, raise_error=True)
        outcome = run.get(timeout=60)
    finally:
        for sock in streams:
            sock.close()
        session.close()
    [run_file] = outcome.folder.glob("D20_*.json")
    client = json.loads(run_file.read_text())["aggregated_metrics"]["client"]
    storms = client["connection_storms"]
    assert sum(storm["connections"] for storm in storms) >= VIEWERS
    for storm in storms:  # however loaded the machine, a storm that slowed the loop is flagged, with its reason
        assert storm["distorted"] == (storm["lag_max_ms"] > STORM_LAG_MS)
        if storm["distorted"]:
            assert client["saturated"]
            assert any(reason.startswith(f"dashboard connection storm: {storm['peak_per_second']} connections in 1 s")
                       for reason in client["reasons"])
            assert any(warning.startswith("dashboard connection storm") for warning in warnings)
