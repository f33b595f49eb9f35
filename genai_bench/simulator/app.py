"""The simulator's WSGI application: the OpenAI endpoints, request planning and the timed answers."""

import hmac
import itertools
import json
import random
import time
from collections import deque
from typing import Any, Callable, Iterable, Iterator

import orjson
from gevent.lock import BoundedSemaphore

from genai_bench.images import ImagesUnavailable, data_uri_size, image_tokens, image_urls
from genai_bench.simulator.clock import IdleCounter, PreciseClock, sleep_until
from genai_bench.simulator.config import SimulatorConfig
from genai_bench.simulator.http_handler import RECEIVED_AT_KEY
from genai_bench.simulator.pooling import POOLING_PATHS, PoolingEndpoints
from genai_bench.simulator.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from genai_bench.simulator.metrics import ServerState
from genai_bench.simulator.responses import (DONE, ApiError, Frames, Plan, chunk_count, chunk_spans, error_body,
                                             mid_chunk, single_token_words, status_line)
from genai_bench.tokenizer import Tokenizer, builtin_tokenizer

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]

_JSON_HEADERS = [("Content-Type", "application/json")]
_SSE_HEADERS = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]
_MAX_BODY = 64 * 1024 * 1024
_POOL_SIZE = 4096
# The last requests' bodies kept for tests and debugging (`received`): what a benchmark really sent.
_RECEIVED_KEPT = 1024


def _text_of(message_content: Any) -> str:
    if isinstance(message_content, str):
        return message_content
    if isinstance(message_content, list):  # OpenAI content parts: [{"type": "text", "text": ...}, ...]
        return "".join(p.get("text", "") for p in message_content if isinstance(p, dict))
    if message_content is None:
        return ""
    raise ApiError(400, "message content must be a string or a list of content parts")


def _image_load(messages: list[dict]) -> tuple[int, int]:
    """(images, their prompt tokens) of a chat request's image_url parts; each size read from its header only."""
    urls = image_urls(messages)
    if not urls:
        return 0, 0
    try:
        return len(urls), sum(image_tokens(*data_uri_size(url)) for url in urls)
    except ImagesUnavailable as exc:
        raise ApiError(501, str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def _int_param(body: dict, name: str, minimum: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ApiError(400, f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


class SimulatorApp:
    """The WSGI callable of the simulated server: routing, request planning and timed streaming."""

    def __init__(self, config: SimulatorConfig, tokenizer: Tokenizer | None = None) -> None:
        self.config = config
        self.tokenizer = tokenizer or builtin_tokenizer()
        self._rng = random.Random(config.seed)
        words = [w.encode() for w in single_token_words(self.tokenizer)]
        pool = [self._rng.choice(words) for _ in range(_POOL_SIZE)]
        self._pool2 = pool + pool  # doubled, so any offset gives a contiguous slice of up to _POOL_SIZE tokens
        self._slots = BoundedSemaphore(config.max_concurrency) if config.max_concurrency else None
        self._clock = PreciseClock(config.spin_ms / 1000.0)
        self._counter = IdleCounter()
        self._ids = itertools.count(1)
        self._planned = itertools.count(1)  # completion requests in arrival order, for slow_every
        self.received: deque[dict] = deque(maxlen=_RECEIVED_KEPT)  # the latest completion request bodies, in order
        self._auth = f"Bearer {config.api_key}".encode() if config.api_key else b""
        self._models_body = json.dumps({"object": "list", "data": [
            {"id": config.model, "object": "model", "created": int(time.time()), "owned_by": "genai-bench"}]}
        ).encode()
        self.chats: deque[dict] | None = None  # see keep_chats
        self.pooling = PoolingEndpoints(config, self.tokenizer, self._rng)
        self.state = ServerState(config.model, config.kv_cache_tokens)  # what /metrics reports

    def keep_chats(self, limit: int) -> None:
        """Keep the last `limit` chat requests' messages and the answer text sent to each (for tests of histories)."""
        self.chats = deque(maxlen=limit)

    def make_way(self) -> None:
        """Called as a request arrives, before any work on it: first and last tokens due within a moment go first."""
        self._clock.make_way()

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one HTTP request, timed from the moment its bytes reached this machine when the server knows it."""
        taken = time.perf_counter()
        arrival = environ.get(RECEIVED_AT_KEY) or taken
        try:
            return self._route(environ, start_response, arrival, taken)
        except ApiError as err:
            start_response(status_line(err.status), _JSON_HEADERS)
            return [error_body(err.status, err.message)]

    def _route(self, environ: dict, start_response: StartResponse, arrival: float, taken: float) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/health":
            start_response("200 OK", _JSON_HEADERS)
            return [b'{"status":"ok"}']
        if path == "/metrics":  # like vLLM's, open without the API key
            start_response("200 OK", [("Content-Type", METRICS_CONTENT_TYPE)])
            return [self.state.render()]
        self._check_auth(environ)
        if path == "/v1/models":
            self._check_method(method, "GET")
            start_response("200 OK", _JSON_HEADERS)
            return [self._models_body]
        if path not in ("/v1/chat/completions", "/v1/completions") and path not in POOLING_PATHS:
            raise ApiError(404, f"no such endpoint: {path}")
        self._check_method(method, "POST")
        body = self._read_json(environ)
        self.received.append(body)
        if path in POOLING_PATHS:
            return self._pooling(path, body, arrival, start_response)
        plan = self._plan(body, chat=path == "/v1/chat/completions")
        self._maybe_fail()
        if plan.stream:
            timing = [("X-Simulator-Arrival", f"{arrival:.6f}"), ("X-Simulator-Taken", f"{taken:.6f}")
                      ] if self.config.timing_header else []
            start_response("200 OK", _SSE_HEADERS + timing)
            return self._stream(plan, arrival)
        return self._complete(plan, arrival, start_response)

    def _maybe_fail(self) -> None:
        """Raise an injected error status for a share (error_rate) of requests."""
        if self.config.error_rate and self._rng.random() < self.config.error_rate:
            status = self._rng.choice(self.config.error_codes)
            raise ApiError(status, f"simulated error {status}")

    def _pooling(self, path: str, body: dict, arrival: float, start_response: StartResponse) -> list[bytes]:
        """An embeddings or rerank answer, sent once its inputs' tokens would have been processed."""
        answer = self.pooling.answer(path, body)
        self._maybe_fail()
        start = self._acquire_slot(arrival)
        try:
            self._clock.sleep_until(start + self.pooling.delay(answer.tokens))
        finally:
            self._release_slot()
        start_response("200 OK", _JSON_HEADERS)
        return [answer.body]

    def _check_auth(self, environ: dict) -> None:
        if self._auth and not hmac.compare_digest(environ.get("HTTP_AUTHORIZATION", "").encode(), self._auth):
            raise ApiError(401, "invalid or missing API key")

    @staticmethod
    def _check_method(method: str, allowed: str) -> None:
        if method != allowed:
            raise ApiError(405, f"method {method} not allowed; use {allowed}")

    @staticmethod
    def _read_json(environ: dict) -> dict:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise ApiError(400, "bad Content-Length") from None
        if length > _MAX_BODY:
            raise ApiError(413, "request body too large")
        raw = environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read()
        try:
            body = orjson.loads(raw)
        except ValueError:
            raise ApiError(400, "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        return body

    @staticmethod
    def _prompt(body: dict, chat: bool) -> str | int:
        """The prompt text (or its length when given as token ids); raises a 400 for a malformed one."""
        if chat:
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
                raise ApiError(400, "messages must be a non-empty list of message objects")
            return "".join(_text_of(m.get("content")) for m in messages)
        prompt = body.get("prompt")
        if isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt):
            return len(prompt)  # a prompt given as token ids
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
            prompt = prompt[0]
        if not isinstance(prompt, str):
            raise ApiError(400, "prompt must be a string, a one-string list, or a list of token ids")
        return prompt

    def _output_limit(self, body: dict) -> int:
        limit = None
        if not self.config.ignore_max_completion_tokens:
            limit = _int_param(body, "max_completion_tokens", 1)
        if limit is None:
            limit = _int_param(body, "max_tokens", 1)
        return self.config.default_max_tokens if limit is None else limit

    def _plan(self, body: dict, chat: bool) -> Plan:
        cfg = self.config
        prompt = self._prompt(body, chat)
        limit = self._output_limit(body)
        stream = body.get("stream") is True
        options = body.get("stream_options") or {}
        include_usage = stream and isinstance(options, dict) and options.get("include_usage") is True
        plan = Plan(chat=chat, model=str(body.get("model") or cfg.model), stream=stream,
                     include_usage=include_usage and not cfg.no_usage, prompt=prompt, count_tokens=self.tokenizer.count,
                     output_tokens=limit, reasoning_tokens=min(cfg.reasoning_tokens, limit) if chat else 0,
                     usage_scale=cfg.usage_scale)
        if chat:
            plan.images, plan.image_tokens = _image_load(body["messages"])
        if cfg.slow_every and next(self._planned) % cfg.slow_every == 0:
            plan.extra_ttft = cfg.slow_ms / 1000.0
        self._maybe_stop_early(plan, body)
        self._inject_faults(plan)
        if chat and self.chats is not None:
            plan.transcript = {"messages": body["messages"], "answer": None}
            self.chats.append(plan.transcript)
        if isinstance(prompt, str) and (plan.include_usage or not stream):
            self._counter.submit(plan)
        return plan

    def _maybe_stop_early(self, plan: Plan, body: dict) -> None:
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

    def _inject_faults(self, plan: Plan) -> None:
        cfg, rng = self.config, self._rng
        n_chunks = chunk_count(plan, cfg.tokens_per_chunk)
        if cfg.disconnect_rate and rng.random() < cfg.disconnect_rate:
            plan.disconnect_after = n_chunks = mid_chunk(rng, n_chunks)
        elif cfg.cut_off_rate and rng.random() < cfg.cut_off_rate:
            n_chunks = mid_chunk(rng, n_chunks)
            plan.output_tokens = next(itertools.islice(chunk_spans(plan, cfg.tokens_per_chunk), n_chunks - 1, None))[1]
            plan.reasoning_tokens = min(plan.reasoning_tokens, plan.output_tokens)
            plan.finish_reason = None
        if cfg.stall_rate and rng.random() < cfg.stall_rate:
            plan.stall_at = mid_chunk(rng, n_chunks) % n_chunks
        if cfg.malformed_rate and rng.random() < cfg.malformed_rate:
            plan.malformed_at = mid_chunk(rng, n_chunks) % n_chunks

    def _acquire_slot(self, arrival: float) -> float:
        """Take a sequence slot; returns the time token generation starts (queueing shows up in TTFT)."""
        if self._slots is None or self._slots.acquire(blocking=False):
            return arrival
        self.state.waiting += 1
        try:
            self._slots.acquire()
        finally:
            self.state.waiting -= 1
        return time.perf_counter()

    def _release_slot(self) -> None:
        if self._slots is not None:
            self._slots.release()

    def _schedule(self, plan: Plan, start: float) -> Iterator[tuple[float, int, int, bool]]:
        """(deadline, first token, end token, is reasoning) of each chunk, from absolute deadlines."""
        cfg, rng = self.config, self._rng
        itl, jitter = cfg.itl_ms / 1000.0, cfg.jitter_ms / 1000.0
        prefill_ms = cfg.prefill_ms_per_token * plan.prompt_tokens if cfg.prefill_ms_per_token else 0.0
        prefill_ms += cfg.image_ms * plan.images
        deadline = start + (cfg.ttft_ms + prefill_ms) / 1000.0 + plan.extra_ttft
        prev_first = 0
        for index, (first, end, reasoning) in enumerate(chunk_spans(plan, cfg.tokens_per_chunk)):
            delay = (first - prev_first) * itl
            if jitter:
                delay = max(0.0, delay + rng.uniform(-jitter, jitter))
            if index == plan.stall_at:
                delay += cfg.stall_ms / 1000.0
            deadline += delay
            prev_first = first
            yield deadline, first, end, reasoning

    def _response_id(self, plan: Plan) -> str:
        return f"{'chatcmpl' if plan.chat else 'cmpl'}-sim{next(self._ids)}"

    def _tokens(self, count: int) -> list[bytes]:
        offset = self._rng.randrange(_POOL_SIZE)
        if count <= _POOL_SIZE:
            return self._pool2[offset:offset + count]
        return list(itertools.islice(itertools.cycle(self._pool2[:_POOL_SIZE]), offset, offset + count))

    def _stream(self, plan: Plan, arrival: float) -> Iterator[bytes]:
        """The SSE body: role chunk, timed content chunks, finish, usage, [DONE]."""
        frames = Frames(plan.chat, self._response_id(plan), int(time.time()), plan.model)
        start = self._acquire_slot(arrival)
        sequence, ended = self.state.start(plan), False
        try:
            if plan.chat and self.config.role_chunk:
                yield frames.role()
            tokens = self._tokens(plan.output_tokens)
            if plan.transcript is not None:
                plan.transcript["answer"] = b"".join(tokens[plan.reasoning_tokens:plan.output_tokens]).decode()
            last = chunk_count(plan, self.config.tokens_per_chunk) - 1
            for index, (deadline, first, end, reasoning) in enumerate(self._schedule(plan, start)):
                # Absolute deadlines keep mid-stream timer lateness from accumulating (mean ITL stays exact);
                # the first and last chunks, which fix TTFT and end-to-end latency, are timed to the microsecond.
                if index == 0 or index == last:
                    self._clock.sleep_until(deadline)
                else:
                    sleep_until(deadline)
                if index == plan.disconnect_after:
                    raise ConnectionResetError(104, "simulated disconnect")  # pywsgi closes it silently
                text = b"".join(tokens[first:end]) if end - first > 1 else tokens[first]
                self.state.generate(sequence, end - first)
                yield frames.malformed(text, reasoning) if index == plan.malformed_at else frames.chunk(text, reasoning)
            if plan.disconnect_after >= 0:
                raise ConnectionResetError(104, "simulated disconnect")
            ended = True
            yield self._trailer(frames, plan)
        finally:
            self.state.finish(sequence, plan.finish_reason if ended else None)
            self._release_slot()

    @staticmethod
    def _trailer(frames: Frames, plan: Plan) -> bytes:
        # The trailing frames are due at the same instant, so they share one write.
        parts = [frames.finish(plan.finish_reason)] if plan.finish_reason else []
        if plan.include_usage:
            parts.append(frames.usage(plan.prompt_tokens, plan.reported_output_tokens, plan.reasoning_tokens))
        parts.append(DONE)
        return b"".join(parts)

    def _complete(self, plan: Plan, arrival: float, start_response: StartResponse) -> list[bytes]:
        """A non-streaming answer, sent when the last token would have been generated."""
        start = self._acquire_slot(arrival)
        sequence = self.state.start(plan)
        try:
            last = start
            for index, (deadline, _, _, _) in enumerate(self._schedule(plan, start)):
                last = deadline
                if index == plan.disconnect_after:
                    break
            self._clock.sleep_until(last)
            if plan.disconnect_after >= 0:
                raise ConnectionResetError(104, "simulated disconnect")
            self.state.generate(sequence, plan.output_tokens)  # a non-streamed answer's tokens come all at once
        finally:
            self.state.finish(sequence, plan.finish_reason)
            self._release_slot()
        body = self._completion_body(plan)
        if plan.malformed_at >= 0:
            body = body[: len(body) // 2]
        start_response("200 OK", _JSON_HEADERS)
        return [body]

    def _completion_body(self, plan: Plan) -> bytes:
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
        usage = {"prompt_tokens": plan.prompt_tokens, "completion_tokens": plan.reported_output_tokens,
                 "total_tokens": plan.prompt_tokens + plan.reported_output_tokens}
        if plan.reasoning_tokens:
            usage["completion_tokens_details"] = {"reasoning_tokens": plan.reasoning_tokens}
        return json.dumps({"id": self._response_id(plan), "object": kind, "created": int(time.time()),
                           "model": plan.model, "choices": [choice], "usage": usage}).encode()


def make_simulator_app(config: SimulatorConfig, tokenizer: Tokenizer | None = None) -> WSGIApp:
    """Build the simulator's WSGI application."""
    return SimulatorApp(config, tokenizer)
