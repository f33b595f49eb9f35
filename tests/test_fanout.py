"""Live events through Redis: a benchmark publishing to a real redis-server, mirrors rebuilding state from it, the
registry listing every experiment, and a Redis that is down costing one log line."""

import json

import pytest

from genai_bench.config import ConfigError
from genai_bench.fanout import RedisSettings, redis_client
from genai_bench.fanout.settings import REGISTRY_KEY, meta_key, parse_duration, stream_key
from genai_bench.results import read_events
from tests.support.servers import free_port, run_benchmark


def test_settings_are_checked_in_one_line():
    assert RedisSettings.of(None) is None
    assert RedisSettings.of("redis://127.0.0.1:6379/2", 10, "7d").retention == 7 * 86400
    assert parse_duration("--x", "90m") == 5400 and parse_duration("--x", "") == 0
    for url, words in (("http://h:1/0", "scheme"), ("redis://h:1/abc", "database number"),
                       ("redis://h:99999/0", "port")):
        with pytest.raises(ConfigError, match=words):
            RedisSettings.of(url)
    with pytest.raises(ConfigError, match="--streaming-redis-retention"):
        RedisSettings.of("redis://h:1/0", retention="soon")
    with pytest.raises(ConfigError, match="--streaming-redis-maxlen"):
        RedisSettings.of("redis://h:1/0", maxlen=0)


def test_benchmark_publishes_every_event_with_its_id(redis_server, tmp_path):
    folder = run_benchmark(tmp_path, streaming_redis=RedisSettings(redis_server.url, retention=3600))
    client = redis_client(redis_server.url)
    stored, _ = read_events(folder / "events.ndjson")
    entries = client.xrange(stream_key("exp"))
    # The stream holds every event of the run, each under entry id 0-<event id>, with the very JSON of events.ndjson.
    assert [e[0].decode() for e in entries] == [f"0-{e['id']}" for e in stored]
    assert [json.loads(e[1][b"e"]) for e in entries] == stored
    entry = {k.decode(): v.decode() for k, v in client.hgetall(meta_key("exp")).items()}
    assert entry["status"] == "completed" and entry["folder"] == str(folder.resolve())
    assert json.loads(entry["summary"])["run_count"] == 2
    assert client.zrange(REGISTRY_KEY, 0, -1) == [b"exp"]
    assert 0 < client.ttl(stream_key("exp")) <= 3600  # --streaming-redis-retention


def test_a_second_benchmark_of_the_same_name_gets_its_own_id(redis_server, tmp_path):
    settings = RedisSettings(redis_server.url)
    run_benchmark(tmp_path / "a", streaming_redis=settings, concurrencies=(1,))
    run_benchmark(tmp_path / "b", streaming_redis=settings, concurrencies=(1,))
    assert sorted(redis_client(redis_server.url).zrange(REGISTRY_KEY, 0, -1)) == [b"exp", b"exp-2"]


def test_a_restarted_dashboard_rebuilds_the_state_even_from_a_trimmed_stream(redis_server, tmp_path):
    from genai_bench.web.fanout import redis_dashboard

    folder = run_benchmark(tmp_path, streaming_redis=RedisSettings(redis_server.url, maxlen=1))
    client = redis_client(redis_server.url)
    client.xtrim(stream_key("exp"), maxlen=1, approximate=False)  # only benchmark_completed is left
    stored, _ = read_events(folder / "events.ndjson")
    app, hub = redis_dashboard(redis_server.url)
    try:
        state = app.test_client().get("/live/exp/api/state").get_json()
        assert state["last_event_id"] == stored[-1]["id"]
        assert state["completed"]["status"] == "completed"
        assert [r["run_key"] for r in state["history"]] == [e["data"]["run_key"] for e in stored
                                                          if e["event_type"] == "run_completed"]
        assert state["metrics"] is not None and state["status"]["status"] == "completed"
    finally:
        hub.close()


def test_a_restarted_dashboard_lists_every_past_experiment_even_without_its_folder(redis_server, tmp_path):
    import shutil

    from genai_bench.web.fanout import redis_dashboard

    folder = run_benchmark(tmp_path, streaming_redis=RedisSettings(redis_server.url))
    shutil.rmtree(folder)  # the benchmark ran on another machine: only Redis knows it here
    app, hub = redis_dashboard(redis_server.url)
    try:
        client = app.test_client()
        listing = client.get("/api/experiments").get_json()["experiments"]
        assert [(e["id"], e["redis"], e["live"], e["run_count"]) for e in listing] == [("exp", True, False, 2)]
        detail = client.get("/api/experiments/exp").get_json()
        assert {r["concurrency"] for r in detail["runs"]} == {1, 2}
        assert detail["runs"][0]["aggregated"]["stats"]["ttft"]["p50"] > 0
        drill = client.get(f"/api/experiments/exp/runs/{detail['runs'][0]['key']}/requests")
        assert drill.status_code == 404 and "benchmark's machine" in drill.get_json()["error"]["message"]
        assert client.get("/live/nope/api/state").status_code == 404
    finally:
        hub.close()


def test_redis_down_costs_one_log_line_and_the_benchmark_completes(run_cli):
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    done = run_cli("benchmark", "--streaming-redis-url", url, "--num-concurrency", "1,2",
                   "--max-requests-per-run", "20", "--experiment-folder-name", "exp")
    assert done.returncode == 0, done.stderr
    redis_lines = [line for line in done.stderr.splitlines() if "Redis" in line]
    assert len(redis_lines) == 1 and "unreachable" in redis_lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert "Results written to" in done.stdout


def test_bad_redis_url_is_a_one_line_error(run_cli):
    done = run_cli("benchmark", "--streaming-redis-url", "http://x:1/0")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--streaming-redis-url" in done.stderr
    done = run_cli("serve", "--redis-url", f"redis://127.0.0.1:{free_port()}/0")
    assert done.returncode == 2 and "Redis does not answer" in done.stderr and "Traceback" not in done.stderr
    done = run_cli("serve")
    assert done.returncode == 2 and done.stderr.startswith("Error: serve needs --experiment-folder") \
        and "--redis-url" in done.stderr


def test_a_dashboard_follows_an_id_reused_after_its_keys_expired(redis_server, tmp_path):
    from genai_bench.fanout.settings import REGISTRY_KEY, experiment_keys
    from genai_bench.web.fanout import redis_dashboard

    settings = RedisSettings(redis_server.url)
    run_benchmark(tmp_path / "a", streaming_redis=settings, concurrencies=(1, 2))
    app, hub = redis_dashboard(redis_server.url)
    try:
        client = app.test_client()
        first = client.get("/live/exp/api/state").get_json()
        redis = redis_client(redis_server.url)
        redis.delete(*experiment_keys("exp"))  # as a retention expiry would
        redis.zrem(REGISTRY_KEY, "exp")
        assert client.get("/live/exp/api/state").status_code == 404
        folder = run_benchmark(tmp_path / "b", streaming_redis=settings, concurrencies=(1,))
        second = client.get("/live/exp/api/state").get_json()
        stored, _ = read_events(folder / "events.ndjson")
        assert len(first["history"]) == 2 and len(second["history"]) == 1
        assert second["last_event_id"] == stored[-1]["id"]
    finally:
        hub.close()


def test_websocket_token_and_environment_through_redis(redis_server, tmp_path):
    import websocket

    from genai_bench.deployment import app_from_environment
    from genai_bench.web.fanout import FanoutServer, redis_dashboard

    run_benchmark(tmp_path, streaming_redis=RedisSettings(redis_server.url))
    app, hub = redis_dashboard(redis_server.url, token="s3cret")
    client = app.test_client()
    assert client.get("/live/nope/api/state").status_code == 401  # the token is checked before Redis is asked
    assert client.get("/live/exp/api/state?token=s3cret").get_json()["completed"]["status"] == "completed"
    server = FanoutServer(app, hub, port=0).start()
    try:
        ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/live/exp/ws?token=s3cret", timeout=10)
        first = json.loads(ws.recv())
        ws.close()
        assert first["event_type"] in ("status", "progress", "metrics", "histogram", "scatter")
    finally:
        server.stop()
    with pytest.raises(ConfigError, match="not both"):
        app_from_environment({"GENAI_BENCH_REDIS_URL": redis_server.url, "GENAI_BENCH_BENCHMARK": "--seed 1"})


def test_a_running_benchmark_that_stopped_sending_is_not_live():
    import time

    from genai_bench.fanout.mirror import STALE_SECONDS, is_live

    now = time.time()
    assert is_live({"status": "running", "updated_at": str(now)})
    assert not is_live({"status": "running", "updated_at": str(now - STALE_SECONDS - 1)})  # killed mid-run
    assert not is_live({"status": "completed", "updated_at": str(now)})


def test_redis_calls_wait_cooperatively_under_gevent(redis_server):
    import gevent

    ticks = []

    def tick() -> None:
        for _ in range(10):
            ticks.append(1)
            gevent.sleep(0.02)

    ticker = gevent.spawn(tick)
    # A blocking read on gevent's patched socket lets the other greenlet run meanwhile (it never got a turn else).
    redis_client(redis_server.url, block_reads=True).xread({"nothing-here": "0-0"}, block=600)
    ticker.join(timeout=5)
    assert len(ticks) >= 5
