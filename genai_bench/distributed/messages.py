"""The messages between the benchmark's Locust master and its worker processes, one typed payload per message.

Once connected, each worker says hello {index, pid, host, remote}; it may send log {message, level} at any time.
A worker on another host (`genai-bench worker`, remote) is then set up over the same channel:
  master → worker   setup {index, settings, files}   (or refuse {reason} when the master needs no more workers)
  worker → master   ready {error}                    (its tokenizer and workload built, or why they could not be)
  master → worker   ping {seq, sent, sent_wall}      worker → master   pong {seq, sent, sent_wall, clock, wall}
                    a few times: the exchange with the shortest round trip gives the worker's clock offset
One run, as the master drives it (message names without the "genai_bench:" prefix):
  master → workers  run {run, scenario, concurrency, limited, users, ...}; then Locust's spawn (MasterRunner.start)
  worker → master   want {run, count}        master → worker   grant {run, count, final}
  worker → master   records {run, records, issued}  every 100 ms, every 200 records, and when the worker is spent
  master → workers  close {run}              worker → master   closed {run, issued}   (time up or Ctrl-C)
  master → workers  Locust's stop, then finish {run}   worker → master   done {run, records, issued, aborted, client}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from functools import partial
from typing import Any, ClassVar, Self, dataclass_transform

from locust.runners import Runner

# Every message type's Locust name starts with this, so ours never clash with Locust's own or an extension's.
PREFIX = "genai_bench:"


@dataclass_transform(frozen_default=True)
class Message:
    """A message between the master and its workers; `name` is its Locust message type.

    A subclass is a frozen dataclass of its payload, named once: `class Want(RunMessage, name="want")`.
    """

    name: ClassVar[str]

    def __init_subclass__(cls, name: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if name:
            cls.name = PREFIX + name
        dataclass(frozen=True)(cls)

    def to_dict(self) -> dict[str, Any]:
        """The data Locust sends (msgpack: plain values only)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # shallow: a batch of records is not copied

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """The message from the data Locust received."""
        return cls(**data)


class Hello(Message, name="hello"):
    """worker → master, once connected: which worker this node is."""

    index: int  # -1: a remote worker, numbered by the master
    pid: int
    host: str = ""
    remote: bool = False  # set up over this channel (setup/ready), its clock measured (ping/pong)
    version: str = ""  # genai-bench's: master and remote workers must speak the same messages


class Setup(Message, name="setup"):
    """master → remote worker: its number, the benchmark's WorkerSettings (as a dict) and the files travelling with
    them (name → bytes: a small dataset file, a tokenizer.json)."""

    index: int
    settings: dict
    files: dict


class Refuse(Message, name="refuse"):
    """master → worker: not wanted (the master has its workers already); the worker exits saying why."""

    reason: str


class Ready(Message, name="ready"):
    """remote worker → master: set up and waiting for runs, or `error` saying why it could not be."""

    error: str | None = None


class Ping(Message, name="ping"):
    """master → remote worker: the master's perf_counter and wall clock as it sends."""

    seq: int
    sent: float
    sent_wall: float


class Pong(Message, name="pong"):
    """remote worker → master: the ping's values back, with the worker's own perf_counter and wall clock."""

    seq: int
    sent: float
    sent_wall: float
    clock: float
    wall: float


class Log(Message, name="log"):
    """worker → master: a message for the dashboard's log."""

    message: str
    level: str = "warning"


class RunMessage(Message):
    """A message about one run (the master numbers them); a late one about an earlier run is ignored."""

    run: int


class RunAnnouncement(RunMessage, name="run"):
    """master → each worker, before Locust's spawn: the run and this worker's part in it."""

    scenario: str
    concurrency: int
    limited: bool  # a request limit, leased a few requests at a time (closed loop)
    users: int  # users per worker
    workers: int
    request_rate: float | None  # open loop: the whole run's rate
    arrival: dict  # open loop: arrivals.ArrivalShape.to_dict()
    first_time: float  # open loop: perf_counter of the first send, in the receiving worker's clock
    position: int  # this worker's place among the run's workers
    budget: int | None  # open loop with a limit: this worker's share, granted whole
    schedule_seed: int = 0  # open loop: seeds the whole run's schedule alike in every worker


class Want(RunMessage, name="want"):
    """worker → master: lease `count` more requests of the run's limit."""

    count: int


class Grant(RunMessage, name="grant"):
    """master → worker: `count` requests leased; `final` when none are left to ask for."""

    count: int
    final: bool


class Records(RunMessage, name="records"):
    """worker → master: finished requests (RequestRecord.to_wire) and how many the worker has issued so far."""

    records: list
    issued: int


class Close(RunMessage, name="close"):
    """master → workers: issue nothing more in this run (time up or Ctrl-C)."""


class Closed(RunMessage, name="closed"):
    """worker → master: closed; `issued` is final."""

    issued: int


class Finish(RunMessage, name="finish"):
    """master → workers, after Locust's stop: send the run's last records."""


class Done(RunMessage, name="done"):
    """worker → master: the run's last records, aborted ones included, and the worker's client health."""

    records: list
    issued: int
    aborted: int
    client: dict | None


def send(runner: Runner, message: Message, client_id: str | None = None) -> None:
    """Send `message` with Locust (to one worker when `client_id` is given)."""
    runner.send_message(message.name, message.to_dict(), client_id=client_id)


def listen(runner: Runner, handlers: Mapping[type[Message], Callable[[Any, str], None]]) -> None:
    """Have Locust hand each message type to its handler as (decoded message, sender's node id)."""
    for kind, handler in handlers.items():
        runner.register_message(kind.name, partial(_deliver, kind, handler))


def _deliver(kind: type[Message], handler: Callable[[Any, str], None], msg: Any, **_: Any) -> None:
    # Locust calls a listener as listener(environment=..., msg=...).
    handler(kind.from_dict(msg.data), msg.node_id)
