"""The worker side of scale-out: a `genai-bench worker` process running Locust's WorkerRunner, whose users lease
their budget from the master and send it their finished requests in batches."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

import gevent
import numpy as np
from locust.env import Environment
from locust.rpc import Message as LocustMessage
from locust.runners import CONNECT_RETRY_COUNT, CONNECT_TIMEOUT, WorkerRunner

from genai_bench import __version__
from genai_bench.arrivals import ArrivalSchedule, ArrivalShape
from genai_bench.client import Target
from genai_bench.conversations import Conversations, MultiTurn
from genai_bench.distributed.messages import (Close, Closed, Done, Finish, Grant, Hello, Log, Message, Ping, Pong,
                                              Ready, Records, Refuse, RunAnnouncement, Setup, Want, listen, send)
from genai_bench.distributed.payload import unpack
from genai_bench.monitor import ClientMonitor
from genai_bench.processes import follow_parent
from genai_bench.protocol import RequestRecord
from genai_bench.prompt_datasets import DatasetError
from genai_bench.sampling import BUILD_AHEAD_SECONDS, UpcomingRequests
from genai_bench.scenarios import parse_scenario
from genai_bench.tokenizer import TokenizerError, load_tokenizer
from genai_bench.user import LeasedBudget, OpenAIUser, RequestBudget, RunContext
from genai_bench.workload import Workload, WorkloadSpec

log = logging.getLogger(__name__)

# A worker sends its records at least this often, and at once when it holds this many or has nothing in flight.
FLUSH_INTERVAL = 0.1
FLUSH_RECORDS = 200


class WorkerUser(OpenAIUser):
    """The user class of worker processes; the master dispatches it by name, each worker binds it to its run."""

    abstract = False


@dataclass
class WorkerSettings:
    """What a worker needs to build its own target, tokenizer and workload (sent on stdin: the API key stays off argv).

    A dataset travels as its spec: each worker reads it by path, so the path must be readable where workers run.
    """

    target: dict
    model_tokenizer: str | None
    seed: int | None
    workload: dict | None = None  # WorkloadSpec.to_dict()
    scenarios: list[str] = dataclasses.field(default_factory=list)  # prepared before the first run
    turns: int = 1  # synthetic multi-turn sessions (--turns); dataset conversations stay in one process for now
    think_time: float = 0.0

    @staticmethod
    def of(target: Target, model_tokenizer: str | None, seed: int | None, workload: WorkloadSpec | None = None,
           scenarios: list[str] | None = None, multi_turn: MultiTurn | None = None) -> WorkerSettings:
        """Settings for the workers of a benchmark against `target`."""
        turns, think_time = (multi_turn.turns or 1, multi_turn.think_time) if multi_turn else (1, 0.0)
        return WorkerSettings(dataclasses.asdict(target), model_tokenizer, seed,
                              workload.to_dict() if workload else None, list(scenarios or []), turns, think_time)

    def to_line(self) -> bytes:
        """The settings as the one line a worker reads from stdin."""
        return json.dumps(dataclasses.asdict(self)).encode() + b"\n"

    @staticmethod
    def from_line(line: str) -> WorkerSettings:
        """The settings from the line the master wrote."""
        return WorkerSettings(**json.loads(line))


def worker_seed(seed: int | None, index: int) -> int | None:
    """A distinct, reproducible seed per worker (the same seed everywhere would send the same prompts twice)."""
    return None if seed is None else int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


class WorkerNode:
    """One worker process: a Locust WorkerRunner whose users' records go to the master in batches.

    A local worker (`benchmark --num-workers`) is configured from stdin before it connects; a remote one
    (`genai-bench worker`) connects first and is configured by the master's setup message.
    """

    def __init__(self, index: int = -1, clock_skew: float = 0.0) -> None:
        self.index = index
        # Tests only: pretend this worker's clocks read `clock_skew` seconds ahead, as another host's may; applied
        # wherever a time crosses the wire, so the master's offset estimate and alignment are what is tested.
        self.clock_skew = clock_skew
        self.environment = Environment(user_classes=[WorkerUser])
        self.environment.events.test_stopping.add_listener(self._on_test_stopping)
        self.runner: WorkerRunner | None = None
        self.master = ""
        self.exit_code = 0
        self.configured = False
        self.folder: Path | None = None  # where travelling files are written (remote workers)
        self.run_id: int | None = None
        self.budget: RequestBudget | None = None
        self.requests: UpcomingRequests | None = None
        self.monitor: ClientMonitor | None = None
        self.pending: list[list] = []
        self.reported_issued = 0
        self.aborted = 0

    def configure(self, settings: WorkerSettings, index: int) -> None:
        """Build this worker's target, tokenizer and workload (a bad dataset or tokenizer raises its one-line error)."""
        self.index = index
        self.multi_turn = MultiTurn(settings.turns, think_time=settings.think_time) if settings.turns > 1 else None
        self.target = Target(**settings.target)
        self.tokenizer = load_tokenizer(settings.model_tokenizer)
        spec = WorkloadSpec.from_dict(settings.workload) if settings.workload else WorkloadSpec()
        self.workload = Workload.load(self.tokenizer, spec, group_offset=index).prepare(
            parse_scenario(text) for text in settings.scenarios)
        self.rng = np.random.default_rng(worker_seed(settings.seed, index))
        self.configured = True

    def connect(self, master_host: str, master_port: int) -> WorkerRunner:
        """Connect to the master (Locust's handshake, retried for minutes) and say which worker this is."""
        self.master = f"{master_host}:{master_port}"
        self.runner = self.environment.create_worker_runner(master_host, master_port)
        listen(self.runner, {RunAnnouncement: self._on_run, Grant: self._on_grant, Close: self._on_close,
                             Finish: self._on_finish, Setup: self._on_setup, Refuse: self._on_refuse,
                             Ping: self._on_ping})
        self.runner.greenlet.spawn(self._flusher)
        send(self.runner, Hello(self.index, os.getpid(), socket.gethostname(), not self.configured, __version__))
        return self.runner

    # set-up of a remote worker, by the master

    def _on_setup(self, setup: Setup, _master: str) -> None:
        if not self.configured and self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="genai-bench-worker-"))
            self.runner.greenlet.spawn(self._set_up, setup)

    def _set_up(self, setup: Setup) -> None:
        try:
            self.configure(WorkerSettings(**unpack(setup.settings, setup.files, self.folder)), setup.index)
        except Exception as exc:  # any reason this host cannot run the benchmark goes back to the master, in a line
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._send(Ready(message))
            self._leave(f"cannot run the benchmark here: {message}")
            return
        self._send(Ready(None))
        print(f"genai-bench worker: joined the master at {self.master} as worker {self.index}; waiting for its runs",
              flush=True)

    def _on_refuse(self, refuse: Refuse, _master: str) -> None:
        self._leave(f"the master at {self.master} refused this worker: {refuse.reason}")

    def _leave(self, message: str) -> None:
        print(f"genai-bench worker: {message}", file=sys.stderr, flush=True)
        self.exit_code = 2
        gevent.spawn(self.leave)

    def interrupt(self) -> None:
        """Ctrl-C or SIGTERM: leave the master (exit code 130)."""
        print("genai-bench worker: interrupted; leaving the master", file=sys.stderr, flush=True)
        self.exit_code = 130
        self.leave()

    def leave(self) -> None:
        """Quit, telling the master (Locust's quit message), so it stops counting on this worker at once."""
        try:
            self.runner.client.send(LocustMessage("quit", None, self.runner.client_id))
        except Exception:  # the master is gone already
            log.debug("could not tell the master this worker quits", exc_info=True)
        self.runner.quit()

    def _on_ping(self, ping: Ping, _master: str) -> None:
        skew = self.clock_skew
        self._send(Pong(ping.seq, ping.sent, ping.sent_wall, perf_counter() + skew, time.time() + skew))

    # from the master (listen() passes the sender's node id too; a worker has one master)

    def _on_run(self, run: RunAnnouncement, _master: str) -> None:
        run_id = run.run
        if not self.configured:
            return
        if self.monitor is not None:  # the previous run never finished (its master gave up on it)
            self.monitor.stop()
        self.pending = []
        self.reported_issued = 0
        self.aborted = 0
        if run.budget is not None:  # an open-loop share, granted whole
            self.budget = RequestBudget(run.budget)
        elif run.limited:
            self.budget = LeasedBudget(lambda count: self._ask(run_id, count), run.users)
        else:
            self.budget = RequestBudget(None)
        scenario = parse_scenario(run.scenario)
        self._close_requests()
        self.requests = UpcomingRequests(self.workload, scenario, self.rng.spawn(1)[0], run.users)
        self.requests.build_ahead(BUILD_AHEAD_SECONDS)
        WorkerUser.context = RunContext(self.target, self.tokenizer, self.requests, scenario, run.concurrency,
                                        self.budget, self._on_record, self._schedule(run))
        if self.multi_turn is not None:  # session ids carry the worker's index, so they stay unique in the run
            WorkerUser.context.conversations = Conversations(self.multi_turn, self.requests, scenario, self.tokenizer,
                                                             self.rng.spawn(1)[0], id_prefix=f"w{self.index}-")
        self.run_id = run_id
        self.monitor = ClientMonitor(lambda message: self._send(Log(message)))
        self.monitor.start()

    def _schedule(self, run: RunAnnouncement) -> ArrivalSchedule | None:
        """This worker's share of an open-loop run's arrivals: every N-th send time of the whole run's schedule,
        which every worker draws alike from the run's seed (so the shares add up to exactly that schedule)."""
        if not run.request_rate:
            return None
        return ArrivalSchedule(run.request_rate, ArrivalShape.from_dict(run.arrival),
                               np.random.default_rng(run.schedule_seed), run.first_time - self.clock_skew, run.workers,
                               run.position)

    def _close_requests(self) -> None:
        if self.requests is not None:
            self.requests.close()
            self.requests = None

    def _on_grant(self, grant: Grant, _master: str) -> None:
        if grant.run == self.run_id and isinstance(self.budget, LeasedBudget):
            self.budget.grant(grant.count, grant.final)

    def _on_close(self, close: Close, _master: str) -> None:
        if close.run != self.run_id or self.budget is None:
            return
        self.budget.close()
        self.flush()
        self._send(Closed(self.run_id, self.budget.issued))

    def _on_finish(self, finish: Finish, _master: str) -> None:
        """After Locust's stop (messages arrive in order): send the last records, aborted ones included."""
        if finish.run != self.run_id or self.budget is None:
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
        self._send(Done(self.run_id, records, self.budget.issued, self.aborted, health))
        self.run_id = None

    # from the users

    def _on_test_stopping(self, **_: Any) -> None:
        if self.budget is not None and self.run_id is not None:
            self.aborted = self.budget.in_flight  # Locust's stop is about to kill these

    def _on_record(self, record: RequestRecord) -> None:
        if self.run_id is None:
            return
        if self.clock_skew:
            record.shift(self.clock_skew)
        self.pending.append(record.to_wire())
        if len(self.pending) >= FLUSH_RECORDS or self.budget.exhausted.is_set():
            self.flush()

    def _ask(self, run_id: int, count: int) -> None:
        self._send(Want(run_id, count))

    # to the master

    def flush(self) -> None:
        """Send the records gathered so far, or only the issued count when it grew: should this worker die, the
        master counts what it issued and never recorded as lost."""
        if self.run_id is None or (not self.pending and self.budget.issued == self.reported_issued):
            return
        records, self.pending = self.pending, []
        issued = self.budget.issued
        if self._send(Records(self.run_id, records, issued)):
            self.reported_issued = issued
        else:
            self.pending = records + self.pending  # kept for the next try

    def _flusher(self) -> None:
        while True:
            budget = self.budget
            if budget is not None and not budget.exhausted.is_set():
                budget.exhausted.wait(FLUSH_INTERVAL)  # wakes at once when the worker is spent, so the run ends promptly
            else:
                gevent.sleep(FLUSH_INTERVAL)
            self.flush()

    def _send(self, message: Message) -> bool:
        try:
            send(self.runner, message)
            return True
        except Exception:  # the master is gone or overloaded; the parent watch ends this process
            log.exception("could not send %s to the master", message.name)
            return False


def run_worker(master_host: str, master_port: int, index: int = -1, parent_pid: int | None = None,
               settings_on_stdin: bool = False, clock_skew: float = 0.0) -> int:
    """The `genai-bench worker` process: join the master (configured by it, or from stdin when the master started
    this process), serve its runs until it says quit; the exit code."""
    if parent_pid is not None:
        follow_parent(parent_pid)
    node = WorkerNode(index, clock_skew)
    if settings_on_stdin:
        line = sys.stdin.readline()
        if not line:
            print("genai-bench worker: no settings on stdin (--settings-on-stdin is for workers that "
                  "`benchmark --num-workers` starts)", file=sys.stderr)
            return 2
        try:
            node.configure(WorkerSettings.from_line(line), index)
        except (DatasetError, TokenizerError) as exc:
            print(f"genai-bench worker {index}: {exc}", file=sys.stderr)
            return 2
    else:
        print(f"genai-bench worker: connecting to the master at {master_host}:{master_port}", flush=True)
    try:
        runner = node.connect(master_host, master_port)
    except ConnectionError:
        print(f"genai-bench worker: no master answered at {master_host}:{master_port} within "
              f"{CONNECT_TIMEOUT * CONNECT_RETRY_COUNT:.0f} s; is `genai-bench benchmark --distributed` running "
              "there, bound to an address this host reaches (--master-bind-host)?", file=sys.stderr)
        return 1
    for sig in (signal.SIGINT, signal.SIGTERM) if parent_pid is None else ():
        # Leave properly (Locust tells the master), so a run going on counts this worker lost at once.
        gevent.signal_handler(sig, gevent.spawn, node.interrupt)
    try:
        runner.greenlet.join()
    finally:
        if node.folder is not None:
            shutil.rmtree(node.folder, ignore_errors=True)
    if not settings_on_stdin and node.exit_code == 0:
        print("genai-bench worker: the master ended the benchmark (or stopped answering); exiting", flush=True)
    return node.exit_code
