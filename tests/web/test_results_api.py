"""The results API over real experiment folders: listing, drill-down, downloads, replay, restart."""

import csv
import io
import json

import pytest
from geventhttpclient import HTTPClient

from genai_bench.web.server import results_server
from tests.conftest import SSEReader


@pytest.fixture
def served(finished_experiment):
    servers = []

    def start(*folders):
        server = results_server(list(folders or [finished_experiment]), port=0)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def call(server, path, method="GET", body=None):
    client = HTTPClient("127.0.0.1", server.port)
    try:
        if method == "POST":
            response = client.post(path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        else:
            response = client.get(path)
        return response.status_code, response.read(), response
    finally:
        client.close()


def call_json(server, path, method="GET", body=None):
    status, data, _ = call(server, path, method, body)
    return status, json.loads(data)


def test_experiments_and_runs(served, finished_experiment):
    server = served()
    status, listing = call_json(server, "/api/experiments")
    assert status == 200 and listing["mode"] == "serve"
    [summary] = listing["experiments"]
    assert summary["id"] == finished_experiment.name and summary["run_count"] == 2
    detail = call_json(server, f"/api/experiments/{summary['id']}")[1]
    assert [r["concurrency"] for r in detail["runs"]] == [1, 2]
    run_file = json.loads(next(finished_experiment.glob("*_concurrency_2_*.json")).read_text())
    assert detail["runs"][1]["aggregated"]["stats"]["ttft"]["p50"] == run_file["aggregated_metrics"]["stats"]["ttft"]["p50"]
    key = detail["runs"][0]["key"]
    drill = call_json(server, f"/api/experiments/{summary['id']}/runs/{key}/requests")[1]
    assert drill["total"] == 6 and len(drill["requests"]) == 6


def test_unknown_experiment_and_run_are_404(served):
    server = served()
    assert call_json(server, "/api/experiments/nope")[0] == 404
    experiment_id = call_json(server, "/api/experiments")[1]["experiments"][0]["id"]
    status, body = call_json(server, f"/api/experiments/{experiment_id}/runs/nope/requests")
    assert status == 404 and body["error"]["code"] == 404


def test_csv_download(served, finished_experiment):
    server = served()
    status, body, response = call(server, f"/api/experiments/{finished_experiment.name}/report.csv")
    assert status == 200 and "attachment" in response.get("Content-Disposition")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [row["concurrency"] for row in rows] == ["1", "2"]


def test_history_survives_a_restart(served, finished_experiment):
    first = call_json(served(), "/api/historical-data")[1]
    again = call_json(served(), "/api/historical-data")[1]
    assert len(first["runs"]) == 2 and first == again


def test_replay_goes_through_the_live_stream(served, finished_experiment):
    server = served()
    reader = SSEReader(server.url + "events?types=status,run_completed,benchmark_completed")
    try:
        reader.frame()  # retry hint
        status, started = call_json(server, "/api/replay", "POST", {"experiment": finished_experiment.name, "speed": 1000})
        assert status == 200 and started["replaying"]
        kinds = []
        while "benchmark_completed" not in kinds:
            kinds.append(reader.events(1)[0]["data"]["event_type"])
        assert kinds.count("run_completed") == 2
        assert call_json(server, "/api/status")[1]["status"] == "completed"
    finally:
        reader.close()
    assert call_json(server, "/api/replay", "POST", {"experiment": finished_experiment.name, "speed": 0})[0] == 400
    assert call_json(server, "/api/replay", "POST", {"speed": 10})[0] == 400


def test_live_benchmark_lists_its_own_experiment(tmp_path, fast_simulator):
    from genai_bench.config import BenchmarkConfig
    from genai_bench.scenarios import parse_scenario
    from genai_bench.session import BenchmarkSession

    session = BenchmarkSession(BenchmarkConfig(
        api_base=fast_simulator.url, traffic_scenarios=[parse_scenario("D(20,10)")], concurrencies=[1, 2],
        max_requests_per_run=4, experiment_base_dir=str(tmp_path), experiment_folder_name="live",
        enable_streaming=True, streaming_port=0))
    try:
        session.run(handle_signals=False)
        server = session.server
        status, listing = call_json(server, "/api/experiments")
        assert listing["mode"] == "live"
        [summary] = listing["experiments"]
        # The benchmark's own folder is listed; once it has finished it is no longer "live".
        assert not summary["live"] and summary["run_count"] == 2
        assert summary["folder"] == str((tmp_path / "live").resolve())
        assert len(call_json(server, "/api/historical-data")[1]["runs"]) == 2
    finally:
        session.close()
