"""Background work that yields to the benchmark: a gate that lets a little of it run per event-loop iteration."""

from __future__ import annotations

from collections import deque
from time import perf_counter

import gevent
from gevent.hub import Waiter

# How much background work the gate lets run per loop iteration before the loop polls its sockets again.
DEFAULT_BUDGET_SECONDS = 0.0005


class LoopGate:
    """Greenlets doing work of low priority (dashboard handshakes, SSE writes) pass here first, in FIFO order.

    The loop's I/O callbacks (a benchmark user reading its tokens) run first in each iteration; only then, in a
    `check` watcher, does the gate let waiters through, until `budget` seconds have gone. A burst of 200 viewers
    then costs the benchmark at most about one budget (plus one waiter's step) per iteration instead of one long
    stall. While waiters remain, an `idle` watcher keeps the loop from blocking in its poll and drains them
    whenever nothing else is pending, so the gate never starves background work on an idle loop.
    """

    def __init__(self, budget: float = DEFAULT_BUDGET_SECONDS) -> None:
        self.budget = budget
        self.waiters: deque[Waiter] = deque()
        loop = gevent.get_hub().loop
        self._check = loop.check(ref=False)
        self._idle = loop.idle(ref=False)
        self.passed = 0

    def wait(self) -> None:
        """Block this greenlet until the gate lets it through (never from the hub itself)."""
        waiter = Waiter()
        self.waiters.append(waiter)
        if not self._check.active:
            self._check.start(self._release)
            self._idle.start(self._release)
        waiter.get()

    def _release(self) -> None:
        # Runs in the hub: each switch runs a waiter until it blocks again, then comes back here.
        deadline = perf_counter() + self.budget
        while self.waiters and perf_counter() < deadline:
            self.passed += 1
            self.waiters.popleft().switch(None)
        if not self.waiters:
            self._check.stop()
            self._idle.stop()

    def close(self) -> None:
        """Let every waiter through and stop the watchers (the server is stopping)."""
        while self.waiters:
            waiter = self.waiters.popleft()
            gevent.get_hub().loop.run_callback(waiter.switch, None)
        self._check.stop()
        self._idle.stop()
