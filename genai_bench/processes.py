"""Process-level care: child processes started and ended one way, that never outlive their parent, and a heap
settled before timed work."""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

import gevent

PARENT_POLL_INTERVAL = 0.5
PR_SET_PDEATHSIG = 1
# How long end_children waits after each signal before the next, harder one.
SIGNAL_GRACE = 2.0


def spawn_child(subcommand: Sequence[str], payload: bytes, stdout: int | None = subprocess.DEVNULL) -> subprocess.Popen:
    """Start `python -m genai_bench SUBCOMMAND... --parent-pid <this pid>` with `payload` on its stdin.

    The payload goes on stdin, not argv, so that secrets such as an API key stay out of the process list.
    """
    command = [sys.executable, "-m", "genai_bench", *subcommand, "--parent-pid", str(os.getpid())]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=stdout)
    process.stdin.write(payload)
    process.stdin.close()
    return process


def end_children(processes: Sequence[subprocess.Popen], timeout: float = 0.0) -> None:
    """Give child processes `timeout` seconds to exit on their own, then terminate, then kill the ones left."""
    for send in (None, subprocess.Popen.terminate, subprocess.Popen.kill):
        alive = [process for process in processes if process.poll() is None]
        if not alive:
            return
        if send is not None:
            for process in alive:
                send(process)
        # One deadline for them all: they end in parallel, so N children take no longer than one.
        deadline = time.monotonic() + (timeout if send is None else SIGNAL_GRACE)
        for process in alive:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                continue


def follow_parent(parent_pid: int | None) -> None:
    """Start-up of a spawned child: leave Ctrl-C to the parent and never outlive it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent decides
    die_with_parent(parent_pid)


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
