"""The client's self-diagnosis: CPU and event-loop lag."""

import time

import gevent
import numpy as np
from gevent import monkey

from genai_bench.monitor import STORM_CONNECTIONS, ClientMonitor, ConnectionCounter

blocking_sleep = monkey.get_original("time", "sleep")  # time.sleep itself is gevent's: it would yield


def test_saturation_is_cpu_above_80_percent_throughout_or_loop_lag_p90_above_1_ms():
    assert ClientMonitor._saturated([90.0, 85.0], np.zeros(10))
    assert not ClientMonitor._saturated([90.0, 70.0], np.zeros(10))  # one calm second is enough
    # One sample in ten at 50 ms: p90 sits at position 0.9 * 9 = 8.1, 0.1 + 0.1 * (50 - 0.1) = 5.09 ms.
    assert ClientMonitor._saturated([], np.array([0.1] * 9 + [50.0]))
    # One in eleven: p90 at position 9.0, 0.1 ms: a rare spike is recorded, not flagged.
    assert not ClientMonitor._saturated([], np.array([0.1] * 10 + [50.0]))


def lag_p99_ms(block_seconds: float) -> float:
    """The loop-lag p99 a monitor reports over 0.35 s (4 samples) when the loop is blocked once for
    `block_seconds` right after the first sample is queued."""
    monitor = ClientMonitor(lambda warning: None)
    monitor.start()  # its greenlet starts on the hub's next round of callbacks...
    if block_seconds:  # ...and queues its first sample behind this one
        gevent.get_hub().loop.run_callback(blocking_sleep, block_seconds)
    gevent.sleep(0.35)
    return monitor.stop().loop_lag_p99_ms


def test_a_blocking_sleep_shows_up_as_lag_and_an_idle_loop_shows_far_less():
    # With 4 samples p99 sits at position 0.99 * 3 = 2.97: 97% of the way to the largest, the blocked one.
    assert lag_p99_ms(0.05) >= 40
    # Idle, a queued callback runs at once; even a busy host's scheduling delays stay well under 50 ms.
    assert lag_p99_ms(0) < 10


def test_a_loop_kept_busy_is_reported_as_saturated_once():
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
    assert health.saturated and health.loop_lag_p99_ms >= 15  # a sample waits behind one 20 ms stretch
    assert len(warnings) == 1 and "--num-workers" in warnings[0]


def test_a_burst_of_connections_while_the_loop_stalls_is_a_storm_that_marks_the_run_saturated():
    warnings = []
    connections = ConnectionCounter()
    monitor = ClientMonitor(warnings.append, connections)
    monitor.start()
    gevent.sleep(0.15)
    for _ in range(STORM_CONNECTIONS + 5):
        connections.note()
    gevent.sleep(0.05)  # the monitor sees the burst and samples every 10 ms...
    gevent.get_hub().loop.run_callback(blocking_sleep, 0.03)  # ...so a 30 ms stall cannot slip between samples
    gevent.sleep(1.3)  # the burst leaves the one-second window: the storm ends
    health = monitor.stop()
    [storm] = health.connection_storms
    assert storm["connections"] == STORM_CONNECTIONS + 5 and storm["peak_per_second"] == STORM_CONNECTIONS + 5
    assert storm["distorted"] and storm["lag_max_ms"] >= 25  # the stall, wherever it fell between samples
    reason = (f"dashboard connection storm: {STORM_CONNECTIONS + 5} connections in 1 s at {storm['started_s']:.1f} s "
              f"(event-loop lag up to {storm['lag_max_ms']:.0f} ms)")
    assert health.saturated and reason in health.reasons  # beside any the busy machine itself caused
    assert [w for w in warnings if w.startswith("dashboard")] == [f"{reason}: timings in that interval may be late; "
                                                                  "the run is marked client_saturated"]


def test_a_few_connections_are_no_storm():
    connections = ConnectionCounter()
    monitor = ClientMonitor(lambda warning: None, connections)
    monitor.start()
    for _ in range(STORM_CONNECTIONS - 1):
        connections.note()
    gevent.sleep(0.2)
    assert monitor.stop().connection_storms == []
