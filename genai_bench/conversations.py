"""Multi-turn sessions: each user plays whole conversations, sending the history with the server's own answers."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from genai_bench.config import BenchmarkConfig, ConfigError
from genai_bench.prompt_datasets import SYSTEM, USER, Conversation, Dataset
from genai_bench.sampling import UpcomingRequests
from genai_bench.scenarios import DATASET, Scenario
from genai_bench.tokenizer import Tokenizer


@dataclass(frozen=True)
class MultiTurn:
    """How a run's users converse: a dataset's conversations, or `turns` synthetic user messages each."""

    turns: int | None = None  # synthetic: user messages per conversation, each drawn from the scenario
    dataset: Dataset | None = None  # replayed: each conversation's user turns, answered by the server
    think_time: float = 0.0  # seconds between an answer and the next turn (never part of any latency)

    def describe(self) -> dict:
        """The workload description's multi_turn entry."""
        return {"turns": "dataset" if self.dataset is not None else self.turns, "think_time": self.think_time}


@dataclass(frozen=True, slots=True)
class UserMessage:
    """One turn's new user message, its token count and the output length to force."""

    text: str
    num_tokens: int
    max_output_tokens: int


class ChatSession:
    """One conversation in progress: its id, the messages so far (answers included) and their token count."""

    __slots__ = ("session_id", "total_turns", "turn", "messages", "history_tokens", "_draw")

    def __init__(self, session_id: str, total_turns: int, draw: Callable[[int], UserMessage],
                 messages: list[dict] | None = None, history_tokens: int = 0) -> None:
        self.session_id = session_id
        self.total_turns = total_turns
        self.turn = 0  # turns asked so far; the current request's 1-based turn once asked
        self.messages = messages or []
        self.history_tokens = history_tokens
        self._draw = draw

    @property
    def done(self) -> bool:
        """True when every turn was asked."""
        return self.turn >= self.total_turns

    def ask(self) -> UserMessage:
        """The next user message, appended to the history (drawn only now, so a run that ends draws no more)."""
        message = self._draw(self.turn)
        self.turn += 1
        self.messages.append({"role": USER, "content": message.text})
        self.history_tokens += message.num_tokens
        return message

    def answer(self, text: str, output_tokens: int) -> None:
        """The server's answer to the last turn, which the next turn sends back as the assistant's message."""
        self.messages.append({"role": "assistant", "content": text})
        self.history_tokens += output_tokens


@dataclass
class Conversations:
    """A run's supply of chat sessions: unique ids, and user messages from the dataset or the scenario."""

    multi_turn: MultiTurn
    requests: UpcomingRequests  # synthetic user messages, drawn like single requests
    scenario: Scenario
    tokenizer: Tokenizer
    rng: np.random.Generator
    id_prefix: str = ""  # worker processes add theirs, so ids stay unique across a run
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1), init=False, repr=False)

    @property
    def think_time(self) -> float:
        """Seconds between an answer and the next turn."""
        return self.multi_turn.think_time

    def start(self) -> ChatSession:
        """A new conversation with its own session id."""
        session_id = f"{self.id_prefix}s{next(self._numbers)}"
        dataset = self.multi_turn.dataset
        if dataset is None:
            return ChatSession(session_id, self.multi_turn.turns or 1, self._synthetic)
        conversation = dataset.conversations[int(self.rng.integers(len(dataset.conversations)))]
        system = [turn.text for turn in _leading_turns(conversation) if turn.role == SYSTEM]
        user_turns = conversation.user_turns
        return ChatSession(session_id, len(user_turns), lambda index: self._replayed(user_turns[index]),
                           [{"role": SYSTEM, "content": text} for text in system],
                           sum(self.tokenizer.count(text) for text in system))

    def _synthetic(self, _index: int) -> UserMessage:
        request = self.requests.next()
        return UserMessage(request.prompt, request.num_input_tokens, request.max_output_tokens)

    def _replayed(self, text: str) -> UserMessage:
        # D/N/U set each answer's length; the dataset scenario leaves it to the server (no max_tokens sent).
        max_output_tokens = None if self.scenario.kind == DATASET else self.scenario.sample(self.rng)[1]
        return UserMessage(text, self.tokenizer.count(text), max_output_tokens)


def _leading_turns(conversation: Conversation) -> list:
    """The turns before the first user message (a system prompt, when the conversation has one)."""
    return list(itertools.takewhile(lambda turn: turn.role != USER, conversation.turns))


def multi_turn_of(config: BenchmarkConfig, dataset: Dataset | None) -> MultiTurn | None:
    """The run's multi-turn settings (None for single requests); a one-line ConfigError when they cannot work."""
    if not config.conversational:
        return None
    if not config.multi_turn:
        return MultiTurn(turns=config.turns, think_time=config.think_time)
    if dataset is None:
        raise ConfigError("--multi-turn plays the conversations of a dataset: give one with --dataset-path")
    if config.num_workers:  # worker processes get their settings as one line, which has no room for a dataset
        raise ConfigError("--multi-turn runs its dataset's conversations in this process; drop --num-workers "
                          "(--turns N works with workers)")
    if not any(len(c.user_turns) > 1 for c in dataset.conversations):
        raise ConfigError(f"--multi-turn: dataset {dataset.name} has no conversation with more than one user turn; "
                          "use --turns N for synthetic conversations")
    return MultiTurn(dataset=dataset, think_time=config.think_time)


def multi_turn_workload(multi_turn: MultiTurn | None) -> dict:
    """The multi-turn part of the experiment's workload description."""
    return {"multi_turn": multi_turn.describe() if multi_turn is not None else None}
