"""The results API over real experiment folders: listing, drill-down, downloads and restart through Flask's test
client; replay through the live stream of a real server."""

import csv
import io
import json

import pytest

from genai_bench.web.server import results_server
from tests.support.servers import http_json
from tests.support.sse import SSEReader


def get_json(client, path):
    """(status, parsed JSON) of a GET."""
    with client.get(path) as response:
        return response.status_code, response.get_json()


def test_experiments_and_runs(serve_app, finished_experiment):
    client = serve_app()
    status, listing = get_json(client, "/api/experiments")
    assert status == 200 and listing["mode"] == "serve"
    [summary] = listing["experiments"]
    assert summary["id"] == finished_experiment.name and summary["run_count"] == 2
    detail = get_json(client, f"/api/experiments/{summary['id']}")[1]
    assert [r["concurrency"] for r in detail["runs"]] == [1, 2]
    run_file = json.loads(next(finished_experiment.glob("*_concurrency_2_*.json")).read_text())
    assert detail["runs"][1]["aggregated"]["stats"]["ttft"]["p50"] == run_file["aggregated_metrics"]["stats"]["ttft"]["p50"]
    key = detail["runs"][0]["key"]
    drill = get_json(client, f"/api/experiments/{summary['id']}/runs/{key}/requests")[1]
    assert drill["total"] == 6 and len(drill["requests"]) == 6


def test_unknown_experiment_and_run_are_404(serve_app):
    client = serve_app()
    assert get_json(client, "/api/experiments/nope")[0] == 404
    experiment_id = get_json(client, "/api/experiments")[1]["experiments"][0]["id"]
    status, body = get_json(client, f"/api/experiments/{experiment_id}/runs/nope/requests")
    assert status == 404 and body["error"]["code"] == 404


def test_csv_download(serve_app, finished_experiment):
    with serve_app().get(f"/api/experiments/{finished_experiment.name}/report.csv") as response:
        assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["num_concurrency"] for row in rows] == ["1", "2"]


def test_history_survives_a_restart(serve_app):
    first = get_json(serve_app(), "/api/historical-data")[1]
    again = get_json(serve_app(), "/api/historical-data")[1]
    assert len(first["runs"]) == 2 and first == again


@pytest.fixture
def results_server_on_a_port(finished_experiment):
    """`genai-bench serve`'s server on the finished experiment, on a real port; stopped at teardown."""
    server = results_server([finished_experiment], port=0)
    yield server
    server.stop()


def test_replay_goes_through_the_live_stream(results_server_on_a_port, finished_experiment):
    server = results_server_on_a_port  # the replayed events are read from the stream, as a page would
    reader = SSEReader(server.url + "events?types=status,run_completed,benchmark_completed")
    try:
        reader.frame()  # retry hint
        replay = {"experiment": finished_experiment.name, "speed": 1000}
        status, started = http_json(server.url + "api/replay", "POST", replay)
        assert status == 200 and started["replaying"]
        kinds = []
        while "benchmark_completed" not in kinds:
            kinds.append(reader.events(1)[0]["data"]["event_type"])
        assert kinds.count("run_completed") == 2
        assert http_json(server.url + "api/status")[1]["status"] == "completed"
    finally:
        reader.close()
    assert http_json(server.url + "api/replay", "POST", {**replay, "speed": 0})[0] == 400
    assert http_json(server.url + "api/replay", "POST", {"speed": 10})[0] == 400


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
        client = session.server.app.test_client()
        status, listing = get_json(client, "/api/experiments")
        assert listing["mode"] == "live"
        [summary] = listing["experiments"]
        # The benchmark's own folder is listed; once it has finished it is no longer "live".
        assert not summary["live"] and summary["run_count"] == 2
        assert summary["folder"] == str((tmp_path / "live").resolve())
        assert len(get_json(client, "/api/historical-data")[1]["runs"]) == 2
    finally:
        session.close()
