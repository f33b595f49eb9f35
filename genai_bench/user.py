"""The Locust user: each one sends requests from the run's budget (back to back, or on an arrival schedule)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter

import gevent
from gevent.event import Event
from locust import User, constant, task

from genai_bench.arrivals import SendTimes
from genai_bench.client import Prompt, Target
from genai_bench.conversations import ChatSession, Conversations
from genai_bench.protocol import ERROR_ABORTED, RequestRecord
from genai_bench.sampling import UpcomingRequests
from genai_bench.scenarios import Scenario
from genai_bench.tasks import TASKS, TEXT_TO_TEXT, TaskSpec
from genai_bench.tokenizer import Tokenizer


class RequestBudget:
    """How many requests a run may still issue, and how many are in flight; greenlet-safe without locks."""

    def __init__(self, limit: int | None) -> None:
        self.remaining = limit if limit is not None else -1
        self.issued = 0
        self.in_flight = 0
        self.closed = False
        self.closing = Event()  # set with `closed`: wakes users waiting for a send time beyond the run's end
        self.exhausted = Event()  # set when nothing more will be issued and nothing is in flight
        self.run_over = Event()  # set by the runner once its users are stopped

    def take(self) -> bool:
        """Claim one request; False once the limit is reached or the run was closed."""
        # No greenlet switch can happen between the check and the update, so this is exact.
        if self.closed or self.remaining == 0:
            return False
        self.remaining -= 1
        self.issued += 1
        self.in_flight += 1
        return True

    def release(self) -> None:
        """One request has finished (successfully or not)."""
        self.in_flight -= 1
        self._check_exhausted()

    def cancel(self) -> None:
        """Give back a claimed request that was never sent (the run closed while it waited for its send time)."""
        self.issued -= 1
        self.release()

    def close(self) -> None:
        """Issue nothing more (time is up or the user pressed Ctrl-C); in-flight requests still finish."""
        self.closed = True
        self.closing.set()
        self._check_exhausted()

    def wait_for_run_end(self) -> None:
        """Park a user with nothing left to send until the runner stops it.

        A user that stopped itself (StopUser) races Locust's own stop logic, which then logs spurious errors.
        """
        self.run_over.wait()

    def _check_exhausted(self) -> None:
        if self.in_flight == 0 and (self.closed or self.remaining == 0):
            self.exhausted.set()


class StartLine:
    """Holds a run's first requests until all its users have opened their connections, then lets them go together.

    Users spawned at once would otherwise send while others still connect: the server then takes connections and
    requests in one long burst, and the first tokens of the earliest requests come due in the middle of it, as do the
    reads this process owes them.
    """

    def __init__(self, users: int, timeout: float) -> None:
        self.missing = users
        self.timeout = timeout
        self.open = Event()
        if users <= 0:
            self.open.set()

    def arrive(self) -> None:
        """This user is connected: wait (at most `timeout` seconds) for the rest."""
        self.missing -= 1
        if self.missing <= 0:
            self.open.set()
        self.open.wait(self.timeout)


class LeasedBudget(RequestBudget):
    """A worker process's part of a run's request budget, leased from the master a few tickets at a time.

    The master holds the run's whole budget and never grants more than is left, so the total issued over all workers
    is exact. A worker asks for more while it still has some (about two requests per user in hand), so its users
    rarely wait; a user with no ticket waits for the master's answer. `final` means the master has nothing more.
    """

    # Asks for more below this many in hand even with few users, so a round trip to a busy master rarely stalls one.
    MIN_LOW_WATER = 4

    def __init__(self, ask: Callable[[int], None], users: int) -> None:
        super().__init__(0)
        self.ask = ask
        self.low_water = max(self.MIN_LOW_WATER, users)
        self.final = False
        self.asking = False
        self._changed = Event()  # replaced, never cleared, so no waiter can miss a wake-up

    def take(self) -> bool:
        """Claim one request, waiting for the master's grant when this worker has none left."""
        while True:
            if self.closed:
                return False
            if self.remaining > 0:
                self.remaining -= 1
                self.issued += 1
                self.in_flight += 1
                self._ask_for_more()
                return True
            if self.final:
                return False
            changed = self._changed
            self._ask_for_more()
            changed.wait()

    def grant(self, count: int, final: bool) -> None:
        """The master's answer: `count` more requests; `final` when it has none left for anyone."""
        self.remaining += count
        self.asking = False
        self.final = self.final or final
        self._wake()
        self._check_exhausted()

    def close(self) -> None:
        """Issue nothing more; waiting users give up."""
        super().close()
        self._wake()

    def _ask_for_more(self) -> None:
        if self.asking or self.final or self.closed or self.remaining >= self.low_water:
            return
        self.asking = True
        self.ask(2 * self.low_water - self.remaining)  # may switch greenlets: callers re-check after it

    def _wake(self) -> None:
        changed, self._changed = self._changed, Event()
        changed.set()

    def _check_exhausted(self) -> None:
        if self.in_flight == 0 and (self.closed or (self.final and self.remaining == 0)):
            self.exhausted.set()


@dataclass
class RunContext:
    """What every user of one run shares: target, scenario, its upcoming requests, budget."""

    target: Target
    tokenizer: Tokenizer
    requests: UpcomingRequests
    scenario: Scenario
    concurrency: int
    budget: RequestBudget
    on_record: Callable[[RequestRecord], None]  # every finished request, ok or not (our one statistics store)
    schedule: SendTimes | None = None  # open loop (--request-rate, --trace); None: back-to-back requests
    start_line: StartLine | None = None  # users spawned at once start together, once all are connected
    conversations: Conversations | None = None  # multi-turn: each user plays whole conversations
    task: TaskSpec = TASKS[TEXT_TO_TEXT]  # what the requests are (its client sends them)


class OpenAIUser(User):
    """A Locust user that streams completions back to back; bind() gives it a run's context."""

    abstract = True
    wait_time = constant(0)
    context: RunContext

    @classmethod
    def bind(cls, context: RunContext) -> type[OpenAIUser]:
        """A concrete user class for one run."""
        return type("BoundOpenAIUser", (cls,), {"abstract": False, "context": context})

    def on_start(self) -> None:
        """Open this user's keep-alive connection."""
        self.client = self.context.task.new_client(self.context.target, self.context.tokenizer)
        self.client.connect()
        if self.context.start_line is not None:
            self.context.start_line.arrive()

    def on_stop(self) -> None:
        """Close this user's connection."""
        self.client.close()

    @task
    def send_request(self) -> None:
        """Send one request from the budget (multi-turn: play one conversation), or wait for the run's end when the
        budget is spent."""
        context = self.context
        if context.conversations is not None:
            self._hold_conversation(context.conversations.start())
            return
        if not context.budget.take():
            context.budget.wait_for_run_end()
            return
        request = context.requests.next()
        record = RequestRecord(context.scenario.text, context.concurrency, request.num_input_tokens,
                               request.max_output_tokens, num_images=request.num_images,
                               image_bytes=request.image_bytes)
        # Nothing yields between drawing the request and taking its send time, so a trace's k-th request gets the
        # trace's k-th time.
        if context.schedule is not None and not self._wait_for_send_time(record):
            return
        self._send(record, request.prompt)

    def _hold_conversation(self, session: ChatSession) -> None:
        """Play one conversation: each turn takes one request from the budget and sends the whole history so far."""
        context = self.context
        budget = context.budget
        while not session.done:
            if session.turn and context.conversations.think_time:
                # The user reads and types before its clock starts; a run that closes meanwhile ends the wait.
                budget.closing.wait(context.conversations.think_time)
            if not budget.take():  # the run's last request went, or its time is up: the conversation just stops
                budget.wait_for_run_end()
                return
            message = session.ask()
            record = RequestRecord(context.scenario.text, context.concurrency, session.history_tokens,
                                   message.max_output_tokens, session_id=session.session_id, turn=session.turn)
            self._send(record, session.messages)
            if not record.ok:
                return  # without the server's answer there is no history to go on with
            session.answer(self.client.last_answer(), record.num_output_tokens)

    def _send(self, record: RequestRecord, prompt: Prompt) -> None:
        """Send one claimed request and report it, also when the run's end kills it in flight."""
        try:
            self.client.send(record, prompt)
        except gevent.GreenletExit:
            # The run ended while this request was in flight: keep it, as aborted, with its real latency.
            record.fail(ERROR_ABORTED, "request still in flight when the run's drain time ran out", perf_counter())
            self._report(record)
            raise
        self._report(record)

    def _wait_for_send_time(self, record: RequestRecord) -> bool:
        """Sleep until the request's scheduled time; False (request given back) if the run closed meanwhile."""
        budget = self.context.budget
        record.scheduled_start = self.context.schedule.next_send_time()
        # Not a plain sleep: a send time past the run's time limit would hold the run open until it came.
        timer = record.scheduled_start - perf_counter() - self.context.schedule.yield_seconds
        if timer > 0:  # a request already due goes at once: even a zero wait would let every other user go first
            budget.closing.wait(timer)
        while not budget.closed and perf_counter() < record.scheduled_start:
            gevent.sleep(0)  # the schedule's last stretch: other users' I/O goes on meanwhile
        if budget.closed:
            budget.cancel()
            return False
        return True

    def _report(self, record: RequestRecord) -> None:
        # Our own sink, not Locust's events.request: that would also feed Locust's RequestStats, a second
        # statistics store nobody reads.
        self.context.budget.release()
        self.context.on_record(record)
