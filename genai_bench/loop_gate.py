"""Background work that yields to the benchmark: a gate that lets it run when the event loop has nothing else to do."""

from __future__ import annotations

from collections import deque
from time import perf_counter

import gevent
from gevent.hub import Waiter

# How much background work the gate lets run in one idle moment before the loop polls its sockets again.
DEFAULT_BUDGET_SECONDS = 0.0005
# Longest a waiter is deferred while the loop never goes idle; past it, one waiter passes per loop iteration.
DEFAULT_MAX_DEFER_SECONDS = 0.1


class LoopGate:
    """Greenlets doing work of low priority (dashboard handshakes, SSE snapshots) pass here first, in FIFO order.

    The gate opens in the loop's `idle` watcher, which libev runs only when no other event is pending: due timers
    (the simulator's first tokens) and readable sockets (a benchmark user's tokens) always go first, and background
    work fills the gaps, `budget` seconds at a time. So that a loop that never goes idle (a saturated client, already
    flagged as such) does not starve it, a `check` watcher lets one waiter through per iteration once the oldest
    has waited `max_defer` seconds.
    """

    def __init__(self, budget: float = DEFAULT_BUDGET_SECONDS, max_defer: float = DEFAULT_MAX_DEFER_SECONDS) -> None:
        self.budget = budget
        self.max_defer = max_defer
        self.waiters: deque[tuple[float, Waiter]] = deque()
        loop = gevent.get_hub().loop
        self._idle = loop.idle(ref=False)
        self._check = loop.check(ref=False)
        self.passed = 0

    def wait(self) -> None:
        """Block this greenlet until the gate lets it through (never from the hub itself)."""
        waiter = Waiter()
        self.waiters.append((perf_counter(), waiter))
        if not self._idle.active:
            self._idle.start(self._release, self.budget)
            self._check.start(self._release_overdue)
        waiter.get()

    def _release(self, budget: float) -> None:
        # Runs in the hub: each switch runs a waiter until it blocks again, then comes back here.
        deadline = perf_counter() + budget
        while self.waiters and perf_counter() < deadline:
            self._pass_one()

    def _release_overdue(self) -> None:
        if self.waiters and perf_counter() - self.waiters[0][0] > self.max_defer:
            self._pass_one()

    def _pass_one(self) -> None:
        self.passed += 1
        self.waiters.popleft()[1].switch(None)
        if not self.waiters:
            self._idle.stop()
            self._check.stop()

    def close(self) -> None:
        """Let every waiter through and stop the watchers (the server is stopping)."""
        loop = gevent.get_hub().loop
        while self.waiters:
            loop.run_callback(self.waiters.popleft()[1].switch, None)
        self._idle.stop()
        self._check.stop()
