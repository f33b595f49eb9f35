"""Trace replay (--trace): a timestamped request trace in the Mooncake JSON-lines format, sent as one open-loop run.

Each line is {"timestamp": ms, "input_length": n, "output_length": m, "hash_ids": [...]}. A request is sent at its
timestamp (after the trace's first, divided by --trace-speed) with a prompt of exactly `input_length` tokens whose
block i (512 tokens) is the text of block hash_ids[i]: equal hash ids are equal text, so the trace's prefix sharing
reaches the server's cache. The last block may be partial (the first input_length - 512·(len-1) tokens of its text).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

import numpy as np
import orjson

from genai_bench.config import ConfigError
from genai_bench.sampling import PromptSampler, SampledRequest
from genai_bench.tokenizer import Tokenizer

log = logging.getLogger(__name__)

# Tokens per hash id, as in Mooncake's traces.
BLOCK_TOKENS = 512
# Block texts kept built; a block is rebuilt identically from its hash id when it comes back after eviction.
MAX_CACHED_BLOCKS = 8192
# Draws of a block's text before giving up on one of exactly BLOCK_TOKENS tokens.
_BLOCK_TRIES = 16
_KEYS = ("timestamp", "input_length", "output_length", "hash_ids")


class TraceError(ConfigError):
    """A trace that cannot be replayed; the message is one line naming the file (and the line)."""


@dataclass(frozen=True, slots=True)
class TraceRequest:
    """One line of a trace."""

    timestamp: float  # seconds after the trace's first request
    input_length: int
    output_length: int
    hash_ids: tuple[int, ...]


@dataclass(frozen=True)
class Trace:
    """A trace's requests in send order, timestamps counted from the first."""

    path: str
    requests: list[TraceRequest]
    sha256: str

    def describe(self) -> dict:
        """The trace as the workload description shows it."""
        return {"path": self.path, "requests": len(self.requests), "sha256": self.sha256,
                "duration": self.requests[-1].timestamp}


def load_trace(path: str) -> Trace:
    """Read and check a trace; timestamps out of order are sorted, with a warning."""
    where = f"--trace {path}"
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise TraceError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    requests = [_parse_line(line, f"{where} line {number}")
                for number, line in enumerate(data.splitlines(), start=1) if line.strip()]
    if not requests:
        raise TraceError(f"{where}: no requests (expected JSON lines with {', '.join(_KEYS)})")
    if any(b.timestamp < a.timestamp for a, b in zip(requests, requests[1:])):
        log.warning("%s: timestamps are not in order; replaying the requests sorted by timestamp", where)
        requests.sort(key=lambda request: request.timestamp)  # stable: equal timestamps keep the file's order
    first = requests[0].timestamp
    requests = [TraceRequest(r.timestamp - first, r.input_length, r.output_length, r.hash_ids) for r in requests]
    return Trace(path, requests, hashlib.sha256(data).hexdigest())


def _parse_line(line: bytes, where: str) -> TraceRequest:
    """One trace line, or a one-line error naming it."""
    try:
        item = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise TraceError(f"{where}: not JSON ({str(exc).splitlines()[0]}); a trace has one JSON object a line") from None
    if not isinstance(item, dict):
        raise TraceError(f"{where}: expected a JSON object with {', '.join(_KEYS)}")
    if missing := [key for key in _KEYS if key not in item]:
        raise TraceError(f"{where}: missing {', '.join(missing)}")
    timestamp, input_length, output_length, hash_ids = (item[key] for key in _KEYS)
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)) or not 0 <= timestamp < math.inf:
        raise TraceError(f"{where}: timestamp must be a number of milliseconds, 0 or more")
    for key, value in (("input_length", input_length), ("output_length", output_length)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise TraceError(f"{where}: {key} must be a positive integer (tokens)")
    if not isinstance(hash_ids, list) or not all(isinstance(h, int) and not isinstance(h, bool) and h >= 0
                                                 for h in hash_ids):
        raise TraceError(f"{where}: hash_ids must be a list of non-negative integers")
    if len(hash_ids) > -(-input_length // BLOCK_TOKENS):
        raise TraceError(f"{where}: {len(hash_ids)} hash_ids name {BLOCK_TOKENS}-token blocks, more than the "
                         f"input_length of {input_length} tokens holds")
    return TraceRequest(timestamp / 1000.0, input_length, output_length, tuple(hash_ids))


class TracePrompts:
    """Each trace request's token-exact prompt, from the text of its hash ids' blocks.

    A block's text depends only on (seed, hash id): built once and cached, or rebuilt identically. Each block is
    corpus text of 511 tokens without surrounding whitespace, then a newline: a newline between two non-space
    characters is its own token under byte-level BPE, so blocks put side by side keep 512 tokens each.
    """

    def __init__(self, trace: Trace, sampler: PromptSampler, tokenizer: Tokenizer, seed: int) -> None:
        self.trace = trace
        self.sampler = sampler
        self.tokenizer = tokenizer
        self.seed = seed
        self.block = functools.lru_cache(maxsize=MAX_CACHED_BLOCKS)(self._build_block)
        self._seams_hold: bool | None = None

    def request(self, index: int) -> SampledRequest:
        """The trace's request number `index` with its prompt."""
        line = self.trace.requests[index]
        return SampledRequest(self.prompt(line, index), line.input_length, line.output_length)

    def prompt(self, line: TraceRequest, index: int) -> str:
        """Exactly `input_length` tokens: the blocks of `hash_ids` in order, the last one cut to what is left, and
        corpus text after them when the hash ids cover less than the input."""
        hash_ids, length = line.hash_ids, line.input_length
        full = min(len(hash_ids), length // BLOCK_TOKENS)
        head = "".join(self.block(hash_id)[0] for hash_id in hash_ids[:full])
        rest = length - full * BLOCK_TOKENS
        # Text that no hash id names is the request's own: seeded by its index, it is shared with no other request.
        rng = np.random.default_rng([self.seed, 2, index])
        if rest and full < len(hash_ids):  # a partial last block: its text's first `rest` tokens
            text, ends = self.block(hash_ids[full])
            tail = text[:ends[rest - 1]]
            prompt = head + tail
            # Where blocks keep their count side by side, only the cut needs counting (not the whole long prompt).
            exact = self.tokenizer.count(tail) == rest if self.seams_hold else self.tokenizer.count(prompt) == length
        elif rest:  # hash ids cover only part of the input: the rest is corpus text
            return self.sampler.prompt(length, rng, head, full * BLOCK_TOKENS)
        else:
            prompt = head
            exact = self.seams_hold or self.tokenizer.count(prompt) == length
        if exact:
            return prompt
        # The cut re-merged (or an unusual tokenizer merged across blocks): corpus text after the head keeps it exact.
        return self.sampler.prompt(length, rng, head, full * BLOCK_TOKENS)

    @property
    def seams_hold(self) -> bool:
        """Whether blocks (and a cut block) put side by side keep their token counts under this tokenizer: true of
        byte-level BPE, whose pre-tokenizer splits at the newline; checked once on two blocks, else every prompt is
        counted whole."""
        if self._seams_hold is None:
            (first, _), (second, ends) = self._build_block(-1), self._build_block(-2)
            cut = second[:ends[BLOCK_TOKENS // 2 - 1]]
            self._seams_hold = self.tokenizer.count_batch([first + second, first + cut]) == [
                2 * BLOCK_TOKENS, BLOCK_TOKENS + self.tokenizer.count(cut)]
        return self._seams_hold

    def _build_block(self, hash_id: int) -> tuple[str, list[int]]:
        """The text of block `hash_id` and where each of its tokens ends."""
        rng = np.random.default_rng([self.seed, int(hash_id < 0), abs(hash_id)])  # the probe's ids (-1, -2) apart
        newline = len(self.tokenizer.encode("\n"))
        for _ in range(_BLOCK_TRIES):
            text = self.sampler.prompt(BLOCK_TOKENS - newline, rng).strip() + "\n"
            ids, ends = self.tokenizer.encode_batch_with_ends([text])[0]
            if len(ids) == BLOCK_TOKENS:
                return text, ends
        raise RuntimeError(f"cannot build a {BLOCK_TOKENS}-token trace block with tokenizer {self.tokenizer.name!r}")


class TraceSchedule:
    """Send times of a trace replay: request k at the first send plus its timestamp divided by `speed`."""

    # A replay is judged by how closely it keeps the trace's times (aggregated_metrics.trace): the last millisecond
    # before each send is spent yielding to the loop rather than on a timer that may wake a millisecond late.
    yield_seconds = 0.001

    def __init__(self, trace: Trace, speed: float, first_time: float | None = None) -> None:
        self.offsets = [request.timestamp / speed for request in trace.requests]
        self.speed = speed
        self.first_time = first_time
        self._next = 0

    def next_send_time(self) -> float:
        """The perf_counter time of the next request's timestamp (the first is due now, or at `first_time`)."""
        if self.first_time is None:
            self.first_time = perf_counter()
        due = self.first_time + self.offsets[self._next]
        self._next += 1
        return due


def trace_summary(sends: list[tuple[float, float]], speed: float) -> dict:
    """aggregated_metrics.trace: requests sent and the send-time error (actual send − trace time, seconds)."""
    errors = [start - scheduled for start, scheduled in sends]
    p50 = p99 = None
    if errors:
        p50, p99 = (float(value) for value in np.percentile(errors, [50, 99]))
    return {"requests": len(errors), "send_error_p50": p50, "send_error_p99": p99, "speed": speed}
