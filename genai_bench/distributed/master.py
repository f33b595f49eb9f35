"""The master side of scale-out: a Locust MasterRunner in the benchmark process driving local worker processes or
remote ones that joined it, holding each run's request budget and feeding the workers' records (moved onto the
master's clock) to the run's record sink."""

from __future__ import annotations

import dataclasses
import logging
import math
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter

import gevent
import numpy as np
from gevent.event import Event
from locust.env import Environment
from locust.runners import MasterRunner

from genai_bench.arrivals import ArrivalShape
from genai_bench.config import ConfigError
from genai_bench.distributed.members import Member, Roster
from genai_bench.distributed.messages import (Close, Closed, Done, Finish, Grant, Hello, Log, Pong, Ready, Records,
                                              RunAnnouncement, Want, listen, send)
from genai_bench.distributed.payload import pack
from genai_bench.distributed.worker import WorkerSettings, WorkerUser
from genai_bench.processes import end_children, spawn_child
from genai_bench.protocol import RequestRecord
from genai_bench.runner import Engine, RecordSink, RunDriver
from genai_bench.scenarios import Scenario

log = logging.getLogger(__name__)

MASTER_HOST = "127.0.0.1"
# Bounded waits: workers connecting, workers reporting the end of a run, workers exiting.
CONNECT_TIMEOUT = 60.0
READY_TIMEOUT = 10.0
DONE_TIMEOUT = 10.0
EXIT_TIMEOUT = 5.0
# An open-loop run's first send is due this long after the master announces it, so every worker has heard of it.
SCHEDULE_LEAD_SECONDS = 0.1
# Mixed into a run's schedule seed so that it differs from every worker's own seed (worker.worker_seed).
SCHEDULE_SEED_TAG = 0x5C4E


def _quiet_spawn_rate_advice(record: logging.LogRecord) -> bool:
    """Every user at once is what we ask for, as in-process; Locust's advice against it is noise here."""
    return "spawn rate is very high" not in record.getMessage()


def probe_port(host: str, port: int) -> None:
    """Raise ConfigError when `port` cannot be bound (0 always can)."""
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as zmq does, so TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"--master-port {port} on {host} is not available ({exc.strerror or exc}); "
                              "pick another port or leave it out for a free one") from None


class LocustCluster(Engine):
    """A Locust MasterRunner in this process and its workers: `num_workers` local processes it starts, or with
    `remote` as many `genai-bench worker` processes joining from any host, configured over Locust's channel."""

    def __init__(self, settings: WorkerSettings, num_workers: int, master_port: int = 0,
                 log_message: Callable[[str, str], None] | None = None,
                 arrival: ArrivalShape = ArrivalShape(), bind_host: str = MASTER_HOST, remote: bool = False,
                 join_timeout: float = CONNECT_TIMEOUT, announce: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.num_workers = num_workers
        self.arrival = arrival  # open-loop runs: how arrivals spread around the rate
        self.requested_port = master_port
        self.bind_host = bind_host
        self.remote = remote
        self.join_timeout = join_timeout
        self.log_message = log_message or (lambda message, level: log.warning(message))
        self.announce = announce or (lambda line: None)
        self.environment: Environment | None = None
        self.runner: MasterRunner | None = None
        self.port: int | None = None
        self.roster = Roster(num_workers, remote, self.log_message, self.announce)
        self.current: ClusterRun | None = None
        self.run_ids = 0
        self.closing = False
        self.watcher: gevent.Greenlet | None = None

    # lifecycle

    def start(self) -> LocustCluster:
        """Bind the master, start the local workers or wait for the remote ones, until every one is ready."""
        probe_port(self.bind_host, self.requested_port)
        logging.getLogger("locust.runners").addFilter(_quiet_spawn_rate_advice)
        self.environment = Environment(user_classes=[WorkerUser])
        try:
            self.runner = self.environment.create_master_runner(self.bind_host, self.requested_port)
        except SystemExit:  # Locust exits when the port is taken; our probe lost a race
            raise ConfigError(f"--master-port {self.requested_port} on {self.bind_host} is not available; "
                              "pick another port or leave it out for a free one") from None
        self.port = self.runner.server.port
        roster = self.roster
        roster.runner = self.runner
        listen(self.runner, {Hello: roster.on_hello, Want: self._on_want, Records: self._on_records,
                             Closed: self._on_closed, Done: self._on_done, Log: self._on_log, Ready: roster.on_ready,
                             Pong: roster.on_pong})
        try:
            if self.remote:
                self.roster.payload = pack(dataclasses.asdict(self.settings))
                self.announce(f"Waiting for {self.num_workers} worker(s) at {self.bind_host}:{self.port}: start each "
                              f"with `genai-bench worker --master-host <this host> --master-port {self.port}`")
                for note in self.roster.payload[2]:
                    self.announce(f"Note: {note}")
            else:
                line = self.settings.to_line()
                for index in range(self.num_workers):
                    process = spawn_child(["worker", "--master-host", MASTER_HOST, "--master-port", str(self.port),
                                           "--index", str(index), "--settings-on-stdin"], line)
                    self.members.append(Member(index, process))
            self._wait_connected()
        except BaseException:
            self.close()
            raise
        self.roster.accepting = False
        self.watcher = gevent.spawn(self._watch_workers)
        return self

    def _wait_connected(self) -> None:
        deadline = gevent.Timeout(self.join_timeout)
        deadline.start()
        try:
            while not self.roster.all_ready():
                self.roster.check_joining()
                gevent.sleep(0.02)
        except gevent.Timeout as timeout:
            if timeout is not deadline:
                raise
            if self.remote:
                joined = sum(1 for m in self.members if m.ready)
                raise ConfigError(f"--expect-workers {self.num_workers}: only {joined} worker(s) joined the master at "
                                  f"{self.bind_host}:{self.port} within {self.join_timeout:g} s "
                                  "(--expect-workers-max-wait)") from None
            raise ConfigError(f"--num-workers: the workers did not connect to the master at {MASTER_HOST}:{self.port} "
                              f"within {self.join_timeout:.0f} s") from None
        finally:
            deadline.close()

    def wait_ready(self) -> None:
        """Before a run: every live worker is back to "ready" after the previous run's stop (bounded)."""
        with gevent.Timeout(READY_TIMEOUT, False):
            while not self.roster.all_ready():
                gevent.sleep(0.01)
        if not any(m.node_id in self.runner.clients for m in self.members if not m.lost):
            # One line, not a traceback; what was measured is written (marked partial) on the way out.
            raise ConfigError("no Locust worker is left: every worker has exited or been lost (see the errors "
                              "above); the experiment folder keeps what was measured, marked partial")

    def close(self) -> None:
        """Tell the workers to quit (Locust's quit), wait for local ones to exit (bounded), then make sure they are
        gone."""
        if self.closing:
            return
        self.closing = True
        if self.watcher is not None:
            self.watcher.kill()
        runner = self.runner
        if runner is not None:
            try:
                runner.stop(send_stop_to_client=False)
                runner.send_message("quit")
                gevent.sleep(0.05 if self.remote else 0)  # let the quit leave before the socket closes
            except Exception:  # shutting down: the processes are ended below either way
                log.debug("could not send quit to the workers", exc_info=True)
        end_children([m.process for m in self.members if m.process is not None], EXIT_TIMEOUT)
        if runner is not None:
            runner.greenlet.kill(block=True)
            runner.server.close(linger=0)

    def _watch_workers(self) -> None:
        while True:
            gevent.sleep(0.5)
            for member in self.members:
                if member.lost or (reason := member.gone(self.runner)) is None:
                    continue
                member.lost = True
                lost = self.current.worker_lost(member.node_id) if self.current is not None else None
                detail = "" if lost is None else f"; {lost} request(s) it issued in this run were never recorded " \
                                                  "(counted as lost)"
                self.log_message(f"Locust {member.label} exited unexpectedly ({reason}){detail}", "error")

    def describe(self) -> dict:
        """The metadata's view of the cluster: where the master listened, every worker, requests lost."""
        return {"mode": "distributed" if self.remote else "local", "master": f"{self.bind_host}:{self.port}",
                "workers": [m.describe() for m in self.members],
                "lost_requests": sum(m.lost_requests for m in self.members)}

    # runs

    def prepare(self, scenario: Scenario, concurrency: int, max_requests: int | None, on_record: RecordSink,
                request_rate: float | None = None, batch_size: int | None = None) -> ClusterRun:
        """A run spread over the workers by Locust's dispatcher, with the budget leased from here; in open loop each
        worker sends its share of the arrival rate. Batched tasks run in one process (the config refuses workers), so
        `batch_size` is never set here."""
        self.run_ids += 1
        return ClusterRun(self, self.run_ids, scenario, concurrency, max_requests, on_record, request_rate)

    def live_nodes(self) -> list[str]:
        """Node ids of the workers taking part in runs."""
        return [m.node_id for m in self.members if not m.lost and m.node_id is not None]

    @property
    def members(self) -> list[Member]:
        """Every worker, lost ones included."""
        return self.roster.members

    def member(self, node_id: str) -> Member | None:
        """The worker with this Locust node id."""
        return self.roster.member(node_id)

    def index_of(self, node_id: str) -> int:
        """The worker's index, for messages."""
        member = self.member(node_id)
        return -1 if member is None else member.index

    # message handlers: (the message, the sending worker's node id)

    def _run_of(self, run_id: int) -> ClusterRun | None:
        """The current run when a message is about it (a late message of an earlier run is not)."""
        return self.current if self.current is not None and self.current.run_id == run_id else None

    def _on_want(self, want: Want, node: str) -> None:
        if (run := self._run_of(want.run)) is not None:
            run.on_want(node, want.count)
        else:
            send(self.runner, Grant(want.run, 0, final=True), client_id=node)

    def _on_records(self, records: Records, node: str) -> None:
        if (run := self._run_of(records.run)) is not None and node not in run.nodes and records.records:
            # A worker counted lost (silent too long) that came back: what it issued stays counted as lost.
            member = self.member(node)
            self.log_message(f"{member.label if member else node} came back after it was counted lost; its "
                             f"{len(records.records)} late record(s) stay out of the run", "warning")
        elif run is not None:
            run.on_records(node, records.records, records.issued)
        else:
            log.warning("dropped %d records of an earlier run from worker %s", len(records.records), node)

    def _on_closed(self, closed: Closed, node: str) -> None:
        if (run := self._run_of(closed.run)) is not None:
            run.on_closed(node, closed.issued)

    def _on_done(self, done: Done, node: str) -> None:
        if (run := self._run_of(done.run)) is not None:
            run.on_done(node, done)

    def _on_log(self, message: Log, node: str) -> None:
        self.log_message(f"worker {self.index_of(node)}: {message.message}", message.level)


@dataclass
class NodeState:
    """What the master knows of one worker during one run."""

    granted: int = 0
    issued: int = 0
    received: int = 0
    closed: bool = False
    done: Done | None = None


class ClusterRun(RunDriver):
    """One run over the cluster: the master's side of the budget, the record intake and the end-of-run handshake."""

    measured_here = False

    def __init__(self, cluster: LocustCluster, run_id: int, scenario: Scenario, concurrency: int,
                 max_requests: int | None, on_record: RecordSink, request_rate: float | None = None) -> None:
        self.cluster = cluster
        self.request_rate = request_rate
        self.runner = cluster.runner
        self.run_id = run_id
        self.scenario = scenario
        self.concurrency = concurrency
        self.limit = max_requests
        self.remaining = max_requests  # not yet granted to any worker
        self.on_record = on_record
        self.closed = False
        self.nodes: dict[str, NodeState] = {}
        self.unaccounted = 0  # granted to (or issued by) workers that died, and never recorded
        self.lost_requests = 0  # issued by workers that died and never recorded
        self.workers_lost: list[int] = []
        self.exhausted = Event()
        self.all_done = Event()
        self.starter: gevent.Greenlet | None = None

    def start(self, concurrency: int, spawn_rate: float) -> None:
        """Announce the run to every worker, then let Locust's master dispatch the users (in the background)."""
        cluster = self.cluster
        cluster.wait_ready()
        cluster.roster.resync()
        self.nodes = {node: NodeState() for node in cluster.live_nodes()}
        cluster.current = self
        users_per_worker = math.ceil(concurrency / max(len(self.nodes), 1))
        # One first send time for all, in the master's perf_counter; each worker gets it in its own clock (the same
        # CLOCK_MONOTONIC on this host, the measured offset on another), a round trip later for remote ones.
        members = {node: cluster.member(node) for node in self.nodes}
        first_time = perf_counter() + SCHEDULE_LEAD_SECONDS + max(m.offset.round_trip for m in members.values())
        shares = self._open_loop_shares()
        # Every worker draws the whole run's schedule from this seed and keeps its own share of the send times.
        schedule_seed = secrets.randbits(63) if cluster.settings.seed is None else \
            int(np.random.SeedSequence([cluster.settings.seed, SCHEDULE_SEED_TAG, self.run_id]).generate_state(1)[0])
        if shares is not None:
            self.remaining = 0  # all of it granted up front
        for position, node in enumerate(self.nodes):
            if shares is not None:
                self.nodes[node].granted = shares[position]
            announcement = RunAnnouncement(
                run=self.run_id, scenario=self.scenario.text, concurrency=concurrency, limited=self.limit is not None,
                users=users_per_worker, workers=len(self.nodes), request_rate=self.request_rate,
                arrival=cluster.arrival.to_dict(), first_time=first_time + members[node].offset.offset,
                position=position,
                schedule_seed=schedule_seed,
                budget=None if shares is None else shares[position])
            send(self.runner, announcement, client_id=node)
        self.starter = gevent.spawn(self.runner.start, concurrency, spawn_rate)

    def _open_loop_shares(self) -> list[int] | None:
        """An open-loop run's request limit split evenly up front: each worker sends its share at rate/N, so the
        run keeps its rate to the last request (leasing could leave the tail to one worker, at half the rate)."""
        if not self.request_rate or self.limit is None:
            return None
        count = len(self.nodes)
        return [self.limit // count + (1 if position < self.limit % count else 0) for position in range(count)]

    def close(self) -> None:
        """Tell the workers to issue nothing more; each answers with its final issued count."""
        if self.closed:
            return
        self.closed = True
        for node in self.nodes:
            send(self.runner, Close(self.run_id), client_id=node)
        self._check()

    @property
    def in_flight(self) -> int:
        """Issued (as last reported by the workers) minus recorded."""
        return max(0, sum(n.issued - n.received for n in self.nodes.values()))

    def finish(self) -> int:
        """Locust's stop on every worker (in-flight requests are recorded as aborted), then wait for their last records."""
        if self.starter is not None:
            self.starter.kill(block=True)
        try:
            # Master first: stopped, it does not re-dispatch users when the workers report they stopped.
            self.runner.stop(send_stop_to_client=False)
            for node in self.nodes:
                self.runner.send_message("stop", client_id=node)
                send(self.runner, Finish(self.run_id), client_id=node)
            self._check_done()
            if not self.all_done.wait(timeout=DONE_TIMEOUT):
                missing = sorted(self.cluster.index_of(n) for n, s in self.nodes.items() if s.done is None)
                self.cluster.log_message(f"worker(s) {missing} did not report the end of the run within "
                                         f"{DONE_TIMEOUT:.0f} s; their last requests are missing", "error")
        finally:
            self.cluster.current = None
        return sum(s.done.aborted for s in self.nodes.values() if s.done)

    def client_health(self, health: dict) -> dict:
        """The master's figures, each worker's, and `saturated` from the workers: they time the requests."""
        workers = [dict(s.done.client, worker=self.cluster.index_of(n))
                   for n, s in self.nodes.items() if s.done and s.done.client]
        workers.sort(key=lambda w: w["worker"])
        return {**health, "saturated": any(w.get("saturated") for w in workers),
                "master_saturated": bool(health.get("saturated")), "workers": workers,
                "lost_requests": self.lost_requests, "workers_lost": sorted(self.workers_lost)}

    # from the workers

    def on_want(self, node: str, count: int) -> None:
        """Grant at most what is left, and at most a fair share of it, so no worker hoards the last requests."""
        state = self.nodes.get(node)
        if state is None or self.closed or self.remaining is None:
            send(self.runner, Grant(self.run_id, 0, final=True), client_id=node)
            return
        fair = max(1, math.ceil(self.remaining / max(len(self.nodes), 1)))
        granted = max(0, min(count, self.remaining, fair))
        self.remaining -= granted
        state.granted += granted
        final = self.remaining == 0
        send(self.runner, Grant(self.run_id, granted, final), client_id=node)
        if final:  # waiting users elsewhere give up now instead of asking again
            for other in self.nodes:
                if other != node:
                    send(self.runner, Grant(self.run_id, 0, final=True), client_id=other)
        self._check()

    def on_records(self, node: str, records: list, issued: int) -> None:
        """Rebuild the records and feed them to the same path the in-process users feed."""
        state = self.nodes.get(node)
        if state is None:
            return
        offset = self.cluster.member(node).offset.offset
        for data in records:
            record = RequestRecord.from_wire(data)
            if offset:
                record.shift(-offset)  # onto the master's clock
            self.on_record(record)
        state.received += len(records)
        state.issued = max(state.issued, issued)
        self._check()

    def on_closed(self, node: str, issued: int) -> None:
        """A worker closed its budget: its issued count is final."""
        if (state := self.nodes.get(node)) is not None:
            state.closed = True
            state.issued = max(state.issued, issued)
            self._check()

    def on_done(self, node: str, done: Done) -> None:
        """A worker's last records (aborted ones included) after Locust's stop."""
        if (state := self.nodes.get(node)) is None or state.done is not None:
            return
        self.on_records(node, done.records, done.issued)
        state.done = done
        self._check_done()

    def worker_lost(self, node: str) -> int | None:
        """A worker died: what it issued (by its last report, at most 100 ms old) and never recorded is lost, what
        it was granted and never recorded is out of the budget; stop waiting for it. The lost count (None when the
        worker had no part in this run)."""
        state = self.nodes.pop(node, None)
        if state is None:
            return None
        issued = max(state.issued, state.received)
        lost = issued - state.received
        self.unaccounted += max(state.granted, issued) - state.received
        self.lost_requests += lost
        member = self.cluster.member(node)
        self.workers_lost.append(member.index)
        member.lost_requests += lost
        member.lost_in.append(f"{self.scenario.text} @ {self.concurrency}")
        self._check()
        self._check_done()
        return lost

    def _check(self) -> None:
        received = sum(s.received for s in self.nodes.values())
        spent = self.limit is not None and self.remaining == 0 and received + self.unaccounted >= self.limit
        drained = self.closed and all(s.closed for s in self.nodes.values()) and \
            received >= sum(s.issued for s in self.nodes.values())
        if spent or drained or not self.nodes:  # no worker left: nothing more will come
            self.exhausted.set()

    def _check_done(self) -> None:
        if all(s.done is not None for s in self.nodes.values()):
            self.all_done.set()

