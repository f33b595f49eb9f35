"""The HTTP side of one benchmark request: build the OpenAI payload, stream the answer, time every chunk."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from time import perf_counter
from urllib.parse import urlsplit

import gevent
import orjson
from gevent.monkey import get_original
from geventhttpclient import HTTPClient
from geventhttpclient.connectionpool import ConnectionPool

from genai_bench.protocol import (
    ERROR_CONNECTION,
    ERROR_EMPTY_RESPONSE,
    ERROR_INCOMPLETE_STREAM,
    ERROR_MALFORMED_CHUNK,
    ERROR_TIMEOUT,
    RequestRecord,
)
from genai_bench.receive_times import ReceiveTimedSocket
from genai_bench.sse_stream import DONE, FAILED, GO_ON, StreamRead
from genai_bench.tokenizer import Tokenizer

ENDPOINT_PATHS = {"chat": "/chat/completions", "completions": "/completions"}
# Backends known to accept ignore_eos, which forces the requested output length.
IGNORE_EOS_BACKENDS = frozenset({"vllm", "sglang"})
MAX_ERROR_BODY = 4096
# A local count up to this many times the chunk count still means one token per chunk (tokenizers differ).
ONE_TOKEN_CHUNKS_SLACK = 1.3
# Every this many requests, the server's usage is checked against a local count (token_count_mismatch).
USAGE_CHECK_EVERY = 10
_select_without_yield = get_original("select", "select")
# A prompt is one user message's text, or (chat, multi-turn) the whole message history to send.
Prompt = str | list[dict]


@dataclass(frozen=True)
class Target:
    """Where and how to send requests: the server, the model, the endpoint and the extra request fields."""

    api_base: str
    model: str
    api_key: str = ""
    endpoint: str = "chat"
    backend: str = "openai"
    additional_params: dict = field(default_factory=dict)
    request_timeout: float = 300.0
    connect_timeout: float = 10.0
    rerank_endpoint: str = "/v1/rerank"  # text-to-rerank: the path from the server's root (--rerank-endpoint)

    @property
    def base_path(self) -> str:
        """The API's path prefix, e.g. /v1, accepting an api_base given with or without its /v1 suffix."""
        base_path = urlsplit(self.api_base).path.rstrip("/")
        return base_path if base_path.endswith("/v1") else base_path + "/v1"

    @property
    def root_path(self) -> str:
        """The server's path prefix without the API version, e.g. "" for http://host:8000/v1."""
        return self.base_path[: -len("/v1")]

    @property
    def path(self) -> str:
        """Request path of the chosen endpoint."""
        return self.base_path + ENDPOINT_PATHS[self.endpoint]

    def headers(self) -> dict[str, str]:
        """Request headers, with the bearer token when an API key is set."""
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def payload(self, prompt: Prompt, max_output_tokens: int | None) -> bytes:
        """JSON body of a streaming request (a list prompt is a chat history); additional_params always win.

        With no output limit (None), neither max_tokens nor ignore_eos is sent: the server decides the length.
        """
        body: dict = {"model": self.model, "stream": True, "stream_options": {"include_usage": True}}
        if self.endpoint == "chat":
            body["messages"] = prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        if max_output_tokens is not None:
            body["max_tokens"] = max_output_tokens
            if self.backend in IGNORE_EOS_BACKENDS:
                body["ignore_eos"] = True
        body.update(self.additional_params)
        return orjson.dumps(body)

    def new_http_client(self, concurrency: int = 1) -> HTTPClient:
        """A keep-alive connection pool to the server."""
        return HTTPClient.from_url(
            self.api_base,
            concurrency=concurrency,
            connection_timeout=self.connect_timeout,
            network_timeout=None,  # the per-request gevent.Timeout bounds every read; a per-recv one costs a timer each chunk
        )

    def new_receive_timed_client(self) -> tuple[HTTPClient, ReceiveTimedPool | None]:
        """A one-connection client whose pool says when response bytes arrived (plain HTTP; None over TLS)."""
        http = self.new_http_client()
        if http.ssl or http.use_proxy:
            return http, None
        # HTTPClient builds its pool itself; this one differs only in its socket class and liveness check.
        pool = ReceiveTimedPool(http.host, http.port, http.host, http.port, size=1, network_timeout=None,
                                connection_timeout=self.connect_timeout)
        http._connection_pool.close()
        http._connection_pool = pool
        return http, pool


class ReceiveTimedPool(ConnectionPool):
    """geventhttpclient's connection pool, with sockets that know when their bytes arrived and a liveness check
    that never yields to the hub.

    The pool's own check calls gevent's select(), which always yields: other users then run between a request's
    start time and its send, and that wait would count as the server's latency.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.current: ReceiveTimedSocket | None = None  # the socket handed out last (one request at a time)

    def get_socket(self) -> ReceiveTimedSocket:
        """A live keep-alive connection, or a new one."""
        self.current = super().get_socket()
        return self.current

    def _create_tcp_socket(self, family: int, socktype: int, protocol: int) -> ReceiveTimedSocket:
        return ReceiveTimedSocket(family, socktype, protocol)

    def _is_socket_alive(self, sock: ReceiveTimedSocket | None) -> bool:
        if sock is None or sock.fileno() < 0:
            return False
        try:
            # An idle keep-alive connection has nothing to read: a readable one was closed by the server.
            return not _select_without_yield([sock], [], [], 0.0)[0]
        except (OSError, ValueError):
            return False


class StreamState:
    """What the stream has said so far: answer and reasoning text pieces, finish reason, usage."""

    __slots__ = ("pieces", "reasoning", "finish_reason", "usage", "done")

    def __init__(self) -> None:
        self.pieces: list[str] = []  # answer text, one piece per chunk
        self.reasoning: list[str] = []  # reasoning text, one piece per chunk
        self.finish_reason: str | None = None
        self.usage: dict | None = None
        self.done = False


def chunk_texts(choice: dict) -> tuple[str, str]:
    """(answer, reasoning) text of one streamed choice; role-only deltas give two empty strings."""
    delta = choice.get("delta")
    if delta is None:
        return choice.get("text") or "", ""
    return delta.get("content") or "", delta.get("reasoning_content") or delta.get("reasoning") or ""


def estimate_tokens(count: int, chunks: int) -> int:
    """Output tokens of a stream the server did not count: its chunk count when chunks carry one token each.

    Servers that stream token by token (llama.cpp, vLLM, TGI) send one chunk per token, and a local tokenizer that is
    not the server's miscounts their text by several percent; a local count well above the chunk count means the
    server batches tokens, and then the local count is the better estimate.
    """
    return chunks if count <= chunks * ONE_TOKEN_CHUNKS_SLACK else count


class OpenAIStreamingClient:
    """Sends streaming completion requests over one keep-alive connection and times them at the socket.

    Chunks are timed by when the kernel received their bytes (not when this busy loop got to read them), so the
    client's own load does not add to TTFT and inter-token latency.
    """

    def __init__(self, target: Target, tokenizer: Tokenizer) -> None:
        self.target = target
        self.tokenizer = tokenizer
        self.http, self.pool = target.new_receive_timed_client()
        self.headers = target.headers()
        self.path = target.path
        self._request_head = request_head(target.api_base, self.path, self.headers)
        self.sent = 0
        # The last request's stream, kept (not joined) so that a multi-turn user can read the answer it got.
        self.last_stream: StreamState | None = None

    def connect(self) -> None:
        """Open the keep-alive connection ahead of the first request, so no request's latency includes connecting."""
        if self.pool is None:
            return
        try:
            self.pool.return_socket(self.pool.get_socket())
        except OSError:
            pass  # the first request meets the same error and records it

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def last_answer(self) -> str:
        """The answer text of the last request (joined only now, so that single-turn runs never pay for it)."""
        return "".join(self.last_stream.pieces) if self.last_stream is not None else ""

    def send(self, record: RequestRecord, prompt: Prompt) -> RequestRecord:
        """Send one request, filling `record` with timestamps, token counts and any error; never raises for server faults."""
        body = self.target.payload(prompt, record.max_output_tokens)
        record.request_bytes = len(body)
        self.last_stream = state = StreamState()
        if self.pool is None:  # TLS or a proxy: geventhttpclient reads the stream
            self._post(record, body, self._read_stream, state)
        else:
            self._stream(record, body, state)
        if record.ok:
            self._finish(record, state)
        return record

    def _post(self, record: RequestRecord, body: bytes, read: Callable, state: object) -> None:
        """POST `body`, time it from the send, and let `read(response, record, state)` take a 200 answer; server
        faults (statuses, timeouts, broken connections) become the record's error."""
        response = None
        record.start = perf_counter()
        try:
            with gevent.Timeout(self.target.request_timeout):
                response = self.http.request("POST", self.path, body=body, headers=self.headers)
                record.status_code = response.status_code
                if response.status_code != 200:
                    record.fail(str(response.status_code), _error_message(response.read(MAX_ERROR_BODY)), perf_counter())
                    return
                read(response, record, state)
        except gevent.Timeout:
            record.fail(ERROR_TIMEOUT, f"no complete answer within {self.target.request_timeout:g} s", perf_counter())
        except Exception as exc:  # socket errors, refused connections and HTTP parse errors are all server faults here
            code = ERROR_INCOMPLETE_STREAM if record.status_code == 200 else ERROR_CONNECTION
            record.fail(code, f"{type(exc).__name__}: {exc}", perf_counter())
        finally:
            if response is not None:
                response.release()

    def _stream(self, record: RequestRecord, body: bytes, state: StreamState) -> None:
        """POST `body` on the keep-alive connection and let the event loop read the answer (sse_stream); server
        faults become the record's error, as in _post."""
        read = sock = None
        record.start = perf_counter()
        try:
            with gevent.Timeout(self.target.request_timeout):
                sock = self.pool.get_socket()
                sock.sendall(b"%s%d\r\n\r\n%s" % (self._request_head, len(body), body))
                read = StreamRead(sock, partial(self._take_data, record, state), MAX_ERROR_BODY)
                read.wait()
        except gevent.Timeout:
            record.status_code = read.status if read is not None else 0
            record.fail(ERROR_TIMEOUT, f"no complete answer within {self.target.request_timeout:g} s", perf_counter())
        except Exception as exc:  # socket errors, refused connections and HTTP parse errors are all server faults here
            record.status_code = read.status if read is not None else 0
            code = ERROR_INCOMPLETE_STREAM if record.status_code == 200 else ERROR_CONNECTION
            record.fail(code, f"{type(exc).__name__}: {exc}", perf_counter())
        else:
            record.status_code = read.status
            if read.status != 200:
                record.fail(str(read.status), _error_message(read.error_body), perf_counter())
            elif not record.end:
                record.end = read.now  # the answer ended without [DONE]: when its last bytes arrived
        finally:
            if sock is not None:
                if read is not None and read.reusable:
                    self.pool.return_socket(sock)
                else:
                    self.pool.release_socket(sock)

    def _read_stream(self, response, record: RequestRecord, state: StreamState) -> None:
        sock = self.pool.current if self.pool is not None else None
        # One line per read until the first line shows plain LF line ends; then one whole event (data line and
        # blank line) per read, which halves the reads. CRLF streams stay line by line.
        separator = b"\n"
        while True:
            block = response.readline(separator)
            # readline reads the socket only when no whole line is buffered, so the latest read brought this block.
            now = sock.received_at if sock is not None else perf_counter()
            if not block:
                break
            if separator == b"\n":
                if not block.endswith(b"\r\n"):
                    separator = b"\n\n"
                lines = (block,)
            elif block.startswith(b"data:") and block.find(b"\n", 5) == len(block) - 2:
                lines = (block,)  # the usual event: one data line
            else:
                lines = block.split(b"\n")
            for line in lines:
                if line.startswith(b"data:") and self._take_data(record, state, line[5:].strip(), now):
                    return
        record.end = now

    @staticmethod
    def _take_data(record: RequestRecord, state: StreamState, data: bytes, now: float) -> int:
        """Account for one SSE data field: GO_ON, or DONE / FAILED when the stream is over."""
        if data == b"[DONE]":
            state.done = True
            record.end = now
            return DONE
        try:
            chunk = orjson.loads(data)
        except ValueError:  # orjson.JSONDecodeError is a ValueError
            record.fail(ERROR_MALFORMED_CHUNK, f"chunk is not JSON: {data[:200]!r}", now)
            return FAILED
        choices = chunk.get("choices")
        if choices:
            choice = choices[0]
            answer, reasoning = chunk_texts(choice)
            if answer or reasoning:
                if record.first_token is None:
                    record.first_token = now
                record.chunk_times.append(now)
                if answer:
                    if record.first_answer is None:
                        record.first_answer = now
                    state.pieces.append(answer)
                if reasoning:
                    state.reasoning.append(reasoning)
            if choice.get("finish_reason"):
                state.finish_reason = choice["finish_reason"]
        elif "error" in chunk:
            record.fail(ERROR_INCOMPLETE_STREAM, f"server error mid-stream: {chunk['error']}"[:500], now)
            return FAILED
        if chunk.get("usage"):
            state.usage = chunk["usage"]
        return GO_ON

    def _finish(self, record: RequestRecord, state: StreamState) -> None:
        if state.finish_reason is None:
            how = "after [DONE]" if state.done else "when the connection closed"
            record.fail(ERROR_INCOMPLETE_STREAM, f"stream ended {how} without a finish_reason", record.end)
            return
        if record.first_token is None:
            record.fail(ERROR_EMPTY_RESPONSE, "stream finished without any output token", record.end)
            return
        usage = state.usage or {}
        self.sent += 1
        reported = usage.get("completion_tokens")
        if reported is not None:
            record.num_output_tokens = int(reported)
            if self.sent % USAGE_CHECK_EVERY == 1:  # a sample, so that a server that miscounts is caught
                record.local_output_tokens = self._local_count(state.pieces + state.reasoning, len(record.chunk_times))
        else:
            # The server ignored include_usage: count locally, and say so in the results.
            record.num_output_tokens = self._local_count(state.pieces + state.reasoning, len(record.chunk_times))
            record.tokens_estimated = True
        if state.reasoning:
            details = usage.get("completion_tokens_details") or {}
            reasoning_chunks = len(state.reasoning)
            record.reasoning_tokens = (int(details["reasoning_tokens"]) if details.get("reasoning_tokens") is not None
                                       else self._local_count(state.reasoning, reasoning_chunks))
        if usage.get("prompt_tokens") is not None:
            record.num_input_tokens = int(usage["prompt_tokens"])

    def _local_count(self, pieces: list[str], chunks: int) -> int:
        return estimate_tokens(self.tokenizer.count("".join(pieces)), chunks)


def request_head(api_base: str, path: str, headers: dict[str, str]) -> bytes:
    """The bytes of a POST's head up to its Content-Length value, the same for every request of a client."""
    host = urlsplit(api_base).netloc.rpartition("@")[2]
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "User-Agent: genai-bench"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")


def _error_message(body: bytes) -> str:
    """The `error.message` of an OpenAI error body, or the raw body text."""
    try:
        error = json.loads(body).get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if error:
            return str(error)
    except (ValueError, AttributeError):
        pass
    return body.decode("utf-8", "replace").strip() or "empty error body"
