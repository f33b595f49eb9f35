"""Process-level care: child processes that never outlive their parent, and a heap settled before timed work."""

from __future__ import annotations

import ctypes
import gc
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


def freeze_long_lived_objects() -> None:
    """Exempt every object alive now (modules, tokenizer, word pools) from future garbage collections.

    Used by the simulator's processes: a full collection walks every tracked object, and with what start-up leaves
    behind it stalled the loop for about 10 ms in the middle of a burst of first tokens. Objects frozen here are still
    freed by reference counting.
    """
    gc.collect()
    gc.freeze()
