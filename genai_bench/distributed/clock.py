"""A remote worker's clocks against the master's, estimated NTP-style from a few ping exchanges at connect.

Durations are measured on each worker with its own perf_counter and never span machines; only the instants (a
request's start, first token, end, its scheduled send time) are moved onto the master's clock, by the offset the
exchange with the shortest round trip gives: its error is at most half that round trip.
"""

from __future__ import annotations

from dataclasses import dataclass

from gevent.event import Event

from genai_bench.distributed.messages import Ping, Pong

# Exchanges per worker; the shortest round trip of these wins (queueing delays only ever lengthen one).
SYNC_ROUNDS = 8


@dataclass(frozen=True)
class ClockOffset:
    """How far a worker's clocks are ahead of the master's (seconds), and the round trip that measured it."""

    offset: float  # worker perf_counter minus master perf_counter: master time = worker time - offset
    wall_offset: float  # worker time.time() minus master time.time(): what NTP would call the worker's skew
    round_trip: float

    def to_dict(self) -> dict:
        """The figures the metadata and the log report (the perf_counter offset is arbitrary: it is not)."""
        return {"wall_clock_offset": self.wall_offset, "round_trip": self.round_trip,
                "uncertainty": self.round_trip / 2}


SAME_CLOCK = ClockOffset(0.0, 0.0, 0.0)  # a worker on the master's host: one CLOCK_MONOTONIC, nothing to estimate


class ClockSync:
    """The master's side of one worker's exchanges: next ping, each pong's sample, the best one once done."""

    def __init__(self, rounds: int = SYNC_ROUNDS) -> None:
        self.rounds = rounds
        self.samples: list[ClockOffset] = []
        self.done = Event()

    def ping(self, now: float, wall: float) -> Ping:
        """The next ping to send, stamped with the master's clocks."""
        return Ping(len(self.samples), now, wall)

    def on_pong(self, pong: Pong, now: float, wall: float) -> bool:
        """Add the sample a pong gives (received at the master's `now`, `wall`); False for a duplicate or stray one.
        `done` is set by the last sample."""
        if pong.seq != len(self.samples) or self.done.is_set():
            return False
        self.samples.append(ClockOffset(offset=pong.clock - (pong.sent + now) / 2,
                                        wall_offset=pong.wall - (pong.sent_wall + wall) / 2,
                                        round_trip=now - pong.sent))
        if len(self.samples) >= self.rounds:
            self.done.set()
        return True

    @property
    def best(self) -> ClockOffset:
        """The sample with the shortest round trip (SAME_CLOCK before any)."""
        return min(self.samples, key=lambda s: s.round_trip, default=SAME_CLOCK)
