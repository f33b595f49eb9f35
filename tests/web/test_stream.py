"""/events and /ws on a real server with real clients: framing, snapshot, replay, heartbeat, filter, fan-out, and what
/ws does with what clients send."""

import base64
import json
import os
import socket
import struct

import gevent
import pytest
import websocket

from genai_bench import events
from tests.support.sse import SSEReader
from tests.web.test_api import get, get_json


def publish_some(publisher, logs: int = 3) -> None:
    publisher.update_benchmark_status(status="running", current_scenario="D(10,10)", total_iterations=2)
    publisher.update_metrics_panels({"scenario": "D(10,10)", "stats": {"ttft": {"mean": 0.05}}})
    for i in range(logs):
        publisher.add_log_message(f"line {i}")


def test_sse_headers_retry_and_snapshot_on_connect(dashboard_server):
    publisher, server = dashboard_server()
    publish_some(publisher)
    reader = SSEReader(server.url + "events")
    try:
        assert reader.response.status == 200
        assert reader.response.getheader("Content-Type").startswith("text/event-stream")
        assert reader.response.getheader("Cache-Control") == "no-cache"
        assert reader.response.getheader("X-Accel-Buffering") == "no"
        assert reader.frame() == {"retry": "2000"}
        snapshot = reader.events(2)
        # The snapshot is the current state (status, metrics), not old log lines.
        assert [f["data"]["event_type"] for f in snapshot] == ["status", "metrics"]
        assert all(int(f["id"]) == f["data"]["id"] for f in snapshot)
        assert snapshot[0]["data"]["data"]["status"] == "running"
        publisher.add_log_message("live one")
        live = reader.events(1)[0]
        assert live["data"]["event_type"] == "log" and live["data"]["data"]["message"] == "live one"
        assert int(live["id"]) > int(snapshot[-1]["id"])
    finally:
        reader.close()


def test_a_new_client_gets_the_alerts_firing_now_in_its_snapshot(dashboard_server):
    publisher, server = dashboard_server()
    publish_some(publisher)
    bus = publisher.bus
    bus.publish(events.ALERT, {"state": "firing", "rule": "ttft.p99>500ms", "text": "Alert firing: ttft"})
    bus.publish(events.ALERT, {"state": "firing", "rule": "error_rate>5%", "text": "Alert firing: errors"})
    bus.publish(events.ALERT, {"state": "resolved", "rule": "error_rate>5%", "text": "Alert resolved: errors"})
    for i in range(20):  # the alerts are old news in the history; still state
        publisher.add_log_message(f"later {i}")
    reader = SSEReader(server.url + "events")
    ws = websocket.create_connection(server.url.replace("http", "ws") + "ws", timeout=5)
    try:
        assert reader.frame() == {"retry": "2000"}
        snapshot = [f["data"] for f in reader.events(3)]
        assert [e["event_type"] for e in snapshot] == ["status", "metrics", "alert"]
        assert (snapshot[2]["data"]["rule"], snapshot[2]["data"]["state"]) == ("ttft.p99>500ms", "firing")
        over_ws = [json.loads(ws.recv()) for _ in range(3)]
        assert [m["id"] for m in over_ws] == [e["id"] for e in snapshot]
        bus.publish(events.ALERT, {"state": "resolved", "rule": "ttft.p99>500ms", "text": "Alert resolved: ttft"})
        assert reader.events(1)[0]["data"]["data"]["state"] == "resolved"
    finally:
        reader.close()
        ws.close()
    later = SSEReader(server.url + "events?types=alert,status")
    try:
        later.frame()
        assert [f["data"]["event_type"] for f in later.events(1)] == ["status"]
        publisher.add_log_message("no alert fires now")  # nothing else is queued before the next status
        publisher.update_benchmark_status(status="running")
        assert [f["data"]["event_type"] for f in later.events(1)] == ["status"]
    finally:
        later.close()


@pytest.mark.parametrize("how", ["header", "query"])
def test_reconnect_with_last_event_id_replays_missed_events_in_order(dashboard_server, how):
    publisher, server = dashboard_server()
    publish_some(publisher, logs=6)  # ids 1..8
    url, headers = server.url + "events", {}
    if how == "header":
        headers["Last-Event-ID"] = "4"
    else:
        url += "?last_event_id=4"
    reader = SSEReader(url, headers)
    try:
        replayed = reader.events(4)
        assert [int(f["id"]) for f in replayed] == [5, 6, 7, 8]
        assert [f["data"]["data"]["message"] for f in replayed] == ["line 2", "line 3", "line 4", "line 5"]
    finally:
        reader.close()


def test_idle_stream_sends_heartbeats_without_ids(dashboard_server):
    publisher, server = dashboard_server(heartbeat_interval=0.2)
    publish_some(publisher, logs=0)
    reader = SSEReader(server.url + "events?types=log")
    try:
        reader.frame()  # retry
        heartbeat = reader.frame()
        assert "id" not in heartbeat
        assert heartbeat["data"]["event_type"] == "heartbeat"
    finally:
        reader.close()


def test_types_filter_and_unknown_type(dashboard_server):
    publisher, server = dashboard_server()
    reader = SSEReader(server.url + "events?types=status,run_completed")
    try:
        reader.frame()
        publisher.add_log_message("filtered out")
        publisher.update_benchmark_status(status="running")
        assert reader.events(1)[0]["data"]["event_type"] == "status"
    finally:
        reader.close()
    bad = SSEReader(server.url + "events?types=nope")
    assert bad.response.status == 400
    assert "nope" in json.loads(bad.response.read())["error"]["message"]


def test_head_request_leaves_no_subscriber(dashboard_server):
    publisher, server = dashboard_server()
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("HEAD", "/events")
    assert connection.getresponse().status == 200
    connection.close()
    gevent.sleep(0.1)
    assert publisher.bus.subscribers == set()


def test_websocket_carries_the_same_envelopes(dashboard_server):
    publisher, server = dashboard_server()
    publish_some(publisher, logs=0)
    ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/ws", timeout=5)
    try:
        snapshot = [json.loads(ws.recv()) for _ in range(2)]
        assert [m["event_type"] for m in snapshot] == ["status", "metrics"]
        assert snapshot[1]["data"]["live_metrics"]["stats"]["ttft"]["mean"] == 0.05
        event = publisher.bus.publish(events.LOG, {"message": "over ws", "level": "info"})
        assert ws.recv() == event.json
    finally:
        ws.close()


def test_a_stalled_client_is_cut_off_and_fifty_others_get_everything(dashboard_server):
    publisher, server = dashboard_server(queue_size=32)
    stalled = socket.create_connection(("127.0.0.1", server.port))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # and never read
    readers = [SSEReader(server.url + "events?types=log") for _ in range(50)]
    received = {i: [] for i in range(50)}

    def consume(i, reader):
        reader.frame()
        while len(received[i]) < 400:
            received[i].append(reader.events(1)[0]["data"]["data"]["n"])

    consumers = [gevent.spawn(consume, i, r) for i, r in enumerate(readers)]
    gevent.sleep(0.2)
    padding = "x" * 20_000  # 8 MB in all: more than the stalled socket's kernel buffers hold
    for n in range(400):
        publisher.bus.publish(events.LOG, {"n": n, "message": padding, "level": "info"})
        if n % 10 == 0:
            gevent.sleep(0)  # let consumers run, as the benchmark's own greenlets would
    gevent.joinall(consumers, timeout=30, raise_error=True)
    try:
        assert all(received[i] == list(range(400)) for i in range(50))
        # The stalled client fell behind and was dropped; the 50 readers are all still subscribed.
        assert len(publisher.bus.subscribers) == 50
    finally:
        stalled.close()
        for reader in readers:
            reader.close()


MIB = 1 << 20


def rss_bytes() -> int:
    """This process's resident set size."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def open_raw_websocket(port: int) -> socket.socket:
    """A WebSocket handshake on a plain socket, so a test can write frames of any size without holding them."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 101")
    return sock


def send_big_frame(sock: socket.socket, size: int, chunk: bytes) -> bool:
    """Stream one masked text frame of `size` bytes; False when the server cut the connection before it was sent."""
    sock.sendall(struct.pack("!BBQ", 0x81, 0x80 | 127, size) + b"\0\0\0\0")  # a zero mask leaves the payload as is
    try:
        for _ in range(size // len(chunk)):
            sock.sendall(chunk)
    except (ConnectionResetError, BrokenPipeError):
        return False
    return True


def test_a_huge_websocket_message_closes_the_connection_and_costs_no_memory(dashboard_server):
    publisher, server = dashboard_server()
    sock = open_raw_websocket(server.port)
    gevent.sleep(0.2)
    before, peak = rss_bytes(), [0]

    def sample() -> None:
        while True:
            peak[0] = max(peak[0], rss_bytes())
            gevent.sleep(0.005)

    sampler = gevent.spawn(sample)
    completed = send_big_frame(sock, 64 * MIB, b"a" * 65536)
    gevent.sleep(0.5)
    sampler.kill()
    grown, after = peak[0] - before, rss_bytes() - before
    print(f"RSS before a 64 MiB frame {before / MIB:.1f} MiB, peak +{grown / MIB:.1f} MiB, after +{after / MIB:.1f} MiB")
    assert grown < 4 * MIB and after < 4 * MIB
    if completed:  # the kernel took it all: the server must still have closed the connection
        sock.settimeout(5)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        assert received.startswith(b"\x88")  # a close frame (1009, message too big), then the end
    sock.close()
    gevent.sleep(0.2)
    assert publisher.bus.subscribers == set()  # the offender's subscription is gone


def test_small_client_messages_are_read_and_dropped_while_events_flow(dashboard_server):
    publisher, server = dashboard_server()
    publisher.update_benchmark_status(status="running")
    ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/ws?types=log,status", timeout=5)
    try:
        assert json.loads(ws.recv())["event_type"] == "status"  # the snapshot: the server is streaming to us
        for _ in range(200):
            ws.send("x" * 1000)
        event = publisher.bus.publish(events.LOG, {"message": "still here", "level": "info"})
        assert json.loads(ws.recv())["id"] == event.id
        ws.send("y" * 5000)  # over the cap: closed with 1009 (message too big)
        with pytest.raises(websocket.WebSocketConnectionClosedException):
            while True:
                ws.recv()
    finally:
        ws.close()


@pytest.mark.parametrize("last_id", ["1000000000000000000000000000000", "-5", "9" * 5000])
def test_an_unknown_last_event_id_gets_the_snapshot(live_app, last_id):
    publisher, client = live_app()
    publisher.update_benchmark_status(status="running", current_scenario="D(10,10)")
    publisher.bus.close()  # so the stream ends and its body can be read
    status, body = get(client, "/events", {"Last-Event-ID": last_id})
    assert status == 200
    frames = [json.loads(line[6:]) for line in body.decode().splitlines() if line.startswith("data: ")]
    assert [f["event_type"] for f in frames] == ["status"] and frames[0]["data"]["status"] == "running"


def test_api_events_from_beyond_the_newest_id_are_all_of_them(live_app):
    publisher, client = live_app()
    publisher.update_benchmark_status(status="running")
    body = get_json(client, "/api/events?since=1000000000000000000000")[1]
    assert body["complete"] is False and [e["id"] for e in body["events"]] == [publisher.bus.last_id]


def test_a_client_of_an_earlier_server_gets_the_snapshot_and_then_live_events(dashboard_server):
    publisher, server = dashboard_server()
    publisher.update_benchmark_status(status="running")
    reader = SSEReader(server.url + "events", headers={"Last-Event-ID": "500"})  # the old server had got to 500
    try:
        assert reader.events(1)[0]["data"]["event_type"] == "status"
        event = publisher.bus.publish(events.LOG, {"message": "new", "level": "info"})
        assert reader.events(1)[0]["data"]["id"] == event.id
    finally:
        reader.close()
