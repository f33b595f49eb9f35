"""Dashboards fed by Redis: `gunicorn -k gevent -w 4 wsgi:app` with GENAI_BENCH_REDIS_URL serving benchmarks that
publish with --streaming-redis-url (same ids from every worker, resuming on another worker), two benchmarks at once,
a restarted `genai-bench serve --redis-url` catching up, and the page's experiment picker."""

import signal
import sys
import time

import pytest

from tests.support.processes import REPO_ROOT, genai_bench_command
from tests.support.redis import wait_for
from tests.support.servers import free_port, http_json, wait_until_listening
from tests.support.sse import SSEReader

WORKERS = 4
PID_HEADER = "X-Genai-Bench-Pid"


@pytest.fixture
def benchmark_to_redis(child_processes, redis_server, tmp_path):
    """Start a long `genai-bench benchmark --streaming-redis-url` child named `name`; returns once it runs."""

    def start(name: str = "exp", *extra: str):
        child = child_processes(genai_bench_command(
            "benchmark", "--streaming-redis-url", redis_server.url, "--num-concurrency", "2",
            "--max-requests-per-run", "100000", "--max-time-per-run", "1", "--experiment-base-dir", str(tmp_path),
            "--experiment-folder-name", name, "--model", f"model-of-{name}", *extra))
        child.wait_for(r"Experiment folder:", 30)
        return child

    return start


@pytest.fixture
def redis_gunicorn(child_processes, redis_server):
    """`gunicorn -k gevent -w 4 wsgi:app` on one port with GENAI_BENCH_REDIS_URL; `url` once it answers."""
    port = free_port()
    server = child_processes([sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", str(WORKERS), "-b",
                              f"127.0.0.1:{port}", "--chdir", str(REPO_ROOT), "wsgi:app"],
                             env={"GENAI_BENCH_REDIS_URL": redis_server.url, "GENAI_BENCH_HEARTBEAT_SECONDS": "1"})
    wait_until_listening(port, server, timeout=30)
    server.url = f"http://127.0.0.1:{port}"
    assert wait_for(lambda: _answers(server.url + "/healthz"), 30), server.output
    return server


def _answers(url: str) -> bool:
    try:
        return http_json(url)[0] == 200
    except OSError:
        return False


def _live(url: str, experiment: str) -> int:
    """The experiment's newest event id once it has some (0 before)."""
    status, state = http_json(f"{url}/live/{experiment}/api/state")
    return state["last_event_id"] if status == 200 else 0


def _ids(reader: SSEReader, count: int) -> list[int]:
    """The ids of the next `count` events (heartbeats carry none)."""
    ids = []
    while len(ids) < count:
        frame = reader.frame()
        if "id" in frame:
            ids.append(int(frame["id"]))
    return ids


def _streams_on_every_worker(url: str, path: str, headers: dict, attempts: int = 200) -> dict[int, SSEReader]:
    """One open SSE stream per gunicorn worker (connecting until all four pids answered), by pid."""
    readers: dict[int, SSEReader] = {}
    for _ in range(attempts):
        reader = SSEReader(url + path, headers=headers, timeout=20)
        pid = int(reader.response.getheader(PID_HEADER))
        if pid in readers:
            reader.close()
        else:
            readers[pid] = reader
        if len(readers) == WORKERS:
            return readers
    for reader in readers.values():
        reader.close()
    pytest.fail(f"only workers {sorted(readers)} answered {attempts} connections")


def test_four_gunicorn_workers_stream_the_same_event_ids(benchmark_to_redis, redis_gunicorn):
    benchmark_to_redis("exp")
    start = wait_for(lambda: _live(redis_gunicorn.url, "exp") > 5, 30) and _live(redis_gunicorn.url, "exp")
    readers = _streams_on_every_worker(redis_gunicorn.url, "/events?experiment=exp", {"Last-Event-ID": str(start)})
    try:
        # Every worker resumes after the same id and hands out the same ids, none missing, with the same content.
        seen = {pid: _ids(reader, 30) for pid, reader in readers.items()}
        assert all(ids == list(range(start + 1, start + 31)) for ids in seen.values()), seen
    finally:
        for reader in readers.values():
            reader.close()


def test_a_viewer_resuming_on_another_worker_misses_nothing(benchmark_to_redis, redis_gunicorn):
    benchmark_to_redis("exp")
    assert wait_for(lambda: _live(redis_gunicorn.url, "exp") > 0, 30)
    first = SSEReader(redis_gunicorn.url + "/live/exp/events", timeout=20)
    first_pid = int(first.response.getheader(PID_HEADER))
    frames = [first.frame() for _ in range(12)]
    first.close()
    last = max(int(f["id"]) for f in frames if "id" in f)
    time.sleep(1.0)  # events keep coming while the viewer is away
    for _ in range(200):
        # The Redis stream's own entry id (0-N) works as well as the event id N.
        again = SSEReader(redis_gunicorn.url + "/live/exp/events", headers={"Last-Event-ID": f"0-{last}"}, timeout=20)
        if int(again.response.getheader(PID_HEADER)) != first_pid:
            break
        again.close()
    else:
        pytest.fail("no other worker answered")
    try:
        assert _ids(again, 20) == list(range(last + 1, last + 21))
        started = time.monotonic()
        redis_gunicorn.send_signal(signal.SIGTERM)  # with the stream still open
        redis_gunicorn.wait_exit(timeout=60)
        assert time.monotonic() - started < 15  # not gunicorn's 30 s graceful timeout: the streams were ended
    finally:
        again.close()


def test_two_benchmarks_at_once_both_appear_live(benchmark_to_redis, redis_gunicorn):
    benchmark_to_redis("alpha")
    benchmark_to_redis("beta")
    url = redis_gunicorn.url

    def both_live():
        listed = http_json(url + "/api/experiments")[1]["experiments"]
        return {e["id"] for e in listed if e["live"] and e["redis"]} == {"alpha", "beta"}

    assert wait_for(both_live, 30)
    picker = http_json(url + "/api/redis/experiments")[1]["experiments"]  # what the page's picker polls
    assert {(e["id"], e["model"], e["live"]) for e in picker} == {("alpha", "model-of-alpha", True),
                                                                 ("beta", "model-of-beta", True)}
    for name in ("alpha", "beta"):
        status = http_json(f"{url}/api/status?experiment={name}")[1]
        assert status["model"] == f"model-of-{name}" and status["status"] == "running"
        reader = SSEReader(f"{url}/live/{name}/events?types=status", timeout=20)
        try:
            assert reader.events(1)[0]["data"]["data"]["model"] == f"model-of-{name}"
        finally:
            reader.close()


def test_a_restarted_serve_catches_up_and_resumes_the_same_ids(benchmark_to_redis, redis_server, child_processes):
    benchmark_to_redis("exp")

    def serve():
        child = child_processes(genai_bench_command("serve", "--redis-url", redis_server.url, "--port", "0"))
        child.url = child.wait_for(r"at (http://\S+?/) \(Ctrl-C", 20).group(1)
        return child

    first = serve()
    assert wait_for(lambda: _live(first.url.rstrip("/"), "exp") > 3, 30)
    reader = SSEReader(first.url + "live/exp/events", timeout=20)
    ids = _ids(reader, 8)
    reader.close()
    first.stop()
    time.sleep(1.0)
    second = serve()  # a dashboard restarted mid-run: its state comes from Redis
    state = http_json(second.url + "live/exp/api/state")[1]
    assert state["last_event_id"] > ids[-1] and state["status"]["status"] == "running"
    assert state["metrics"] is not None and state["timeseries"]
    reader = SSEReader(second.url + "live/exp/events", headers={"Last-Event-ID": str(ids[-1])}, timeout=20)
    try:
        assert _ids(reader, 15) == list(range(ids[-1] + 1, ids[-1] + 16))
    finally:
        reader.close()


def test_the_page_switches_between_live_benchmarks(benchmark_to_redis, redis_server, child_processes, page):
    benchmark_to_redis("alpha")
    benchmark_to_redis("beta")
    serve = child_processes(genai_bench_command("serve", "--redis-url", redis_server.url, "--port", "0"))
    url = serve.wait_for(r"at (http://\S+?/) \(Ctrl-C", 20).group(1)
    assert wait_for(lambda: all(_live(url.rstrip("/"), n) for n in ("alpha", "beta")), 30)
    page.goto(url + "live/alpha/")
    page.wait_for_selector("#experiment-picker:not([hidden])")
    page.wait_for_function("document.getElementById('model-name').textContent === 'model-of-alpha'")
    page.wait_for_function("document.getElementById('connection').dataset.state === 'live'")
    page.select_option("#experiment-select", "beta")
    page.wait_for_url("**/live/beta/")
    page.wait_for_function("document.getElementById('model-name').textContent === 'model-of-beta'")
    page.wait_for_function("document.getElementById('connection').dataset.state === 'live'")
    page.wait_for_selector("#experiment-picker:not([hidden])")  # the new page's picker is filled again
    assert page.eval_on_selector("#experiment-select", "s => s.value") == "beta"
    options = page.eval_on_selector_all("#experiment-select option", "os => os.map(o => o.textContent)")
    assert any("alpha" in o and "live" in o for o in options) and any("beta" in o for o in options)
