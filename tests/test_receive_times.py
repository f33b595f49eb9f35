"""Kernel receive timestamps: bytes are timed when they reached the machine, not when a busy loop read them."""

import socket
import sys
import time

import pytest

from genai_bench.receive_times import ReceiveTimedSocket, received_at

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_TIMESTAMPNS is Linux's")


def spin(seconds: float) -> None:
    """Keep this process busy without yielding to gevent, like a client at full CPU."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@pytest.fixture
def connected_pair():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    receiver = ReceiveTimedSocket()
    receiver.connect(listener.getsockname())
    sender, _ = listener.accept()
    time.sleep(0.1)  # when no socket had stamps on, the kernel turns them on in deferred work; let it run
    yield sender, receiver
    for sock in (sender, receiver, listener):
        sock.close()


def test_bytes_read_late_keep_their_arrival_time(connected_pair):
    sender, receiver = connected_pair
    assert receiver.stamped
    sent = time.perf_counter()
    sender.sendall(b"data: first token\n\n")
    spin(0.08)
    data = receiver.recv(4096)
    read = time.perf_counter()
    assert data == b"data: first token\n\n"
    assert receiver.received_at - sent < 0.02  # arrival, on the perf_counter clock
    assert read - receiver.received_at > 0.07  # not the read


def test_each_read_has_its_own_arrival(connected_pair):
    sender, receiver = connected_pair
    arrivals = []
    for _ in range(3):
        sender.sendall(b"chunk")
        spin(0.03)
        receiver.recv(4096)
        arrivals.append(receiver.received_at)
    assert arrivals[0] < arrivals[1] < arrivals[2]
    assert all(later - earlier > 0.025 for earlier, later in zip(arrivals, arrivals[1:]))


def test_no_stamp_means_the_time_of_the_read():
    before = time.perf_counter()
    stamp = received_at([])
    assert before <= stamp <= time.perf_counter()
