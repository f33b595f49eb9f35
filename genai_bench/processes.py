"""Child processes that never outlive the process that started them (Locust workers, simulator workers)."""

from __future__ import annotations

import ctypes
import os
import signal

import gevent

PARENT_POLL_INTERVAL = 0.5
PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None) -> None:
    """Never outlive the parent: the kernel signals us when it dies (Linux), and we poll in case it is not Linux."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (AttributeError, OSError):
        pass
    if parent_pid is None:
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            gevent.sleep(PARENT_POLL_INTERVAL)
        os._exit(1)

    gevent.spawn(watch)
