"""What a run's Locust users share: the start line that holds their first requests."""

import time

import gevent

from genai_bench.user import StartLine


def test_start_line_opens_when_the_last_user_arrives():
    line = StartLine(3, timeout=5.0)
    released = []

    def user(name: str) -> None:
        line.arrive()
        released.append(name)

    first_two = [gevent.spawn(user, name) for name in ("a", "b")]
    gevent.sleep(0.05)
    assert released == [] and line.missing == 1
    user("c")
    gevent.joinall(first_two, timeout=1)
    assert sorted(released) == ["a", "b", "c"]


def test_start_line_lets_users_go_after_its_timeout_when_one_never_arrives():
    line = StartLine(2, timeout=0.1)
    started = time.perf_counter()
    line.arrive()
    assert 0.1 <= time.perf_counter() - started < 1.0
    assert not line.open.is_set()


def test_start_line_for_no_users_is_open():
    assert StartLine(0, timeout=1.0).open.is_set()
