"""The messages between the benchmark's Locust master and its worker processes, one typed payload per message.

Once connected, each worker says hello {index, pid}; it may send log {message, level} at any time.
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
from typing import Any, ClassVar, Self

from locust.runners import Runner


@dataclass(frozen=True)
class Message:
    """A message between the master and its workers; `name` is its Locust message type."""

    name: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """The data Locust sends (msgpack: plain values only)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # shallow: a batch of records is not copied

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """The message from the data Locust received."""
        return cls(**data)


@dataclass(frozen=True)
class Hello(Message):
    """worker → master, once connected: which worker this node is."""

    name: ClassVar[str] = "genai_bench:hello"
    index: int
    pid: int


@dataclass(frozen=True)
class RunAnnouncement(Message):
    """master → each worker, before Locust's spawn: the run and this worker's part in it."""

    name: ClassVar[str] = "genai_bench:run"
    run: int
    scenario: str
    concurrency: int
    limited: bool  # a request limit, leased a few requests at a time (closed loop)
    users: int  # users per worker
    workers: int
    request_rate: float | None  # open loop: the whole run's rate
    arrival: str  # open loop: poisson or constant
    first_time: float  # open loop: perf_counter of the first send, the same clock in every process
    position: int  # this worker's place among the run's workers
    budget: int | None  # open loop with a limit: this worker's share, granted whole


@dataclass(frozen=True)
class Want(Message):
    """worker → master: lease `count` more requests of the run's limit."""

    name: ClassVar[str] = "genai_bench:want"
    run: int
    count: int


@dataclass(frozen=True)
class Grant(Message):
    """master → worker: `count` requests leased; `final` when none are left to ask for."""

    name: ClassVar[str] = "genai_bench:grant"
    run: int
    count: int
    final: bool


@dataclass(frozen=True)
class Records(Message):
    """worker → master: finished requests (RequestRecord.to_wire) and how many the worker has issued so far."""

    name: ClassVar[str] = "genai_bench:records"
    run: int
    records: list
    issued: int


@dataclass(frozen=True)
class Close(Message):
    """master → workers: issue nothing more in this run (time up or Ctrl-C)."""

    name: ClassVar[str] = "genai_bench:close"
    run: int


@dataclass(frozen=True)
class Closed(Message):
    """worker → master: closed; `issued` is final."""

    name: ClassVar[str] = "genai_bench:closed"
    run: int
    issued: int


@dataclass(frozen=True)
class Finish(Message):
    """master → workers, after Locust's stop: send the run's last records."""

    name: ClassVar[str] = "genai_bench:finish"
    run: int


@dataclass(frozen=True)
class Done(Message):
    """worker → master: the run's last records, aborted ones included, and the worker's client health."""

    name: ClassVar[str] = "genai_bench:done"
    run: int
    records: list
    issued: int
    aborted: int
    client: dict | None


@dataclass(frozen=True)
class Log(Message):
    """worker → master: a message for the dashboard's log."""

    name: ClassVar[str] = "genai_bench:log"
    message: str
    level: str = "warning"


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
