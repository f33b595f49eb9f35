"""Timing of the simulated streams: sleeping to perf_counter deadlines, one precise clock for first and last tokens,
and prompt counting deferred to idle moments."""

import collections
import heapq
import itertools
import time

import gevent
from gevent.event import Event
from gevent.lock import Semaphore

from genai_bench.simulator.responses import Plan

# How far ahead of a first or last token's deadline a request's intake waits for it (about one intake's CPU time).
INTAKE_HORIZON = 0.0003


def sleep_until(deadline: float, spin: float = 0.0) -> None:
    """Sleep until an absolute perf_counter deadline, never waking early (libev timers: up to 1 ms late)."""
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return
        gevent.sleep(remaining - spin if remaining > spin else 0)


class PreciseClock:
    """Wakes streams at their perf_counter deadlines to within a hub round, with one greenlet timing them all.

    libev's epoll backend rounds timer waits up to whole ms (0-1 ms late); yielding through the last `spin` seconds
    instead is exact but keeps the loop busy. When each stream spun on its own, hundreds of first tokens due at once
    filled every hub round with spinning greenlets and new requests waited behind them. Every deadline is known here
    from the moment a stream starts waiting, so work that can wait (a request's intake) can make way for it.
    """

    def __init__(self, spin: float) -> None:
        self.spin = spin
        self._due: list[tuple[float, int, Event]] = []
        self._order = itertools.count()
        self._timer: gevent.Greenlet | None = None
        self._earlier = Event()  # set when a deadline earlier than every other arrives
        self._nothing_soon = Event()  # set while no deadline falls within INTAKE_HORIZON
        self._nothing_soon.set()
        self._way = Semaphore()  # one intake at a time waits for the clock; the rest queue behind it, woken once

    def sleep_until(self, deadline: float) -> None:
        """Return at `deadline`, not before, and (with a spin) within a hub round after it."""
        if self.spin <= 0:
            sleep_until(deadline)
            return
        woken = Event()
        if not self._due or deadline < self._due[0][0]:
            self._earlier.set()
        heapq.heappush(self._due, (deadline, next(self._order), woken))
        if self._timer is None:
            self._timer = gevent.spawn(self._wake_streams)
        woken.wait()

    def make_way(self) -> None:
        """Wait while a deadline falls within INTAKE_HORIZON, so that work that can wait does not make a token late.

        A request's intake can wait (its delays count from the kernel's receive time); a first or last token cannot.
        """
        if not self._due_soon(time.perf_counter()):
            return
        with self._way:
            while self._due_soon(time.perf_counter()):
                self._nothing_soon.clear()
                self._nothing_soon.wait()

    def _due_soon(self, now: float) -> bool:
        return bool(self._due) and self._due[0][0] - now <= INTAKE_HORIZON

    def _wake_streams(self) -> None:
        try:
            while self._due:
                now = time.perf_counter()
                while self._due and self._due[0][0] <= now:
                    heapq.heappop(self._due)[2].set()
                if not self._due_soon(now):
                    self._nothing_soon.set()  # after the woken streams: their wake-ups were scheduled first
                if not self._due:
                    break
                remaining = self._due[0][0] - now
                if remaining > self.spin:
                    self._earlier.clear()
                    self._earlier.wait(remaining - self.spin)  # a timer, cut short by an earlier deadline
                else:
                    gevent.sleep(0)
        finally:
            self._timer = None
            self._nothing_soon.set()


class IdleCounter:
    """Counts the prompt tokens of planned requests while the event loop has nothing else to do.

    A usage chunk needs the prompt's token count (~0.1-0.2 ms of tokenizing). Counted when the stream ends, it lands
    in the same instant as the other streams of a closed-loop burst ending and their next requests arriving, and
    delays when those are taken; counted in idle moments mid-stream, it delays nothing. A plan whose stream ends
    before an idle moment came counts itself then.
    """

    def __init__(self) -> None:
        self._pending: collections.deque[Plan] = collections.deque()
        self._worker: gevent.Greenlet | None = None

    def submit(self, plan: Plan) -> None:
        """Count `plan`'s prompt at the next idle moment."""
        self._pending.append(plan)
        if self._worker is None:
            self._worker = gevent.spawn(self._work)

    def _work(self) -> None:
        try:
            while self._pending:
                gevent.idle()  # returns when no I/O or timer callback is waiting
                self._pending.popleft().prompt_tokens
        finally:
            self._worker = None
