"""The workers of a cluster as the master knows them: local processes it started, or remote workers that joined,
each with its clock offset, and how each is found lost."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter

import gevent
from locust.runners import STATE_INIT, STATE_MISSING, MasterRunner

from genai_bench import __version__
from genai_bench.config import ConfigError
from genai_bench.distributed.clock import SAME_CLOCK, ClockOffset, ClockSync
from genai_bench.distributed.messages import Hello, Pong, Ready, Refuse, Setup, send

# Locust counts a worker's heartbeat down by one a second from 3 and marks it missing below 0; a remote worker
# silent this far below (about 6 s without a heartbeat) is lost. A busy worker still beats once a second.
LOST_HEARTBEAT = -3
# Longest a run's start waits for the remote workers' clocks to be measured again.
RESYNC_TIMEOUT = 2.0


@dataclass
class Member:
    """One worker: where it runs, whether it is set up, its clock offset, and whether (and what) it lost."""

    index: int
    process: subprocess.Popen | None = None  # a local worker's process; None for a remote one
    node_id: str | None = None
    host: str = ""
    pid: int | None = None
    ready: bool = False  # configured (a local worker is, before it connects)
    clock: ClockSync | None = None  # a remote worker's estimate; None: the master's host, the same clock
    joined: ClockOffset | None = None  # the estimate when it joined (the current one is re-measured before each run)
    lost: bool = False
    lost_requests: int = 0  # issued by this worker and never recorded, over every run
    lost_in: list[str] = field(default_factory=list)  # the runs it was lost in

    @property
    def offset(self) -> ClockOffset:
        """This worker's clocks against the master's (SAME_CLOCK on the master's host)."""
        return SAME_CLOCK if self.clock is None else self.clock.best

    @property
    def synced(self) -> bool:
        """Its clock offset is known."""
        return self.clock is None or self.clock.done.is_set()

    @property
    def label(self) -> str:
        """How messages name it: "worker 1 (host-b, pid 4242)"."""
        where = ", ".join(part for part in (self.host, self.pid and f"pid {self.pid}") if part)
        return f"worker {self.index}" + (f" ({where})" if where else "")

    def is_ready(self, runner: MasterRunner) -> bool:
        """Connected, configured, its clock measured and idle (Locust's "ready")."""
        client = runner.clients.get(self.node_id) if self.node_id else None
        return client is not None and client.state == STATE_INIT and self.ready and self.synced

    def gone(self, runner: MasterRunner) -> str | None:
        """Why this worker is lost (its process exited, it quit, it went silent), or None while it is alive."""
        if self.process is not None and (code := self.process.poll()) is not None:
            return f"its process exited with code {code}"
        if self.node_id is None:
            return None
        client = runner.clients.get(self.node_id)
        if client is None:
            return "it left the master: its process was interrupted"
        # Before it is set up a worker may be busy building its workload: silence then is not death.
        if self.process is None and self.ready and client.state == STATE_MISSING and client.heartbeat <= LOST_HEARTBEAT:
            return "no heartbeat for several seconds"
        return None

    def describe(self) -> dict:
        """The metadata's entry for this worker."""
        drift = 0.0 if self.joined is None else self.offset.offset - self.joined.offset
        return {"index": self.index, "host": self.host, "pid": self.pid, "remote": self.clock is not None,
                **self.offset.to_dict(), "clock_drift": drift, "lost": self.lost, "lost_requests": self.lost_requests,
                "lost_in": list(self.lost_in)}


class Roster:
    """The master's workers and how they join: local ones say hello with the index they were started with; remote
    ones are numbered as they come, sent the settings, and their clocks measured, until `expected` are ready."""

    def __init__(self, expected: int, remote: bool, log_message: Callable[[str, str], None],
                 announce: Callable[[str], None]) -> None:
        self.expected = expected
        self.remote = remote
        self.log_message = log_message
        self.announce = announce
        self.members: list[Member] = []
        self.runner: MasterRunner | None = None
        self.payload: tuple[dict, dict, list[str]] = ({}, {}, [])  # payload.pack(): settings, files, notes
        self.accepting = remote  # remote workers may join until the first run
        self.setup_error: str | None = None
        self.joins = 0  # remote workers numbered so far (one that leaves early does not give back its number)
        self.joined: list[str] = []  # one line per remote worker joined, for the log once the benchmark starts

    def member(self, node_id: str) -> Member | None:
        """The worker with this Locust node id."""
        return next((m for m in self.members if m.node_id == node_id), None)

    def all_ready(self) -> bool:
        """Every expected worker has joined and every live one is set up, its clock measured, and idle."""
        live = [m for m in self.members if not m.lost]
        if self.remote and self.accepting and len(live) < self.expected:
            return False
        return all(m.is_ready(self.runner) for m in live)

    def resync(self, timeout: float = RESYNC_TIMEOUT) -> None:
        """Before a run: measure each live remote worker's clock again (monotonic clocks drift by a few parts per
        million); a worker that does not answer in time keeps its last estimate."""
        members = [m for m in self.members if m.clock is not None and m.clock.done.is_set() and not m.lost]
        previous = {m.index: m.clock for m in members}
        for member in members:
            member.clock = ClockSync()
            send(self.runner, member.clock.ping(perf_counter(), time.time()), client_id=member.node_id)
        with gevent.Timeout(timeout, False):
            for member in members:
                member.clock.done.wait()
        for member in members:
            if not member.clock.done.is_set():
                member.clock = previous[member.index]

    def check_joining(self) -> None:
        """A worker that cannot join fails the start; a remote one that vanished leaves its place to another."""
        if self.setup_error is not None:
            raise ConfigError(self.setup_error)
        for member in list(self.members):
            if (reason := member.gone(self.runner)) is None:
                continue
            if member.process is not None:
                raise ConfigError(f"--num-workers: worker {member.index} exited before connecting to the master "
                                  f"({reason}; see its message above)")
            self.members.remove(member)
            self.log_message(f"{member.label} left before the benchmark started ({reason})", "warning")

    # message handlers: (the message, the sending worker's node id)

    def on_hello(self, hello: Hello, node: str) -> None:
        """A worker connected: a local one is ready; a remote one gets its number and the settings (or a refusal)."""
        if not hello.remote:
            if not self.remote and 0 <= hello.index < len(self.members):
                member = self.members[hello.index]
                member.node_id, member.host, member.pid, member.ready = node, hello.host, hello.pid, True
            return
        if self.member(node) is not None:
            return  # a repeated hello
        if not self.remote or not self.accepting or len(self.members) >= self.expected:
            wanted = "starts its own workers" if not self.remote else f"has its {self.expected} worker(s) already"
            send(self.runner, Refuse(f"this benchmark {wanted}"), client_id=node)
            return
        if hello.version != __version__:
            send(self.runner, Refuse(f"this worker runs genai-bench {hello.version or '?'} and the master "
                                     f"{__version__}; install the same version on both"), client_id=node)
            return
        member = Member(self.joins, node_id=node, host=hello.host, pid=hello.pid, clock=ClockSync())
        self.joins += 1
        self.members.append(member)
        settings, files, _ = self.payload
        send(self.runner, Setup(member.index, settings, files), client_id=node)

    def on_ready(self, ready: Ready, node: str) -> None:
        """A remote worker is set up (its clock is measured next), or says why it cannot be."""
        if (member := self.member(node)) is None:
            return
        if ready.error is not None:
            self.setup_error = f"{member.label} cannot run this benchmark: {ready.error}"
            return
        member.ready = True
        send(self.runner, member.clock.ping(perf_counter(), time.time()), client_id=node)

    def on_pong(self, pong: Pong, node: str) -> None:
        """One clock sample: ping again until the estimate is done, then report the worker's offset."""
        now, wall = perf_counter(), time.time()
        if (member := self.member(node)) is None or member.clock is None or not member.clock.on_pong(pong, now, wall):
            return
        if not member.clock.done.is_set():
            send(self.runner, member.clock.ping(perf_counter(), time.time()), client_id=node)
            return
        if member.joined is not None:
            return  # a re-measure before a run
        offset = member.joined = member.offset
        skew_ms = round(offset.wall_offset * 1000, 1) + 0.0  # + 0.0: no "-0.0"
        line = (f"{member.label} joined: wall clock {skew_ms:+.1f} ms from the master's "
                f"(measured within {offset.round_trip * 500:.2f} ms)")
        self.announce(line)
        self.joined.append(line)
