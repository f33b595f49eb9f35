"""Scale-out on Locust's own engine: a MasterRunner in the benchmark process, N local WorkerRunner processes.

The master never sees a worker's users: each worker forwards its finished requests as batched custom messages,
and the master hands them to the same record path the in-process mode uses (collector → dashboards → events, run
files), so everything downstream is identical. Request limits stay exact: the master holds each run's budget and
leases it to the workers a few requests at a time (never more than is left). perf_counter is CLOCK_MONOTONIC, shared
by every process of one Linux host, so a worker's timestamps compare directly with the master's.

One run, as the master drives it (message names without the "genai_bench:" prefix):
  master → workers  run {run, scenario, concurrency, limited, users}; then Locust's own spawn (MasterRunner.start)
  worker → master   want {run, count}        master → worker   grant {run, count, final}
  worker → master   records {run, records, issued}  every 100 ms, every 200 records, and when the worker is spent
  master → workers  close {run}              worker → master   closed {run, issued}   (time up or Ctrl-C)
  master → workers  Locust's stop, then finish {run}   worker → master   done {run, records, issued, aborted, client}
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import gevent
import numpy as np
from gevent.event import Event
from locust.env import Environment
from locust.runners import STATE_INIT, MasterRunner, WorkerRunner

from genai_bench.client import Target
from genai_bench.config import ConfigError
from genai_bench.monitor import ClientMonitor
from genai_bench.processes import end_children, follow_parent, spawn_child
from genai_bench.protocol import RequestRecord
from genai_bench.runner import Engine, RecordSink, RunDriver
from genai_bench.sampling import BUILD_AHEAD_SECONDS, PromptSampler, UpcomingRequests
from genai_bench.scenarios import Scenario, parse_scenario
from genai_bench.tokenizer import load_tokenizer
from genai_bench.user import ArrivalSchedule, LeasedBudget, OpenAIUser, RequestBudget, RunContext

log = logging.getLogger(__name__)

MASTER_HOST = "127.0.0.1"
MSG_HELLO = "genai_bench:hello"
MSG_RUN = "genai_bench:run"
MSG_WANT = "genai_bench:want"
MSG_GRANT = "genai_bench:grant"
MSG_RECORDS = "genai_bench:records"
MSG_CLOSE = "genai_bench:close"
MSG_CLOSED = "genai_bench:closed"
MSG_FINISH = "genai_bench:finish"
MSG_DONE = "genai_bench:done"
MSG_LOG = "genai_bench:log"

# A worker sends its records at least this often, and at once when it holds this many or has nothing in flight.
FLUSH_INTERVAL = 0.1
FLUSH_RECORDS = 200
# Bounded waits: workers connecting, workers reporting the end of a run, workers exiting.
CONNECT_TIMEOUT = 60.0
READY_TIMEOUT = 10.0
DONE_TIMEOUT = 10.0
# An open-loop run's first send is due this long after the master announces it, so every worker has heard of it.
SCHEDULE_LEAD_SECONDS = 0.1
EXIT_TIMEOUT = 5.0


class WorkerUser(OpenAIUser):
    """The user class of worker processes; the master dispatches it by name, each worker binds it to its run."""

    abstract = False


@dataclass
class WorkerSettings:
    """What a worker needs to build its own target, tokenizer and sampler (sent on stdin: the API key stays off argv)."""

    target: dict
    model_tokenizer: str | None
    seed: int | None

    @staticmethod
    def of(target: Target, model_tokenizer: str | None, seed: int | None) -> WorkerSettings:
        """Settings for the workers of a benchmark against `target`."""
        return WorkerSettings(dataclasses.asdict(target), model_tokenizer, seed)


def worker_seed(seed: int | None, index: int) -> int | None:
    """A distinct, reproducible seed per worker (the same seed everywhere would send the same prompts twice)."""
    return None if seed is None else int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


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


# ---------------------------------------------------------------------------------------------------- master side


@dataclass
class WorkerProcess:
    """A worker process the master started, and the Locust node id it connected with."""

    index: int
    process: subprocess.Popen
    node_id: str | None = None
    lost: bool = False


class LocustCluster(Engine):
    """A Locust MasterRunner bound to 127.0.0.1 in this process and `num_workers` local worker processes."""

    def __init__(self, settings: WorkerSettings, num_workers: int, master_port: int = 0,
                 log_message: Callable[[str, str], None] | None = None, arrival: str = "poisson") -> None:
        self.settings = settings
        self.num_workers = num_workers
        self.arrival = arrival  # open-loop runs: poisson or constant
        self.requested_port = master_port
        self.log_message = log_message or (lambda message, level: log.warning(message))
        self.environment: Environment | None = None
        self.runner: MasterRunner | None = None
        self.port: int | None = None
        self.workers: list[WorkerProcess] = []
        self.current: ClusterRun | None = None
        self.run_ids = 0
        self.closing = False
        self.watcher: gevent.Greenlet | None = None

    # lifecycle

    def start(self) -> LocustCluster:
        """Bind the master, start the workers and wait until every one is connected and ready."""
        probe_port(MASTER_HOST, self.requested_port)
        logging.getLogger("locust.runners").addFilter(_quiet_spawn_rate_advice)
        self.environment = Environment(user_classes=[WorkerUser])
        try:
            self.runner = self.environment.create_master_runner(MASTER_HOST, self.requested_port)
        except SystemExit:  # Locust exits when the port is taken; our probe lost a race
            raise ConfigError(f"--master-port {self.requested_port} on {MASTER_HOST} is not available; "
                              "pick another port or leave it out for a free one") from None
        self.port = self.runner.server.port
        for message, handler in ((MSG_HELLO, self._on_hello), (MSG_WANT, self._on_want), (MSG_RECORDS, self._on_records),
                                 (MSG_CLOSED, self._on_closed), (MSG_DONE, self._on_done), (MSG_LOG, self._on_log)):
            self.runner.register_message(message, handler)
        payload = json.dumps(dataclasses.asdict(self.settings)).encode() + b"\n"
        try:
            for index in range(self.num_workers):
                process = spawn_child(["worker", "--master-host", MASTER_HOST, "--master-port", str(self.port),
                                       "--index", str(index)], payload)
                self.workers.append(WorkerProcess(index, process))
            self._wait_connected()
        except BaseException:
            self.close()
            raise
        self.watcher = gevent.spawn(self._watch_workers)
        return self

    def _wait_connected(self) -> None:
        deadline = gevent.Timeout(CONNECT_TIMEOUT)
        deadline.start()
        try:
            while not self._all_ready():
                for worker in self.workers:
                    if (code := worker.process.poll()) is not None:
                        raise ConfigError(f"--num-workers: worker {worker.index} exited with code {code} before "
                                          "connecting to the master (see its message above)")
                gevent.sleep(0.02)
        except gevent.Timeout as timeout:
            if timeout is not deadline:
                raise
            raise ConfigError(f"--num-workers: the workers did not connect to the master at {MASTER_HOST}:{self.port} "
                              f"within {CONNECT_TIMEOUT:.0f} s") from None
        finally:
            deadline.close()

    def _all_ready(self) -> bool:
        """Every live worker has said hello and is idle (Locust state "ready")."""
        live = [w for w in self.workers if not w.lost]
        if any(w.node_id is None or w.node_id not in self.runner.clients for w in live):
            return False
        return all(self.runner.clients[w.node_id].state == STATE_INIT for w in live)

    def wait_ready(self) -> None:
        """Before a run: every live worker is back to "ready" after the previous run's stop (bounded)."""
        with gevent.Timeout(READY_TIMEOUT, False):
            while not self._all_ready():
                gevent.sleep(0.01)
        if not any(w.node_id in self.runner.clients for w in self.workers if not w.lost):
            raise RuntimeError("no Locust worker is left: every worker process has exited")

    def close(self) -> None:
        """Tell the workers to quit (Locust's quit), wait for them to exit (bounded), then make sure they are gone."""
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
            except Exception:  # shutting down: the processes are ended below either way
                log.debug("could not send quit to the workers", exc_info=True)
        end_children([worker.process for worker in self.workers], EXIT_TIMEOUT)
        if runner is not None:
            runner.greenlet.kill(block=True)
            runner.server.close(linger=0)

    def _watch_workers(self) -> None:
        while True:
            gevent.sleep(0.5)
            for worker in self.workers:
                if worker.lost or (code := worker.process.poll()) is None:
                    continue
                worker.lost = True
                self.log_message(f"Locust worker {worker.index} exited unexpectedly (code {code}); "
                                 "its requests still in flight are lost", "error")
                if self.current is not None and worker.node_id is not None:
                    self.current.worker_lost(worker.node_id)

    # runs

    def prepare(self, scenario: Scenario, concurrency: int, max_requests: int | None, on_record: RecordSink,
                request_rate: float | None = None) -> ClusterRun:
        """A run spread over the workers by Locust's dispatcher, with the budget leased from here; in open loop each
        worker sends its share of the arrival rate."""
        self.run_ids += 1
        return ClusterRun(self, self.run_ids, scenario, concurrency, max_requests, on_record, request_rate)

    def live_nodes(self) -> list[str]:
        """Node ids of the workers taking part in runs."""
        return [w.node_id for w in self.workers if not w.lost and w.node_id is not None]

    def index_of(self, node_id: str) -> int:
        """The worker's index (its --index), for messages."""
        return next((w.index for w in self.workers if w.node_id == node_id), -1)

    # message handlers (Locust calls them as handler(environment=..., msg=...))

    def _on_hello(self, msg: Any, **_: Any) -> None:
        index = msg.data["index"]
        if 0 <= index < len(self.workers):
            self.workers[index].node_id = msg.node_id

    def _on_want(self, msg: Any, **_: Any) -> None:
        if self.current is not None and self.current.run_id == msg.data["run"]:
            self.current.on_want(msg.node_id, msg.data["count"])
        else:
            self.runner.send_message(MSG_GRANT, {"run": msg.data["run"], "count": 0, "final": True}, client_id=msg.node_id)

    def _on_records(self, msg: Any, **_: Any) -> None:
        if self.current is not None and self.current.run_id == msg.data["run"]:
            self.current.on_records(msg.node_id, msg.data["records"], msg.data["issued"])
        else:
            log.warning("dropped %d records of an earlier run from worker %s", len(msg.data["records"]), msg.node_id)

    def _on_closed(self, msg: Any, **_: Any) -> None:
        if self.current is not None and self.current.run_id == msg.data["run"]:
            self.current.on_closed(msg.node_id, msg.data["issued"])

    def _on_done(self, msg: Any, **_: Any) -> None:
        if self.current is not None and self.current.run_id == msg.data["run"]:
            self.current.on_done(msg.node_id, msg.data)

    def _on_log(self, msg: Any, **_: Any) -> None:
        self.log_message(f"worker {self.index_of(msg.node_id)}: {msg.data['message']}", msg.data.get("level", "warning"))


@dataclass
class NodeState:
    """What the master knows of one worker during one run."""

    granted: int = 0
    issued: int = 0
    received: int = 0
    closed: bool = False
    done: dict | None = None


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
        self.lost = 0  # granted to workers that died and never recorded
        self.exhausted = Event()
        self.all_done = Event()
        self.starter: gevent.Greenlet | None = None

    def start(self, concurrency: int, spawn_rate: float) -> None:
        """Announce the run to every worker, then let Locust's master dispatch the users (in the background)."""
        cluster = self.cluster
        cluster.wait_ready()
        self.nodes = {node: NodeState() for node in cluster.live_nodes()}
        cluster.current = self
        users_per_worker = math.ceil(concurrency / max(len(self.nodes), 1))
        announcement = {"run": self.run_id, "scenario": self.scenario.text, "concurrency": concurrency,
                        "limited": self.limit is not None, "users": users_per_worker, "workers": len(self.nodes),
                        "request_rate": self.request_rate, "arrival": cluster.arrival,
                        # perf_counter is CLOCK_MONOTONIC, one clock for every process here: a shared first send time
                        "first_time": perf_counter() + SCHEDULE_LEAD_SECONDS}
        shares = self._open_loop_shares()
        if shares is not None:
            self.remaining = 0  # all of it granted up front
        for position, node in enumerate(self.nodes):
            if shares is not None:
                self.nodes[node].granted = shares[position]
            self.runner.send_message(MSG_RUN, {**announcement, "position": position,
                                               "budget": None if shares is None else shares[position]}, client_id=node)
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
            self.runner.send_message(MSG_CLOSE, {"run": self.run_id}, client_id=node)
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
                self.runner.send_message(MSG_FINISH, {"run": self.run_id}, client_id=node)
            self._check_done()
            if not self.all_done.wait(timeout=DONE_TIMEOUT):
                missing = sorted(self.cluster.index_of(n) for n, s in self.nodes.items() if s.done is None)
                self.cluster.log_message(f"worker(s) {missing} did not report the end of the run within "
                                         f"{DONE_TIMEOUT:.0f} s; their last requests are missing", "error")
        finally:
            self.cluster.current = None
        return sum(s.done.get("aborted", 0) for s in self.nodes.values() if s.done)

    def client_health(self, health: dict) -> dict:
        """The master's figures, each worker's, and `saturated` from the workers: they time the requests."""
        workers = [dict(s.done["client"], worker=self.cluster.index_of(n))
                   for n, s in self.nodes.items() if s.done and s.done.get("client")]
        workers.sort(key=lambda w: w["worker"])
        return {**health, "saturated": any(w.get("saturated") for w in workers),
                "master_saturated": bool(health.get("saturated")), "workers": workers}

    # from the workers

    def on_want(self, node: str, count: int) -> None:
        """Grant at most what is left, and at most a fair share of it, so no worker hoards the last requests."""
        state = self.nodes.get(node)
        if state is None or self.closed or self.remaining is None:
            self.runner.send_message(MSG_GRANT, {"run": self.run_id, "count": 0, "final": True}, client_id=node)
            return
        fair = max(1, math.ceil(self.remaining / max(len(self.nodes), 1)))
        granted = max(0, min(count, self.remaining, fair))
        self.remaining -= granted
        state.granted += granted
        final = self.remaining == 0
        self.runner.send_message(MSG_GRANT, {"run": self.run_id, "count": granted, "final": final}, client_id=node)
        if final:  # waiting users elsewhere give up now instead of asking again
            for other in self.nodes:
                if other != node:
                    self.runner.send_message(MSG_GRANT, {"run": self.run_id, "count": 0, "final": True}, client_id=other)
        self._check()

    def on_records(self, node: str, records: list, issued: int) -> None:
        """Rebuild the records and feed them to the same path the in-process users feed."""
        state = self.nodes.get(node)
        if state is None:
            return
        for data in records:
            self.on_record(RequestRecord.from_wire(data))
        state.received += len(records)
        state.issued = max(state.issued, issued)
        self._check()

    def on_closed(self, node: str, issued: int) -> None:
        """A worker closed its budget: its issued count is final."""
        if (state := self.nodes.get(node)) is not None:
            state.closed = True
            state.issued = max(state.issued, issued)
            self._check()

    def on_done(self, node: str, data: dict) -> None:
        """A worker's last records (aborted ones included) after Locust's stop."""
        if (state := self.nodes.get(node)) is None or state.done is not None:
            return
        self.on_records(node, data["records"], data["issued"])
        state.done = data
        self._check_done()

    def worker_lost(self, node: str) -> None:
        """A worker process died: count what it was granted and never recorded as lost, and stop waiting for it."""
        state = self.nodes.pop(node, None)
        if state is None:
            return
        self.lost += state.granted - state.received
        self._check()
        self._check_done()

    def _check(self) -> None:
        received = sum(s.received for s in self.nodes.values())
        spent = self.limit is not None and self.remaining == 0 and received + self.lost >= self.limit
        drained = self.closed and all(s.closed for s in self.nodes.values()) and \
            received >= sum(s.issued for s in self.nodes.values())
        if spent or drained:
            self.exhausted.set()

    def _check_done(self) -> None:
        if all(s.done is not None for s in self.nodes.values()):
            self.all_done.set()


# ---------------------------------------------------------------------------------------------------- worker side


class WorkerNode:
    """One worker process: a Locust WorkerRunner whose users' records go to the master in batches."""

    def __init__(self, settings: WorkerSettings, index: int) -> None:
        self.index = index
        self.target = Target(**settings.target)
        self.tokenizer = load_tokenizer(settings.model_tokenizer)
        seed = worker_seed(settings.seed, index)
        self.sampler = PromptSampler(self.tokenizer, seed=seed)
        self.rng = np.random.default_rng(seed)
        self.environment = Environment(user_classes=[WorkerUser])
        self.environment.events.test_stopping.add_listener(self._on_test_stopping)
        self.runner: WorkerRunner | None = None
        self.run_id: int | None = None
        self.budget: RequestBudget | None = None
        self.requests: UpcomingRequests | None = None
        self.monitor: ClientMonitor | None = None
        self.pending: list[list] = []
        self.aborted = 0

    def connect(self, master_host: str, master_port: int) -> WorkerRunner:
        """Connect to the master (Locust's handshake) and say which worker this is."""
        self.runner = self.environment.create_worker_runner(master_host, master_port)
        for message, handler in ((MSG_RUN, self._on_run), (MSG_GRANT, self._on_grant), (MSG_CLOSE, self._on_close),
                                 (MSG_FINISH, self._on_finish)):
            self.runner.register_message(message, handler)
        self.runner.greenlet.spawn(self._flusher)
        self.runner.send_message(MSG_HELLO, {"index": self.index, "pid": os.getpid()})
        return self.runner

    # from the master

    def _on_run(self, msg: Any, **_: Any) -> None:
        data = msg.data
        run_id = data["run"]
        if self.monitor is not None:  # the previous run never finished (its master gave up on it)
            self.monitor.stop()
        self.pending = []
        self.aborted = 0
        if data.get("budget") is not None:  # an open-loop share, granted whole
            self.budget = RequestBudget(data["budget"])
        elif data["limited"]:
            self.budget = LeasedBudget(lambda count: self._ask(run_id, count), data["users"])
        else:
            self.budget = RequestBudget(None)
        scenario = parse_scenario(data["scenario"])
        self._close_requests()
        self.requests = UpcomingRequests(self.sampler, scenario, self.rng.spawn(1)[0], data["users"])
        self.requests.build_ahead(BUILD_AHEAD_SECONDS)
        WorkerUser.context = RunContext(self.target, self.tokenizer, self.requests, scenario, data["concurrency"],
                                        self.budget, self._on_record, self._schedule(data))
        self.run_id = run_id
        self.monitor = ClientMonitor(lambda message: self._send(MSG_LOG, {"message": message, "level": "warning"}))
        self.monitor.start()

    def _schedule(self, run: dict) -> ArrivalSchedule | None:
        """This worker's share of an open-loop run's arrivals: rate/N, evenly spaced ones offset by its position."""
        rate = run.get("request_rate")
        if not rate:
            return None
        first_time = run["first_time"]
        if run["arrival"] == "constant":
            first_time += run["position"] / rate
        return ArrivalSchedule(rate / run["workers"], run["arrival"], self.rng, first_time)

    def _close_requests(self) -> None:
        if self.requests is not None:
            self.requests.close()
            self.requests = None

    def _on_grant(self, msg: Any, **_: Any) -> None:
        if msg.data["run"] == self.run_id and isinstance(self.budget, LeasedBudget):
            self.budget.grant(msg.data["count"], msg.data["final"])

    def _on_close(self, msg: Any, **_: Any) -> None:
        if msg.data["run"] != self.run_id or self.budget is None:
            return
        self.budget.close()
        self.flush()
        self._send(MSG_CLOSED, {"run": self.run_id, "issued": self.budget.issued})

    def _on_finish(self, msg: Any, **_: Any) -> None:
        """After Locust's stop (messages arrive in order): send the last records, aborted ones included."""
        if msg.data["run"] != self.run_id or self.budget is None:
            return
        runner = self.runner
        if runner.spawning_greenlet is not None and not runner.spawning_greenlet.dead:
            runner.spawning_greenlet.kill(block=True)  # a spawn that raced the stop
        if len(runner.user_greenlets):
            self.aborted += self.budget.in_flight
            runner.user_greenlets.kill(block=True)
        self.budget.run_over.set()
        self._close_requests()
        health = self.monitor.stop().to_dict() if self.monitor is not None else None
        self.monitor = None
        records, self.pending = self.pending, []
        self._send(MSG_DONE, {"run": self.run_id, "records": records, "issued": self.budget.issued,
                              "aborted": self.aborted, "client": health})
        self.run_id = None

    # from the users

    def _on_test_stopping(self, **_: Any) -> None:
        if self.budget is not None and self.run_id is not None:
            self.aborted = self.budget.in_flight  # Locust's stop is about to kill these

    def _on_record(self, record: RequestRecord) -> None:
        if self.run_id is None:
            return
        self.pending.append(record.to_wire())
        if len(self.pending) >= FLUSH_RECORDS or self.budget.exhausted.is_set():
            self.flush()

    def _ask(self, run_id: int, count: int) -> None:
        self._send(MSG_WANT, {"run": run_id, "count": count})

    # to the master

    def flush(self) -> None:
        """Send the records gathered so far."""
        if not self.pending or self.run_id is None:
            return
        records, self.pending = self.pending, []
        if not self._send(MSG_RECORDS, {"run": self.run_id, "records": records, "issued": self.budget.issued}):
            self.pending = records + self.pending  # kept for the next try

    def _flusher(self) -> None:
        while True:
            budget = self.budget
            if budget is not None and not budget.exhausted.is_set():
                budget.exhausted.wait(FLUSH_INTERVAL)  # wakes at once when the worker is spent, so the run ends promptly
            else:
                gevent.sleep(FLUSH_INTERVAL)
            self.flush()

    def _send(self, message: str, data: dict) -> bool:
        try:
            self.runner.send_message(message, data)
            return True
        except Exception:  # the master is gone or overloaded; the parent watch ends this process
            log.exception("could not send %s to the master", message)
            return False


def run_worker(master_host: str, master_port: int, index: int, parent_pid: int | None) -> int:
    """The `genai-bench worker` process: read settings from stdin, serve the master until it says quit."""
    follow_parent(parent_pid)
    line = sys.stdin.readline()
    if not line:
        print("genai-bench worker: no settings on stdin (workers are started by `benchmark --num-workers`)",
              file=sys.stderr)
        return 2
    settings = WorkerSettings(**json.loads(line))
    node = WorkerNode(settings, index)
    runner = node.connect(master_host, master_port)
    runner.greenlet.join()
    return 0

