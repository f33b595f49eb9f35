"""When bytes reached this machine: the kernel's receive timestamps (Linux SO_TIMESTAMPNS) on the perf_counter clock.

A process on a busy gevent loop reads a socket some time after the bytes arrived; stamping them with perf_counter
at read time adds that lag to every latency it measures. The kernel stamps each packet as it is received, so a
reader that asks for the stamp (recvmsg ancillary data) times the bytes themselves, however late it reads them.
Elsewhere (or when the kernel gives no stamp) the time of the read is used.
"""

from __future__ import annotations

import socket
import struct
import sys
import time

import gevent.socket

# Linux's SO_TIMESTAMPNS (also the type of its control message), missing from Python's socket module; the kernel
# then attaches the CLOCK_REALTIME arrival of the last packet read as a struct timespec.
_SO_TIMESTAMPNS = 35 if sys.platform.startswith("linux") else None
_TIMESPEC = struct.Struct("@ll")
ANCILLARY_SPACE = socket.CMSG_SPACE(_TIMESPEC.size) if hasattr(socket, "CMSG_SPACE") else 0


def enable_receive_timestamps(sock: socket.socket) -> bool:
    """Ask the kernel to stamp the packets this socket receives; False where it cannot."""
    if _SO_TIMESTAMPNS is None or not ANCILLARY_SPACE:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def received_at(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The perf_counter time at which the kernel received the bytes of a recvmsg() call (now when it did not say)."""
    now = time.perf_counter()
    for level, kind, data in ancillary:
        if kind == _SO_TIMESTAMPNS and level == socket.SOL_SOCKET and len(data) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)
            # Both clocks are read together, so only the stamp's age crosses from one clock to the other.
            age = (time.time_ns() - (seconds * 1_000_000_000 + nanoseconds)) / 1e9
            return now - age if age > 0.0 else now
    return now


class ReceiveTimedSocket(gevent.socket.socket):
    """A gevent socket whose recv() keeps the kernel's receive time of the bytes it returned in `received_at`."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stamped = enable_receive_timestamps(self)
        self.received_at = 0.0

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Read like socket.recv, noting when the bytes arrived."""
        if self.stamped:
            data, ancillary, _, _ = self.recvmsg(bufsize, ANCILLARY_SPACE, flags)
        else:
            data, ancillary = super().recv(bufsize, flags), []
        self.received_at = received_at(ancillary)
        return data
