"""Prompt sampling: token-exact prompts cut from a corpus (the bundled one or a dataset's text) under the active
tokenizer."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Protocol

import gevent
import numpy as np
from gevent.event import Event

from genai_bench.scenarios import Scenario
from genai_bench.tokenizer import CORPUS_PATH, Tokenizer
from genai_bench.window_counts import WindowCounts

# Window resizes before falling back to filler padding; each costs one decode and one encode.
_MAX_RESIZES = 3
# Attempts at padding with filler before giving up on corpus text altogether.
_MAX_PAD_TRIES = 3
# Most prompt text UpcomingRequests keeps built ahead (characters), whatever the depth.
MAX_QUEUED_CHARS = 16_000_000
# How long a run may spend building its first requests before it starts.
BUILD_AHEAD_SECONDS = 1.0
# Words that are one token on their own in nearly every vocabulary; the first that behaves is used.
_FILLER_CANDIDATES = (" the", " a", " and", " of", " to", " I", "the", "a", " x", " .", ".")


@dataclass(frozen=True)
class SampledRequest:
    """One request's prompt with its exact input token count and the output length to force."""

    prompt: str | list[dict]  # a list: the chat messages to send (images.chat_messages)
    num_input_tokens: int
    max_output_tokens: int | None  # None: no limit sent (a dataset row without a reference answer)
    num_images: int = 0
    image_bytes: int = 0  # the images' encoded size; the prompt holds them as base64, a third larger

    @property
    def chars(self) -> int:
        """About how many characters the request holds while queued: its text, and its images as base64."""
        return (len(self.prompt) if isinstance(self.prompt, str) else 0) + -(-self.image_bytes // 3) * 4


class RequestSource(Protocol):
    """Builds a run's requests in draw order: a PromptSampler, or a workload.Workload (datasets, shared prefixes)."""

    def sample(self, scenario: Scenario, rng: np.random.Generator, index: int = 0) -> SampledRequest:
        """The run's request number `index`, drawn from `rng`."""


class PromptSampler:
    """Cuts prompts of an exact token count from a corpus, tokenized once at construction.

    The corpus is the bundled one, the file at `corpus_path`, or `corpus_text` (a dataset's text, one paragraph a line).
    """

    def __init__(self, tokenizer: Tokenizer, seed: int | None = None, corpus_path: Path | None = None,
                 corpus_text: str | None = None) -> None:
        self.tokenizer = tokenizer
        self._rng = np.random.default_rng(seed)
        if corpus_text is None:
            path = corpus_path or CORPUS_PATH
            corpus_text, name = path.read_text(encoding="utf-8"), f"corpus {path}"
        else:
            name = "the dataset's text"
        self._text, self._ends = _tokenize_corpus(tokenizer, corpus_text, name)
        self._filler = _pick_filler(tokenizer)
        # Counts most windows without the tokenizer (None: this tokenizer always counts them); the same numbers.
        self._window_counts = WindowCounts.of(tokenizer, self._text)

    def prompt(self, num_tokens: int, rng: np.random.Generator | None = None, head: str = "",
               head_tokens: int = 0) -> str:
        """Text whose token count under the sampler's tokenizer is exactly `num_tokens` (placed by `rng` if given).

        With `head` (of about `head_tokens` tokens), the text starts with it and the corpus fills the rest.
        """
        if num_tokens < 1:
            raise ValueError(f"num_tokens must be positive, got {num_tokens}")
        start = int((rng or self._rng).integers(len(self._ends)))
        length = num_tokens - head_tokens
        for _ in range(_MAX_RESIZES):
            text = head + self._window(start, length)
            count = self._count(text, head, start, length)
            if count == num_tokens:
                return text
            # Boundary tokens re-merge differently once decoded; shift the window end by the miss.
            length = max(0, length + num_tokens - count)
        return self._pad_to(start, length, num_tokens, head)

    def sample(self, scenario: Scenario, rng: np.random.Generator | None = None, index: int = 0) -> SampledRequest:
        """Draw token counts from `scenario` and build the matching prompt (from `rng` if given).

        `index` is the draw's place in its run (unused here; workload.Workload picks prefix groups by it).
        """
        rng = rng or self._rng
        num_in, num_out = scenario.sample(rng)
        return SampledRequest(self.prompt(num_in, rng), num_in, num_out)

    def _window(self, start: int, length: int) -> str:
        """The corpus text of tokens start..start+length-1: a slice, not a decode (the text around each token is kept).

        A window may run past the end of the corpus and repeat it, for long prompts.
        """
        if length <= 0:
            return ""
        return _cyclic_slice(self._text, *self._span(start, length))

    def _span(self, start: int, length: int) -> tuple[int, int]:
        """Where the window of tokens start..start+length-1 begins and ends in the endlessly repeated corpus."""
        return (self._char_end(start - 1) if start > 0 else 0), self._char_end(start + length - 1)

    def _count(self, text: str, head: str, start: int, length: int) -> int:
        """Tokens in `text` (= head + the window): from the corpus's own encoding when the window allows it."""
        if not head and length > 0 and self._window_counts is not None:
            begin, end = self._span(start, length)
            if end <= len(self._text):  # a window that wraps round the corpus is counted by the tokenizer
                known = self._window_counts.count(begin, end)
                if known is not None:
                    return known
        return self.tokenizer.count(text)

    def _char_end(self, position: int) -> int:
        """Where token `position` of the endlessly repeated corpus ends, in characters."""
        laps, index = divmod(position, len(self._ends))
        return laps * len(self._text) + self._ends[index]

    def _pad_to(self, start: int, length: int, num_tokens: int, head: str = "") -> str:
        """Shrink the window until it fits, then pad with single-token filler words to the exact count."""
        text = head + self._window(start, length)
        count = self._count(text, head, start, length)
        while count > num_tokens and length > 0:
            length = max(0, min(length - 1, length * num_tokens // count - 1))
            text = head + self._window(start, length)
            count = self._count(text, head, start, length)
        for _ in range(_MAX_PAD_TRIES):
            padded = text + self._filler * (num_tokens - count)
            padded_count = self.tokenizer.count(padded)
            if padded_count == num_tokens:
                return padded
            # The filler merged with the text's last word; drop that word's worth and retry.
            text = text[: max(len(head), len(text) - 8)]
            count = self.tokenizer.count(text)
        return self._filler_only(num_tokens)

    def _filler_only(self, num_tokens: int) -> str:
        text = self._filler * num_tokens
        if self.tokenizer.count(text) != num_tokens:
            raise RuntimeError(f"cannot build a {num_tokens}-token prompt with tokenizer {self.tokenizer.name!r}")
        return text


class UpcomingRequests:
    """A run's next requests, drawn in a fixed order and built ahead in moments when the event loop is idle.

    A token-exact prompt costs a decode and an encode (0.1-0.3 ms per 100 tokens). In a closed loop hundreds of users
    finish and start together; building their prompts then keeps the loop from reading sockets whose first tokens
    arrive meanwhile, and bytes left unread merge with the next chunk's under one kernel receive stamp. Every draw
    comes from the run's own generator, in order, so a seed gives the same requests however far ahead idle moments
    let the queue run; when it is empty, the next request is drawn on the spot.
    """

    def __init__(self, sampler: RequestSource, scenario: Scenario, rng: np.random.Generator, depth: int,
                 limit: int | None = None) -> None:
        self.sampler = sampler
        self.scenario = scenario
        self.rng = rng
        self.depth = max(1, depth)
        self.limit = limit  # the run's request limit: nothing is built beyond it (a trace has no line beyond it)
        self._ready: deque[SampledRequest] = deque()
        self._queued_chars = 0
        self._taken = Event()
        self._builder: gevent.Greenlet | None = None
        self._drawn = 0

    def next(self) -> SampledRequest:
        """The next request in draw order."""
        if self._builder is None:
            self._builder = gevent.spawn(self._build_ahead)
        self._taken.set()
        if not self._ready:
            return self._draw()
        request = self._ready.popleft()
        self._queued_chars -= request.chars
        return request

    def build_ahead(self, seconds: float) -> None:
        """Fill the queue now, for at most `seconds` (before a run starts, when its first requests all go out at once)."""
        deadline = perf_counter() + seconds
        while self._wants_more() and perf_counter() < deadline:
            self._build_one()

    def close(self) -> None:
        """Stop building ahead (the run is over)."""
        if self._builder is not None:
            self._builder.kill(block=False)
        self._ready.clear()

    @property
    def ready(self) -> int:
        """How many requests are built and waiting."""
        return len(self._ready)

    def _draw(self) -> SampledRequest:
        self._drawn += 1
        return self.sampler.sample(self.scenario, self.rng, self._drawn - 1)

    def _wants_more(self) -> bool:
        return (len(self._ready) < self.depth and self._queued_chars < MAX_QUEUED_CHARS
                and (self.limit is None or self._drawn < self.limit))

    def _build_one(self) -> None:
        request = self._draw()
        self._ready.append(request)
        self._queued_chars += request.chars

    def _build_ahead(self) -> None:
        while True:
            while self._wants_more():
                gevent.idle()  # returns when no I/O or timer callback is waiting
                self._build_one()
            self._taken.clear()
            self._taken.wait()


def _tokenize_corpus(tokenizer: Tokenizer, corpus: str, name: str) -> tuple[str, list[int]]:
    """The corpus text (paragraphs, each ending in a newline) and where each of its tokens ends, in characters."""
    lines = [line for line in corpus.splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{name} is empty")
    # Each paragraph is encoded on its own and followed by the newline's tokens, so byte-level BPE never merges across
    # paragraphs; tokenizers that drop whitespace give the newline no tokens at all, which is fine.
    newline = tokenizer.encode("\n")
    ends: list[int] = []
    offset = 0
    for line, (ids, line_ends) in zip(lines, tokenizer.encode_batch_with_ends(lines)):
        ends.extend(offset + end for end in line_ends)
        offset += len(line) + 1
        ends.extend([offset] * len(newline))
    if not ends:
        raise ValueError(f"{name} encodes to no tokens")
    return "".join(line + "\n" for line in lines), ends


def _cyclic_slice(text: str, begin: int, end: int) -> str:
    """text[begin:end] of `text` repeated endlessly."""
    size = len(text)
    laps, begin = divmod(begin, size)
    end -= laps * size
    if end <= size:
        return text[begin:end]
    whole, rest = divmod(end, size)
    return text[begin:] + text * (whole - 1) + text[:rest]


def _pick_filler(tokenizer: Tokenizer) -> str:
    for word in _FILLER_CANDIDATES:
        if all(tokenizer.count(word * k) == k for k in (1, 2, 7)) and _appends_cleanly(tokenizer, word):
            return word
    raise ValueError(f"tokenizer {tokenizer.name!r} has no single-token filler word; cannot build exact prompts")


def _appends_cleanly(tokenizer: Tokenizer, word: str) -> bool:
    base = "It was the best of times"
    return tokenizer.count(base + word * 3) == tokenizer.count(base) + 3
