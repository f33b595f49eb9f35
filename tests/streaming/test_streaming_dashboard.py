"""StreamingDashboard: the §7.1 interface, the seed's programmatic example and the seed's custom WebSocket frontend."""

import json
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import websocket
from geventhttpclient import HTTPClient

from genai_bench.dashboard import Dashboard
from genai_bench.streaming import StreamingDashboard
from tests.conftest import REPO_ROOT, SSEReader

SEED_EXAMPLE = '''
from genai_bench.streaming import StreamingDashboard
import asyncio
async def main():
    dashboard = StreamingDashboard(port=8080)
    server_task = asyncio.create_task(dashboard.start())
    dashboard.update_benchmark_status(status="running", current_scenario="D(100,100)", progress_percentage=25.0)
    await asyncio.sleep(60)
    server_task.cancel()
    await dashboard.stop()
asyncio.run(main())
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_listening(port: int, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("example exited early:\n" + process.communicate()[0])
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    process.kill()
    pytest.fail("example never listened:\n" + process.communicate()[0])


def start_example(code: str, port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code.replace("port=8080", f"port={port}")], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_streaming_dashboard_implements_the_whole_interface():
    assert issubclass(StreamingDashboard, Dashboard)
    assert not StreamingDashboard.__abstractmethods__


def test_seed_programmatic_example_answers_while_it_sleeps():
    port = free_port()
    process = start_example(SEED_EXAMPLE, port)
    try:
        wait_until_listening(port, process)
        client = HTTPClient("127.0.0.1", port)
        status = json.loads(client.get("/api/status").read())
        client.close()
        assert status["status"] == "running" and status["current_scenario"] == "D(100,100)"
        assert status["progress_percentage"] == 25.0
        reader = SSEReader(f"http://127.0.0.1:{port}/events")
        assert reader.events(1)[0]["data"]["data"]["status"] == "running"
        reader.close()
        ws = websocket.create_connection(f"ws://127.0.0.1:{port}/ws", timeout=5)
        assert json.loads(ws.recv())["data"]["current_scenario"] == "D(100,100)"
        ws.close()
    finally:
        process.kill()
        process.communicate()


def test_seed_example_stops_cleanly():
    port = free_port()
    process = start_example(SEED_EXAMPLE.replace("asyncio.sleep(60)", "asyncio.sleep(0.5)"), port)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Traceback" not in output and "never awaited" not in output
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5)


def test_each_interface_call_publishes_its_event():
    dashboard = StreamingDashboard(port=0)
    calls = [
        (lambda d: d.update_benchmark_status(status="running", total_iterations=2), "status"),
        (lambda d: d.start_run(60.0, 1.0, 10), "run_started"),
        (lambda d: d.update_metrics_panels({"stats": {}}), "metrics"),
        (lambda d: d.update_histogram_panel({"histograms": {}}), "histogram"),
        (lambda d: d.update_benchmark_progress_bars({"requests_done": 5, "max_requests": 10, "elapsed": 1.0,
                                                     "max_time": 60.0}), "progress"),
        (lambda d: d.add_historical_data({"scenario": "D(1,1)"}), "run_completed"),
        (lambda d: d.update_scatter_plot_panel([{"concurrency": 1}]), "scatter"),
        (lambda d: d.add_log_message("hello", "warning"), "log"),
    ]
    for call, event_type in calls:
        before = dashboard.bus.last_id
        call(dashboard)
        published = [e.event_type for e in dashboard.bus.history if e.id > before]
        assert event_type in published
    progress = dashboard.bus.latest["progress"].data
    assert progress["run_progress_percentage"] == 50.0
    assert dashboard.get_historical_data() == [{"scenario": "D(1,1)"}]
    dashboard.update_benchmark_status(status="completed")
    assert dashboard.bus.latest["benchmark_completed"].data["status"] == "completed"
    assert dashboard.bus.latest["log"].data == {"message": "hello", "level": "warning"}


CUSTOM_FRONTEND = textwrap.dedent("""
    <!DOCTYPE html>
    <html>
    <head><title>Custom Dashboard</title></head>
    <body>
        <div id="metrics"></div>
        <script>
            const ws = new WebSocket('ws://localhost:8080/ws');
            ws.onmessage = function(event) {
                const data = JSON.parse(event.data);
                if (data.event_type === 'metrics') {
                    document.getElementById('metrics').innerHTML =
                        `TTFT: ${data.data.live_metrics.stats.ttft.mean.toFixed(3)}s`;
                }
            };
        </script>
    </body>
    </html>
""")


def test_seed_custom_frontend_updates_from_the_websocket(tmp_path, cli, browser):
    process = cli("benchmark", "--enable-streaming", "--streaming-port", "0", "--num-concurrency", "2",
                  "--max-requests-per-run", "40", "--max-time-per-run", "0.5")
    port = process.wait_for(r"Live dashboard: http://127\.0\.0\.1:(\d+)/").group(1)
    page_file = tmp_path / "custom.html"
    page_file.write_text(CUSTOM_FRONTEND.replace("localhost:8080", f"localhost:{port}"))
    page = browser.new_page()
    try:
        page.goto(page_file.as_uri())
        page.wait_for_function("document.getElementById('metrics').textContent.startsWith('TTFT: ')", timeout=20_000)
        first = page.text_content("#metrics")
        assert float(first.removeprefix("TTFT: ").removesuffix("s")) > 0
    finally:
        page.close()
    process.kill()
