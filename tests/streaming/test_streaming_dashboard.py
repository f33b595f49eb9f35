"""StreamingDashboard: the §7.1 interface, the seed's programmatic example and the seed's custom WebSocket frontend."""

import json
import socket
import sys
import textwrap

import pytest
import websocket

from genai_bench.dashboard import Dashboard
from genai_bench.streaming import StreamingDashboard
from tests.support.servers import free_port, http_json, wait_until_listening
from tests.support.sse import SSEReader

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


@pytest.fixture
def start_example(child_processes):
    """Run the seed example (its port changed to a free one) as `python -c`; -> (child, port)."""

    def start(code: str):
        port = free_port()
        return child_processes([sys.executable, "-c", code.replace("port=8080", f"port={port}")]), port

    return start


def test_seed_programmatic_example_answers_while_it_sleeps(start_example):
    process, port = start_example(SEED_EXAMPLE)
    wait_until_listening(port, process)
    status = http_json(f"http://127.0.0.1:{port}/api/status")[1]
    assert status["status"] == "running" and status["current_scenario"] == "D(100,100)"
    assert status["progress_percentage"] == 25.0
    reader = SSEReader(f"http://127.0.0.1:{port}/events")
    assert reader.events(1)[0]["data"]["data"]["status"] == "running"
    reader.close()
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/ws", timeout=5)
    assert json.loads(ws.recv())["data"]["current_scenario"] == "D(100,100)"
    ws.close()


def test_seed_example_stops_cleanly(start_example):
    process, port = start_example(SEED_EXAMPLE.replace("asyncio.sleep(60)", "asyncio.sleep(0.5)"))
    assert process.wait_exit(timeout=30) == 0, process.output
    assert "Traceback" not in process.output and "never awaited" not in process.output
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5)


# Interface methods that publish nothing of their own (they feed others) or only read.
SILENT_METHODS = {"create_benchmark_progress_task", "update_total_progress_bars", "handle_single_request",
                  "reset_plot_metrics", "reset_panels", "get_historical_data"}


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
    # Every abstract method of the §7.1 interface that publishes something is exercised here.
    called = {name for call, _ in calls for name in call.__code__.co_names}
    assert called == set(Dashboard.__abstractmethods__) - SILENT_METHODS
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
