"""An embedded OpenAI-compatible simulated LLM server with precise token timing and real-server quirks (§9)."""

import collections
import heapq
import hmac
import http
import io
import itertools
import json
import random
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Iterable, Iterator

import gevent
import httptools
import orjson
from gevent.event import Event
from gevent.lock import BoundedSemaphore, Semaphore
from gevent.pywsgi import WSGIHandler, WSGIServer

from genai_bench.processes import end_children, follow_parent, freeze_long_lived_objects, spawn_child
from genai_bench.receive_times import ANCILLARY_SPACE, enable_receive_timestamps, received_at
from genai_bench.tokenizer import Tokenizer, builtin_tokenizer

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
                405: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_error"}
_JSON_HEADERS = [("Content-Type", "application/json")]
_SSE_HEADERS = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]
_DONE = b"data: [DONE]\n\n"
_MAX_BODY = 64 * 1024 * 1024
# The limits of the stdlib header parser pywsgi used before.
_MAX_HEADERS = 100
_MAX_HEADER_LINE = 65536
_POOL_SIZE = 4096
# A deep backlog: a benchmark opens hundreds of connections at once, and overflow costs 1 s SYN retries.
_BACKLOG = 4096
# How long `simulate --workers N` waits for each extra process to listen.
WORKER_START_TIMEOUT = 30.0
# How far ahead of a first or last token's deadline a request's intake waits for it (about one intake's CPU time).
INTAKE_HORIZON = 0.0003
# The WSGI environ key under which the handler passes the kernel's receive time of a request (perf_counter seconds).
RECEIVED_AT_KEY = "genai_bench.received_at"


def _opt(default: Any, help_text: str) -> Any:
    return field(default=default, metadata={"help": help_text})


@dataclass
class SimulatorConfig:
    """Timing, capacity, fault-injection and quirk settings of the simulated server."""

    model: str = _opt("genai-bench-sim", "Model name listed by /v1/models (requests may name any model).")
    ttft_ms: float = _opt(20.0, "Fixed time to first token, in ms.")
    prefill_ms_per_token: float = _opt(0.0, "Extra time to first token per prompt token, in ms.")
    itl_ms: float = _opt(10.0, "Inter-token latency in ms (chunks of k tokens are k*itl_ms apart).")
    jitter_ms: float = _opt(0.0, "Uniform +/- jitter added to every delay, in ms.")
    tokens_per_chunk: int = _opt(1, "Output tokens carried by each streamed chunk.")
    max_concurrency: int = _opt(0, "Max concurrent sequences (0 = unlimited); more requests queue and wait.")
    default_max_tokens: int = _opt(128, "Output length when the request sets no max_tokens.")
    error_rate: float = _opt(0.0, "Share of requests answered with an error status before streaming.")
    error_codes: tuple[int, ...] = _opt((429, 500, 503), "HTTP status codes used for injected errors.")
    stall_rate: float = _opt(0.0, "Share of requests that stall once mid-stream.")
    stall_ms: float = _opt(1000.0, "Length of a mid-stream stall, in ms.")
    disconnect_rate: float = _opt(0.0, "Share of streams whose connection is closed mid-stream.")
    malformed_rate: float = _opt(0.0, "Share of streams with one chunk that is not valid JSON.")
    no_usage: bool = _opt(False, "Quirk: ignore stream_options.include_usage (never send a usage chunk).")
    ignore_max_completion_tokens: bool = _opt(False, "Quirk: ignore max_completion_tokens, honour only max_tokens.")
    ignore_ignore_eos: bool = _opt(False, "Quirk: ignore ignore_eos and min_tokens (early EOS can then happen).")
    early_eos_rate: float = _opt(0.0, "Share of unforced requests that stop early with finish_reason 'stop'.")
    role_chunk: bool = _opt(True, "Send a role-only first chat chunk that carries no token.")
    cut_off_rate: float = _opt(0.0, "Quirk: share of streams ended cleanly with [DONE] but no finish_reason.")
    reasoning_tokens: int = _opt(0, "Quirk: the first N chat output tokens come in delta.reasoning_content.")
    api_key: str = _opt("", "When set, require 'Authorization: Bearer <key>' (401 otherwise).")
    timing_header: bool = _opt(False, "Add X-Simulator-Arrival (perf_counter when the request reached this machine, "
                                      "which its delays count from) and X-Simulator-Taken (when this server got to "
                                      "it) to streamed responses; perf_counter is comparable across processes on one "
                                      "Linux machine, so a benchmark can split its timing error by cause.")
    seed: int | None = _opt(None, "Seed of the random generator behind output text, jitter and faults.")
    spin_ms: float = _opt(1.0, "Last stretch before the first and last token spent yielding instead of "
                               "timer-sleeping, for sub-ms TTFT/E2E (0 = no busy-yield, ~0.5 ms late).")

    def __post_init__(self) -> None:
        self.error_codes = tuple(int(c) for c in self.error_codes)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_rate") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{f.name} must be between 0 and 1, got {value}")
            if f.name.endswith("_ms") and value < 0:
                raise ValueError(f"{f.name} must be >= 0, got {value}")
        if self.tokens_per_chunk < 1 or self.default_max_tokens < 1:
            raise ValueError("tokens_per_chunk and default_max_tokens must be >= 1")
        if self.max_concurrency < 0 or self.reasoning_tokens < 0:
            raise ValueError("max_concurrency and reasoning_tokens must be >= 0")
        if not self.error_codes or not all(400 <= c <= 599 for c in self.error_codes):
            raise ValueError(f"error_codes must be HTTP error statuses (400-599), got {self.error_codes}")


class _ApiError(Exception):
    """A request answered with an OpenAI-style error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error_body(status: int, message: str) -> bytes:
    error_type = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return json.dumps({"error": {"message": message, "type": error_type, "param": None, "code": status}}).encode()


def _status_line(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"


def _single_token_words(tokenizer: Tokenizer) -> list[str]:
    """Alphabetic words that are one token with a leading space, so that output text re-tokenizes exactly."""
    candidates = []
    for token_id in range(tokenizer.vocab_size):
        piece = tokenizer.id_to_token(token_id) or ""
        # "Ġ" is byte-level BPE's leading space, "▁" SentencePiece's.
        if piece[:1] in ("Ġ", "▁") and piece[1:].isascii() and piece[1:].isalpha():
            candidates.append(" " + piece[1:])
        elif piece.isascii() and piece.isalpha():
            # Whitespace-split vocabularies (WordPiece, WordLevel) mark no leading space at all.
            candidates.append(" " + piece)
    candidates = list(dict.fromkeys(candidates))
    words = [w for w, ids in zip(candidates, tokenizer.encode_batch(candidates)) if len(ids) == 1]
    if not words:
        raise ValueError(f"tokenizer {tokenizer.name!r} has no single-token words with a leading space")
    if tokenizer.count("".join(words)) != len(words):
        warnings.warn(f"tokenizer {tokenizer.name!r} merges adjacent words; simulated token counts may differ")
    return words


@dataclass(slots=True)
class _Plan:
    """Everything decided about one request before it is answered."""

    chat: bool
    model: str
    stream: bool
    include_usage: bool
    prompt: str | int  # the prompt text until counted, then its token count
    count_tokens: Callable[[str], int]
    output_tokens: int
    reasoning_tokens: int
    finish_reason: str | None = "length"
    stall_at: int = -1
    disconnect_after: int = -1
    malformed_at: int = -1

    @property
    def prompt_tokens(self) -> int:
        """Counted on first use (or earlier by an _IdleCounter), so tokenizing stays off the TTFT path."""
        if isinstance(self.prompt, str):
            self.prompt = self.count_tokens(self.prompt)
        return self.prompt


class _IdleCounter:
    """Counts the prompt tokens of planned requests while the event loop has nothing else to do.

    A usage chunk needs the prompt's token count (~0.1-0.2 ms of tokenizing). Counted when the stream ends, it lands
    in the same instant as the other streams of a closed-loop burst ending and their next requests arriving, and
    delays when those are taken; counted in idle moments mid-stream, it delays nothing. A plan whose stream ends
    before an idle moment came counts itself then.
    """

    def __init__(self) -> None:
        self._pending: collections.deque[_Plan] = collections.deque()
        self._worker: gevent.Greenlet | None = None

    def submit(self, plan: _Plan) -> None:
        """Count `plan`'s prompt at the next idle moment."""
        self._pending.append(plan)
        if self._worker is None:
            self._worker = gevent.spawn(self._work)

    def _work(self) -> None:
        try:
            while self._pending:
                gevent.idle()  # returns when no I/O or timer callback is waiting
                self._pending.popleft().prompt_tokens
        finally:
            self._worker = None


class _Frames:
    """Byte templates of one response's SSE frames, built once so that each chunk costs two concatenations."""

    __slots__ = ("chat", "head", "content_pre", "reasoning_pre", "post")

    def __init__(self, chat: bool, rid: str, created: int, model: str) -> None:
        self.chat = chat
        kind = "chat.completion.chunk" if chat else "text_completion"
        self.head = (f'data: {{"id":"{rid}","object":"{kind}","created":{created},'
                     f'"model":{json.dumps(model)},"choices":[').encode()
        if chat:
            self.content_pre = self.head + b'{"index":0,"delta":{"content":"'
            self.reasoning_pre = self.head + b'{"index":0,"delta":{"reasoning_content":"'
            self.post = b'"},"logprobs":null,"finish_reason":null}]}\n\n'
        else:
            self.content_pre = self.reasoning_pre = self.head + b'{"index":0,"text":"'
            self.post = b'","logprobs":null,"finish_reason":null}]}\n\n'

    def chunk(self, text: bytes, reasoning: bool) -> bytes:
        """One content (or reasoning) chunk; the text is ASCII letters and spaces, so it needs no escaping."""
        return (self.reasoning_pre if reasoning else self.content_pre) + text + self.post

    def role(self) -> bytes:
        """The role-only first chat chunk (carries no token)."""
        return self.head + b'{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,' \
                           b'"finish_reason":null}]}\n\n'

    def finish(self, reason: str) -> bytes:
        """The empty chunk carrying finish_reason."""
        body = b'"delta":{}' if self.chat else b'"text":""'
        return self.head + b'{"index":0,' + body + b',"logprobs":null,"finish_reason":"' + reason.encode() \
            + b'"}]}\n\n'

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        """The usage chunk with empty choices."""
        return self.head + b"]," + _usage_json(prompt_tokens, completion_tokens) + b"}\n\n"

    def malformed(self, text: bytes, reasoning: bool) -> bytes:
        """A chunk cut in half, so that it is not valid JSON."""
        frame = self.chunk(text, reasoning)
        return frame[: len(frame) // 2] + b"\n\n"


def _usage_json(prompt_tokens: int, completion_tokens: int) -> bytes:
    return (b'"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}'
            % (prompt_tokens, completion_tokens, prompt_tokens + completion_tokens))


def _chunk_spans(plan: _Plan, per_chunk: int) -> Iterator[tuple[int, int, bool]]:
    """(first token, end token, is reasoning) of each chunk, in order; a chunk never mixes reasoning and content."""
    for lo, hi, reasoning in ((0, plan.reasoning_tokens, True), (plan.reasoning_tokens, plan.output_tokens, False)):
        for first in range(lo, hi, per_chunk):
            yield first, min(first + per_chunk, hi), reasoning


def _chunk_count(plan: _Plan, per_chunk: int) -> int:
    reasoning, content = plan.reasoning_tokens, plan.output_tokens - plan.reasoning_tokens
    return -(-reasoning // per_chunk) - (-content // per_chunk)


def _mid_chunk(rng: random.Random, n_chunks: int) -> int:
    """A chunk index strictly inside the stream (after the first, before the last) when there is room."""
    return rng.randint(1, n_chunks - 1) if n_chunks > 1 else n_chunks


def _sleep_until(deadline: float, spin: float = 0.0) -> None:
    """Sleep until an absolute perf_counter deadline, never waking early (libev timers: up to 1 ms late)."""
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return
        gevent.sleep(remaining - spin if remaining > spin else 0)


class _PreciseClock:
    """Wakes streams at their perf_counter deadlines to within a hub round, with one greenlet timing them all.

    libev's epoll backend rounds timer waits up to whole ms (0-1 ms late); yielding through the last `spin` seconds
    instead is exact but keeps the loop busy. When each stream spun on its own, hundreds of first tokens due at once
    filled every hub round with spinning greenlets and new requests waited behind them. Every deadline is known here
    from the moment a stream starts waiting, so work that can wait (a request's intake) can make way for it.
    """

    def __init__(self, spin: float) -> None:
        self.spin = spin
        self._due: list[tuple[float, int, Event]] = []
        self._order = itertools.count()
        self._timer: gevent.Greenlet | None = None
        self._earlier = Event()  # set when a deadline earlier than every other arrives
        self._nothing_soon = Event()  # set while no deadline falls within INTAKE_HORIZON
        self._nothing_soon.set()
        self._way = Semaphore()  # one intake at a time waits for the clock; the rest queue behind it, woken once

    def sleep_until(self, deadline: float) -> None:
        """Return at `deadline`, not before, and (with a spin) within a hub round after it."""
        if self.spin <= 0:
            _sleep_until(deadline)
            return
        woken = Event()
        if not self._due or deadline < self._due[0][0]:
            self._earlier.set()
        heapq.heappush(self._due, (deadline, next(self._order), woken))
        if self._timer is None:
            self._timer = gevent.spawn(self._wake_streams)
        woken.wait()

    def make_way(self) -> None:
        """Wait while a deadline falls within INTAKE_HORIZON, so that work that can wait does not make a token late.

        A request's intake can wait (its delays count from the kernel's receive time); a first or last token cannot.
        """
        if not self._due_soon(time.perf_counter()):
            return
        with self._way:
            while self._due_soon(time.perf_counter()):
                self._nothing_soon.clear()
                self._nothing_soon.wait()

    def _due_soon(self, now: float) -> bool:
        return bool(self._due) and self._due[0][0] - now <= INTAKE_HORIZON

    def _wake_streams(self) -> None:
        try:
            while self._due:
                now = time.perf_counter()
                while self._due and self._due[0][0] <= now:
                    heapq.heappop(self._due)[2].set()
                if not self._due_soon(now):
                    self._nothing_soon.set()  # after the woken streams: their wake-ups were scheduled first
                if not self._due:
                    break
                remaining = self._due[0][0] - now
                if remaining > self.spin:
                    self._earlier.clear()
                    self._earlier.wait(remaining - self.spin)  # a timer, cut short by an earlier deadline
                else:
                    gevent.sleep(0)
        finally:
            self._timer = None
            self._nothing_soon.set()


def _text_of(message_content: Any) -> str:
    if isinstance(message_content, str):
        return message_content
    if isinstance(message_content, list):  # OpenAI content parts: [{"type": "text", "text": ...}, ...]
        return "".join(p.get("text", "") for p in message_content if isinstance(p, dict))
    if message_content is None:
        return ""
    raise _ApiError(400, "message content must be a string or a list of content parts")


def _int_param(body: dict, name: str, minimum: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _ApiError(400, f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


class SimulatorApp:
    """The WSGI callable of the simulated server: routing, request planning and timed streaming."""

    def __init__(self, config: SimulatorConfig, tokenizer: Tokenizer | None = None) -> None:
        self.config = config
        self.tokenizer = tokenizer or builtin_tokenizer()
        self._rng = random.Random(config.seed)
        words = [w.encode() for w in _single_token_words(self.tokenizer)]
        pool = [self._rng.choice(words) for _ in range(_POOL_SIZE)]
        self._pool2 = pool + pool  # doubled, so any offset gives a contiguous slice of up to _POOL_SIZE tokens
        self._slots = BoundedSemaphore(config.max_concurrency) if config.max_concurrency else None
        self._clock = _PreciseClock(config.spin_ms / 1000.0)
        self._counter = _IdleCounter()
        self._ids = itertools.count(1)
        self._auth = f"Bearer {config.api_key}".encode() if config.api_key else b""
        self._models_body = json.dumps({"object": "list", "data": [
            {"id": config.model, "object": "model", "created": int(time.time()), "owned_by": "genai-bench"}]}
        ).encode()

    def make_way(self) -> None:
        """Called as a request arrives, before any work on it: first and last tokens due within a moment go first."""
        self._clock.make_way()

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one HTTP request, timed from the moment its bytes reached this machine when the server knows it."""
        taken = time.perf_counter()
        arrival = environ.get(RECEIVED_AT_KEY) or taken
        try:
            return self._route(environ, start_response, arrival, taken)
        except _ApiError as err:
            start_response(_status_line(err.status), _JSON_HEADERS)
            return [_error_body(err.status, err.message)]

    def _route(self, environ: dict, start_response: StartResponse, arrival: float, taken: float) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/health":
            start_response("200 OK", _JSON_HEADERS)
            return [b'{"status":"ok"}']
        self._check_auth(environ)
        if path == "/v1/models":
            self._check_method(method, "GET")
            start_response("200 OK", _JSON_HEADERS)
            return [self._models_body]
        if path not in ("/v1/chat/completions", "/v1/completions"):
            raise _ApiError(404, f"no such endpoint: {path}")
        self._check_method(method, "POST")
        plan = self._plan(self._read_json(environ), chat=path == "/v1/chat/completions")
        if self.config.error_rate and self._rng.random() < self.config.error_rate:
            status = self._rng.choice(self.config.error_codes)
            raise _ApiError(status, f"simulated error {status}")
        if plan.stream:
            timing = [("X-Simulator-Arrival", f"{arrival:.6f}"), ("X-Simulator-Taken", f"{taken:.6f}")
                      ] if self.config.timing_header else []
            start_response("200 OK", _SSE_HEADERS + timing)
            return self._stream(plan, arrival)
        return self._complete(plan, arrival, start_response)

    def _check_auth(self, environ: dict) -> None:
        if self._auth and not hmac.compare_digest(environ.get("HTTP_AUTHORIZATION", "").encode(), self._auth):
            raise _ApiError(401, "invalid or missing API key")

    @staticmethod
    def _check_method(method: str, allowed: str) -> None:
        if method != allowed:
            raise _ApiError(405, f"method {method} not allowed; use {allowed}")

    @staticmethod
    def _read_json(environ: dict) -> dict:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise _ApiError(400, "bad Content-Length") from None
        if length > _MAX_BODY:
            raise _ApiError(413, "request body too large")
        raw = environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read()
        try:
            body = orjson.loads(raw)
        except ValueError:
            raise _ApiError(400, "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _ApiError(400, "request body must be a JSON object")
        return body

    @staticmethod
    def _prompt(body: dict, chat: bool) -> str | int:
        """The prompt text (or its length when given as token ids); raises a 400 for a malformed one."""
        if chat:
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
                raise _ApiError(400, "messages must be a non-empty list of message objects")
            return "".join(_text_of(m.get("content")) for m in messages)
        prompt = body.get("prompt")
        if isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt):
            return len(prompt)  # a prompt given as token ids
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
            prompt = prompt[0]
        if not isinstance(prompt, str):
            raise _ApiError(400, "prompt must be a string, a one-string list, or a list of token ids")
        return prompt

    def _output_limit(self, body: dict) -> int:
        limit = None
        if not self.config.ignore_max_completion_tokens:
            limit = _int_param(body, "max_completion_tokens", 1)
        if limit is None:
            limit = _int_param(body, "max_tokens", 1)
        return self.config.default_max_tokens if limit is None else limit

    def _plan(self, body: dict, chat: bool) -> _Plan:
        cfg = self.config
        prompt = self._prompt(body, chat)
        limit = self._output_limit(body)
        stream = body.get("stream") is True
        options = body.get("stream_options") or {}
        include_usage = stream and isinstance(options, dict) and options.get("include_usage") is True
        plan = _Plan(chat=chat, model=str(body.get("model") or cfg.model), stream=stream,
                     include_usage=include_usage and not cfg.no_usage, prompt=prompt, count_tokens=self.tokenizer.count,
                     output_tokens=limit, reasoning_tokens=min(cfg.reasoning_tokens, limit) if chat else 0)
        self._maybe_stop_early(plan, body)
        self._inject_faults(plan)
        if isinstance(prompt, str) and (plan.include_usage or not stream):
            self._counter.submit(plan)
        return plan

    def _maybe_stop_early(self, plan: _Plan, body: dict) -> None:
        cfg = self.config
        min_tokens = _int_param(body, "min_tokens", 0) or 0
        if cfg.ignore_ignore_eos:
            min_tokens, forced = 0, False
        else:
            forced = body.get("ignore_eos") is True
        shortest = max(1, min_tokens)
        if forced or shortest >= plan.output_tokens or not cfg.early_eos_rate:
            return
        if self._rng.random() < cfg.early_eos_rate:
            plan.output_tokens = self._rng.randint(shortest, plan.output_tokens - 1)
            plan.reasoning_tokens = min(plan.reasoning_tokens, plan.output_tokens)
            plan.finish_reason = "stop"

    def _inject_faults(self, plan: _Plan) -> None:
        cfg, rng = self.config, self._rng
        n_chunks = _chunk_count(plan, cfg.tokens_per_chunk)
        if cfg.disconnect_rate and rng.random() < cfg.disconnect_rate:
            plan.disconnect_after = n_chunks = _mid_chunk(rng, n_chunks)
        elif cfg.cut_off_rate and rng.random() < cfg.cut_off_rate:
            n_chunks = _mid_chunk(rng, n_chunks)
            plan.output_tokens = next(itertools.islice(_chunk_spans(plan, cfg.tokens_per_chunk), n_chunks - 1, None))[1]
            plan.reasoning_tokens = min(plan.reasoning_tokens, plan.output_tokens)
            plan.finish_reason = None
        if cfg.stall_rate and rng.random() < cfg.stall_rate:
            plan.stall_at = _mid_chunk(rng, n_chunks) % n_chunks
        if cfg.malformed_rate and rng.random() < cfg.malformed_rate:
            plan.malformed_at = _mid_chunk(rng, n_chunks) % n_chunks

    def _acquire_slot(self, arrival: float) -> float:
        """Take a sequence slot; returns the time token generation starts (queueing shows up in TTFT)."""
        if self._slots is None or self._slots.acquire(blocking=False):
            return arrival
        self._slots.acquire()
        return time.perf_counter()

    def _release_slot(self) -> None:
        if self._slots is not None:
            self._slots.release()

    def _schedule(self, plan: _Plan, start: float) -> Iterator[tuple[float, int, int, bool]]:
        """(deadline, first token, end token, is reasoning) of each chunk, from absolute deadlines."""
        cfg, rng = self.config, self._rng
        itl, jitter = cfg.itl_ms / 1000.0, cfg.jitter_ms / 1000.0
        prefill_ms = cfg.prefill_ms_per_token * plan.prompt_tokens if cfg.prefill_ms_per_token else 0.0
        deadline = start + (cfg.ttft_ms + prefill_ms) / 1000.0
        prev_first = 0
        for index, (first, end, reasoning) in enumerate(_chunk_spans(plan, cfg.tokens_per_chunk)):
            delay = (first - prev_first) * itl
            if jitter:
                delay = max(0.0, delay + rng.uniform(-jitter, jitter))
            if index == plan.stall_at:
                delay += cfg.stall_ms / 1000.0
            deadline += delay
            prev_first = first
            yield deadline, first, end, reasoning

    def _response_id(self, plan: _Plan) -> str:
        return f"{'chatcmpl' if plan.chat else 'cmpl'}-sim{next(self._ids)}"

    def _tokens(self, count: int) -> list[bytes]:
        offset = self._rng.randrange(_POOL_SIZE)
        if count <= _POOL_SIZE:
            return self._pool2[offset:offset + count]
        return list(itertools.islice(itertools.cycle(self._pool2[:_POOL_SIZE]), offset, offset + count))

    def _stream(self, plan: _Plan, arrival: float) -> Iterator[bytes]:
        """The SSE body: role chunk, timed content chunks, finish, usage, [DONE]."""
        frames = _Frames(plan.chat, self._response_id(plan), int(time.time()), plan.model)
        start = self._acquire_slot(arrival)
        try:
            if plan.chat and self.config.role_chunk:
                yield frames.role()
            tokens = self._tokens(plan.output_tokens)
            last = _chunk_count(plan, self.config.tokens_per_chunk) - 1
            for index, (deadline, first, end, reasoning) in enumerate(self._schedule(plan, start)):
                # Absolute deadlines keep mid-stream timer lateness from accumulating (mean ITL stays exact);
                # the first and last chunks, which fix TTFT and end-to-end latency, are timed to the microsecond.
                if index == 0 or index == last:
                    self._clock.sleep_until(deadline)
                else:
                    _sleep_until(deadline)
                if index == plan.disconnect_after:
                    raise ConnectionResetError(104, "simulated disconnect")  # pywsgi closes it silently
                text = b"".join(tokens[first:end]) if end - first > 1 else tokens[first]
                yield frames.malformed(text, reasoning) if index == plan.malformed_at else frames.chunk(text, reasoning)
            if plan.disconnect_after >= 0:
                raise ConnectionResetError(104, "simulated disconnect")
            yield self._trailer(frames, plan)
        finally:
            self._release_slot()

    @staticmethod
    def _trailer(frames: _Frames, plan: _Plan) -> bytes:
        # The trailing frames are due at the same instant, so they share one write.
        parts = [frames.finish(plan.finish_reason)] if plan.finish_reason else []
        if plan.include_usage:
            parts.append(frames.usage(plan.prompt_tokens, plan.output_tokens))
        parts.append(_DONE)
        return b"".join(parts)

    def _complete(self, plan: _Plan, arrival: float, start_response: StartResponse) -> list[bytes]:
        """A non-streaming answer, sent when the last token would have been generated."""
        start = self._acquire_slot(arrival)
        try:
            last = start
            for index, (deadline, _, _, _) in enumerate(self._schedule(plan, start)):
                last = deadline
                if index == plan.disconnect_after:
                    break
            self._clock.sleep_until(last)
            if plan.disconnect_after >= 0:
                raise ConnectionResetError(104, "simulated disconnect")
        finally:
            self._release_slot()
        body = self._completion_body(plan)
        if plan.malformed_at >= 0:
            body = body[: len(body) // 2]
        start_response("200 OK", _JSON_HEADERS)
        return [body]

    def _completion_body(self, plan: _Plan) -> bytes:
        tokens = self._tokens(plan.output_tokens)
        text = b"".join(tokens[plan.reasoning_tokens:]).decode()
        if plan.chat:
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if plan.reasoning_tokens:
                message["reasoning_content"] = b"".join(tokens[:plan.reasoning_tokens]).decode()
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": plan.finish_reason}
            kind = "chat.completion"
        else:
            choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": plan.finish_reason}
            kind = "text_completion"
        usage = {"prompt_tokens": plan.prompt_tokens, "completion_tokens": plan.output_tokens,
                 "total_tokens": plan.prompt_tokens + plan.output_tokens}
        return json.dumps({"id": self._response_id(plan), "object": kind, "created": int(time.time()),
                           "model": plan.model, "choices": [choice], "usage": usage}).encode()


def make_simulator_app(config: SimulatorConfig, tokenizer: Tokenizer | None = None) -> WSGIApp:
    """Build the simulator's WSGI application."""
    return SimulatorApp(config, tokenizer)


class _StampedReader(io.RawIOBase):
    """Reads a connection with recvmsg() and keeps the kernel's receive time of each request's first bytes.

    A server that handles requests one at a time on one core takes a burst of simultaneous requests in turn; timing
    each from when its bytes arrived, not from when the loop got to it, keeps that queue out of the simulated delays.
    """

    def __init__(self, sock: socket.socket, on_request: Callable[[], None]) -> None:
        super().__init__()
        self.sock = sock
        self.on_request = on_request
        self.stamped = enable_receive_timestamps(sock)
        self.request_received_at: float | None = None  # set by the first read of each request

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.stamped:
            nbytes, ancillary, _, _ = self.sock.recvmsg_into([buffer], ANCILLARY_SPACE)
        else:
            nbytes, ancillary = self.sock.recv_into(buffer), []
        if nbytes and self.request_received_at is None:
            self.request_received_at = received_at(ancillary)
            self.on_request()
        return nbytes


class _RequestHead:
    """A request's headers in the shape pywsgi's handler reads them (first value wins, names case-insensitive)."""

    def __init__(self, pairs: list[tuple[str, str]], status: str = "") -> None:
        self.status = status  # non-empty: pywsgi answers 400 with it
        self._pairs = pairs
        self._first: dict[str, str] = {}
        for name, value in pairs:
            self._first.setdefault(name.lower(), value)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of header `name`."""
        return self._first.get(name.lower(), default)

    getheader = get

    def __delitem__(self, name: str) -> None:
        name = name.lower()
        self._pairs = [(n, v) for n, v in self._pairs if n.lower() != name]
        self._first.pop(name, None)

    @property
    def typeheader(self) -> str | None:
        """The Content-Type header."""
        return self.get("content-type")

    @property
    def headers(self) -> list[str]:
        """The raw header lines."""
        return [f"{name}: {value}\r\n" for name, value in self._pairs]


class _HeaderCollector:
    """httptools' parser callbacks: gathers the header fields."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, str]] = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.pairs.append((name.decode("latin-1"), value.decode("latin-1")))


def _read_head(request_line: str, rfile: Any) -> _RequestHead:
    """Read a request's header lines and parse the head with httptools (llhttp), ~20x cheaper than pywsgi's parse
    through the email package, which was a tenth of the simulator's work per request."""
    lines = [request_line.rstrip("\r\n").encode("latin-1")]
    for _ in range(_MAX_HEADERS + 1):
        line = rfile.readline(_MAX_HEADER_LINE + 1)
        if len(line) > _MAX_HEADER_LINE:
            return _RequestHead([], "Header line too long")
        if line in (b"\r\n", b"\n", b""):
            break
        lines.append(line.rstrip(b"\r\n"))  # bare-LF line ends are accepted, as pywsgi's own parser does
    else:
        return _RequestHead([], "Too many headers")
    collector = _HeaderCollector()
    try:
        httptools.HttpRequestParser(collector).feed_data(b"\r\n".join(lines) + b"\r\n\r\n")
    except httptools.HttpParserUpgrade:
        pass  # the headers are complete; pywsgi decides what to do with an upgrade
    except httptools.HttpParserError as exc:
        return _RequestHead([], f"Invalid headers: {exc}")
    return _RequestHead(collector.pairs)


class _FastHandler(WSGIHandler):
    """A pywsgi handler tuned for many small streamed writes: no Nagle, no access-log formatting, lean sends;
    it passes each request's kernel receive time to the app."""

    def __init__(self, sock: socket.socket, address: Any, server: Any) -> None:
        self.reader = _StampedReader(sock, server.application.make_way)
        super().__init__(sock, address, server, rfile=io.BufferedReader(self.reader))

    def handle_one_request(self) -> Any:
        # A request already buffered with the previous one (pipelining) gets no stamp of its own: the app then
        # times it from when it was taken, which is when a one-at-a-time server can first act on it.
        self.reader.request_received_at = None
        return super().handle_one_request()

    def read_request(self, raw_requestline: str) -> Any:
        self.raw_requestline = raw_requestline
        return super().read_request(raw_requestline)

    def MessageClass(self, rfile: Any, _seekable: int) -> _RequestHead:  # noqa: N802 (pywsgi's name)
        return _read_head(self.raw_requestline, rfile)

    def get_environ(self) -> dict:
        environ = super().get_environ()
        environ[RECEIVED_AT_KEY] = self.reader.request_received_at
        return environ

    def handle(self) -> None:
        # Nagle would hold each small chunk until the previous one is ACKed, and delayed ACKs take up to 40 ms.
        try:
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # not a TCP socket (e.g. a Unix socket)
        super().handle()

    def log_request(self) -> None:
        """Skip access logging: pywsgi formats the line (about 20 us) even when the log is None."""

    def _sendall(self, data: bytes) -> None:
        # One plain send() usually takes a whole SSE chunk; gevent's sendall() adds a getsockopt() syscall
        # and memoryview slicing to every write, which is most of the per-chunk cost after the send itself.
        sent = self.socket.send(data)
        if sent < len(data):
            self.socket.sendall(memoryview(data)[sent:])
        self.response_length += len(data)


def _shared_listener(host: str, port: int) -> socket.socket:
    """A listening socket that other processes may bind too (SO_REUSEPORT): the kernel spreads connections."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, port))
    listener.listen(_BACKLOG)
    return listener


class SimulatorServer:
    """The simulator served by gevent's WSGI server; binds on start() (port 0 picks a free port).

    With `shared_port`, other processes can serve the same port (see SimulatorWorkers).
    """

    def __init__(self, config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0,
                 tokenizer: Tokenizer | None = None, shared_port: bool = False) -> None:
        self.config = config or SimulatorConfig()
        self.app = make_simulator_app(self.config, tokenizer)
        if shared_port:
            self._server = WSGIServer(_shared_listener(host, port), self.app, log=None, handler_class=_FastHandler)
        else:
            self._server = WSGIServer((host, port), self.app, log=None, handler_class=_FastHandler, backlog=_BACKLOG)

    def start(self) -> "SimulatorServer":
        """Bind and start serving from the gevent hub; returns self."""
        if not self._server.started:
            self._server.start()
            # Turning stamps on early makes the kernel stamp packets before the first connection is accepted.
            enable_receive_timestamps(self._server.socket)
        return self

    @property
    def port(self) -> int:
        """The bound port."""
        return self._server.server_port

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:8000."""
        return f"http://{self._server.server_host}:{self.port}"

    def serve_forever(self) -> None:
        """Serve until stop() is called (used by `genai-bench simulate`)."""
        self._server.serve_forever()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop accepting, give open streams `timeout` seconds, then close them."""
        self._server.stop(timeout=timeout)

    def __enter__(self) -> "SimulatorServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SimulatorWorkers:
    """Extra simulator processes serving the same port as this one, so bursts of requests are taken in parallel.

    One process takes a burst of simultaneous requests one at a time; on one core, hundreds of them arriving
    together take longer to read than a short TTFT. The kernel (SO_REUSEPORT, Linux) spreads new connections over
    every process listening on the port. Each worker gets the config on stdin and exits with this process.
    """

    def __init__(self, config: SimulatorConfig, host: str, port: int, count: int) -> None:
        self.processes: list[subprocess.Popen] = []
        for index in range(1, count):
            settings = asdict(config)
            if config.seed is not None:
                settings["seed"] = config.seed + index
            process = spawn_child(["simulate-worker", "--host", host, "--port", str(port)],
                                  json.dumps(settings).encode() + b"\n", stdout=subprocess.PIPE)
            self.processes.append(process)
        for process in self.processes:
            self._wait_listening(process)

    def _wait_listening(self, process: subprocess.Popen) -> None:
        with gevent.Timeout(WORKER_START_TIMEOUT, False):
            line = process.stdout.readline()  # gevent's subprocess pipes are cooperative
            if line.startswith(b"listening"):
                return
        self.stop()
        raise OSError(f"a simulator worker did not start (exit code {process.poll()})")

    def stop(self) -> None:
        """End every worker process."""
        end_children(self.processes)


def run_simulator_worker(host: str, port: int, parent_pid: int | None) -> None:
    """The `genai-bench simulate-worker` process: read the config from stdin, serve the shared port until told."""
    follow_parent(parent_pid)
    settings = json.loads(sys.stdin.readline())
    server = SimulatorServer(SimulatorConfig(**settings), host=host, port=port, shared_port=True).start()
    freeze_long_lived_objects()
    sys.stdout.write("listening\n")
    sys.stdout.flush()
    server.serve_forever()
