"""The client's self-diagnosis: CPU and event-loop lag."""

import time

import gevent

from genai_bench.monitor import ClientMonitor


def test_idle_client_is_not_saturated():
    warnings = []
    monitor = ClientMonitor(warnings.append)
    monitor.start()
    gevent.sleep(1.3)
    health = monitor.stop()
    assert not health.saturated and warnings == []
    assert health.loop_lag_p99_ms < 1.0 and health.cpu_percent_max < 80


def test_a_blocked_loop_is_reported_as_saturated():
    warnings = []
    monitor = ClientMonitor(warnings.append)
    monitor.start()

    def hog():  # CPU work that never yields for 20 ms at a time, as an overloaded client would
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            spin_until = time.perf_counter() + 0.02
            while time.perf_counter() < spin_until:
                pass
            gevent.sleep(0)

    gevent.spawn(hog).join()
    health = monitor.stop()
    assert health.saturated and health.loop_lag_p99_ms > 5
    assert len(warnings) == 1 and "--num-workers" in warnings[0]
