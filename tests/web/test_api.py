"""JSON endpoints, the error shape and the streaming token through Flask's test client; the WebSocket's token over
a real socket."""

import pytest
import websocket


def get(client, path, headers=None):
    """(status, body bytes) of a GET."""
    with client.get(path, headers=headers or {}) as response:
        return response.status_code, response.get_data()


def get_json(client, path, headers=None):
    """(status, parsed JSON) of a GET."""
    with client.get(path, headers=headers or {}) as response:
        return response.status_code, response.get_json()


def run_one(publisher):
    publisher.update_benchmark_status(status="running", current_scenario="D(10,10)", total_iterations=1)
    publisher.update_metrics_panels({"scenario": "D(10,10)", "elapsed": 1.0, "requests_per_second": 2.0,
                                     "stats": {"ttft": {"p50": 0.04, "p99": 0.09}}})
    publisher.add_historical_data({"scenario": "D(10,10)", "concurrency": 1, "stats": {}})
    publisher.update_benchmark_status(status="completed")


def test_rest_shapes(live_app):
    publisher, client = live_app()
    run_one(publisher)
    assert get_json(client, "/healthz") == (200, {"status": "ok"})
    status, body = get_json(client, "/api/status")
    assert status == 200 and body["status"] == "completed" and body["model"] == "test-model"
    assert get_json(client, "/api/metrics")[1]["live_metrics"]["requests_per_second"] == 2.0
    assert get_json(client, "/api/historical-data") == (200, {"runs": []})  # no experiment folder behind this one
    points = get_json(client, "/api/timeseries")[1]["points"]
    assert points[0]["ttft_p50"] == 0.04 and points[0]["ttft_p99"] == 0.09
    state = get_json(client, "/api/state")[1]
    assert state["completed"]["status"] == "completed" and state["last_event_id"] == publisher.bus.last_id
    assert state["history"][0]["scenario"] == "D(10,10)"
    buffered = get_json(client, "/api/events?since=2")[1]
    assert [e["id"] for e in buffered["events"]] == list(range(3, publisher.bus.last_id + 1))
    assert buffered["complete"] is True


def test_api_events_by_type_and_limit_start_from_the_state_when_the_buffer_lost_some():
    from genai_bench.events import EventBus
    from genai_bench.streaming import EventDashboard
    from genai_bench.web import create_app

    publisher = EventDashboard(EventBus(history_size=5), context={"model": "m"})
    client = create_app(publisher.bus, state=publisher.state).test_client()
    publisher.update_benchmark_status(status="running")  # 1: state, leaves the buffer
    publisher.bus.publish("alert", {"state": "firing", "rule": "a>1"})  # 2: firing, leaves the buffer
    for index in range(6):  # 3..8, of which the buffer keeps 4..8
        publisher.add_log_message(f"line {index}")
    body = get_json(client, "/api/events?types=alert,status,log&limit=4")[1]
    assert body["complete"] is False and body["last_event_id"] == 8
    assert [e["id"] for e in body["events"]] == [5, 6, 7, 8]  # the newest 4
    body = get_json(client, "/api/events?types=alert,status")[1]
    assert [(e["id"], e["event_type"]) for e in body["events"]] == [(1, "status"), (2, "alert")]
    assert [e["id"] for e in get_json(client, "/api/events?since=6&types=log")[1]["events"]] == [7, 8]
    code, error = get_json(client, "/api/events?types=nope")
    assert code == 400 and "unknown event type(s) nope" in error["error"]["message"]


@pytest.mark.parametrize("path,status", [("/api/nope", 404), ("/api/events?since=x", 400)])
def test_one_error_shape(live_app, path, status):
    _, client = live_app()
    code, body = get_json(client, path)
    assert code == status
    assert set(body) == {"error"} and body["error"]["code"] == status and body["error"]["message"]


PROTECTED = ["/", "/healthz", "/api/state", "/api/status", "/api/metrics", "/api/historical-data",
             "/api/timeseries", "/api/events", "/events?types=status", "/static/css/dashboard.css"]


@pytest.mark.parametrize("path", PROTECTED)
def test_token_is_required_on_every_endpoint(live_app, path):
    publisher, client = live_app(token="t0ken")
    publisher.bus.close() if path.startswith("/events") else None  # so the stream ends and the body can be read
    assert get(client, path)[0] == 401
    assert get(client, path, {"Authorization": "Bearer wrong"})[0] == 401
    assert get(client, path, {"Authorization": "Bearer t0ken"})[0] == 200
    joiner = "&" if "?" in path else "?"
    assert get(client, f"{path}{joiner}token=t0ken")[0] == 200


def test_token_is_required_on_the_websocket(dashboard_server):
    _, server = dashboard_server(token="t0ken")
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(f"ws://127.0.0.1:{server.port}/ws", timeout=5)
    ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/ws?token=t0ken", timeout=5)
    ws.close()


def test_page_escapes_the_model_name(live_app):
    publisher, client = live_app()
    publisher.context["model"] = "<script>alert(1)</script>"
    publisher.update_benchmark_status(status="running")
    status, body = get(client, "/")
    assert status == 200
    assert b"<script>alert(1)</script>" not in body
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_api_key_never_appears_in_responses(live_app):
    publisher, client = live_app()
    publisher.context["api_base"] = "http://127.0.0.1:9"
    run_one(publisher)
    everything = b"".join(get(client, p)[1] for p in ["/api/state", "/api/status", "/api/events", "/"])
    assert b"Bearer" not in everything and b"api_key" not in everything
