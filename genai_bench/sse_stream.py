"""Reading a streamed answer from the event loop itself: one read, one parse and one stamp per arrival, no switch.

A server writes each token on its own, so a client following N streams wakes N times per token interval. Read by the
requesting greenlet, every token costs a hub switch there and back, a watcher started and stopped, and a failed
read before the wait. Here the request's greenlet sends, then sleeps until its answer is over; meanwhile the loop
calls `StreamRead.on_readable` directly whenever the socket has bytes (every ready stream from the same wake-up),
and that reads them once with their kernel receive stamp, undoes the HTTP framing in C (httptools, llhttp) and
hands each SSE data line to the client's parser.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter

import httptools
from gevent import get_hub
from gevent.hub import Waiter

from genai_bench.receive_times import ANCILLARY_SPACE, received_at

READ_SIZE = 65536
# After [DONE], how long the rest of the answer (the chunked body's end) may take before the connection is given up
# instead of reused: servers send it at once, and a server that never does must not hold the request open.
END_GRACE = 0.05
_FRAMING_HEADERS = (b"content-length", b"transfer-encoding")


# What the client's parser says after each data field.
GO_ON, DONE, FAILED = 0, 1, 2


class StreamClosed(ConnectionError):
    """The server closed the connection before its answer was complete."""


class StreamRead:
    """One HTTP response read by loop callbacks; `wait()` returns when it is over (or raises what broke it).

    For a 200 answer, `take(data, now)` gets every SSE data field (the bytes after "data:", stripped) with the
    receive time of the read that completed its line, and returns GO_ON, DONE ([DONE]: the rest of the message is
    read, briefly, so the connection can be reused) or FAILED (the connection is dropped); other statuses keep up to
    `error_limit` bytes of their body in `error_body`.
    """

    __slots__ = ("sock", "raw", "take", "error_limit", "parser", "watcher", "waiter", "status", "now", "pending",
                 "error_body", "framed", "headers_done", "message_done", "stream_over", "failure", "finished",
                 "stamped", "grace", "clean_end", "keep_alive")

    def __init__(self, sock, take: Callable[[bytes, float], int], error_limit: int) -> None:
        self.sock = sock
        # gevent's socket wraps a non-blocking stdlib socket: the loop only calls us when it is readable.
        self.raw = sock._sock
        self.stamped = getattr(sock, "stamped", False)
        self.take = take
        self.error_limit = error_limit
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.now = 0.0
        self.pending = b""  # the start of an SSE line whose end has not arrived
        self.error_body = b""
        self.framed = False  # Content-Length or chunked: the end of the body is in the bytes, not the close
        self.headers_done = self.message_done = self.stream_over = self.finished = False
        self.failure: BaseException | None = None
        self.waiter = Waiter()
        self.watcher = get_hub().loop.io(sock.fileno(), 1)
        self.grace = None
        self.clean_end = False  # the stream ended with [DONE]
        self.keep_alive = False

    def wait(self) -> None:
        """Read until the answer is over, from the loop; raises the error that ended it early."""
        self.watcher.start(self.on_readable)
        try:
            self.waiter.get()
        finally:
            self.watcher.stop()
            self.watcher.close()
            if self.grace is not None:
                self.grace.stop()
                self.grace.close()
        if self.failure is not None:
            raise self.failure

    @property
    def reusable(self) -> bool:
        """True when the connection can carry the next request (the whole answer was read, keep-alive)."""
        return self.message_done and self.keep_alive and self.failure is None

    # ---- the loop's callback -----------------------------------------------------------------------------------

    def on_readable(self) -> None:
        """Read what arrived, once; runs in the loop (the hub greenlet), so nothing may escape it."""
        try:
            self._read()
        except Exception as exc:  # never seen; it ends this request with the error instead of hanging it
            self._finish(exc)

    def _read(self) -> None:
        try:
            if self.stamped:
                data, ancillary, _, _ = self.raw.recvmsg(READ_SIZE, ANCILLARY_SPACE)
                self.now = received_at(ancillary)
            else:
                data = self.raw.recv(READ_SIZE)
                self.now = perf_counter()
        except (BlockingIOError, InterruptedError):
            return  # woken without data: wait for the next readiness
        except OSError as exc:
            self._finish(exc)
            return
        if not data:
            if self.headers_done and not self.framed:
                self.message_done = True  # a body delimited by the connection's close
                self._finish(None)
            else:
                self._finish(StreamClosed("the server closed the connection before the answer was complete"))
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            cause = exc.__context__ if isinstance(exc, httptools.HttpParserCallbackError) else None
            self._finish(self.failure or cause or exc)
            return
        if self.message_done or (self.stream_over and not self.clean_end):
            self._finish(None)
        elif self.stream_over and self.grace is None:
            self.grace = get_hub().loop.timer(END_GRACE)
            self.grace.start(self._finish, None)

    def _finish(self, failure: BaseException | None) -> None:
        if self.finished:
            return
        self.finished = True
        if failure is not None and self.failure is None:
            self.failure = failure
        self.watcher.stop()
        self.waiter.switch(None)  # last: the request's greenlet runs from here and may start the next request

    # ---- httptools' callbacks ---------------------------------------------------------------------------------

    def on_header(self, name: bytes, _value: bytes) -> None:
        if name.lower() in _FRAMING_HEADERS:
            self.framed = True

    def on_headers_complete(self) -> None:
        self.headers_done = True
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        if self.stream_over:
            return  # after [DONE] or a failure: the rest only has to be parsed to end the message
        if self.status != 200:
            if len(self.error_body) < self.error_limit:
                self.error_body = (self.error_body + body)[:self.error_limit]
                self.stream_over = len(self.error_body) >= self.error_limit
            return
        try:
            # The usual arrival: one whole event of one data line, alone (a token written on its own).
            if (not self.pending and body.startswith(b"data:") and body.endswith(b"\n\n")
                    and body.find(b"\n") == len(body) - 2):
                outcome = self.take(body[5:-2].strip(), self.now)
            else:
                outcome = self._lines(body)
        except Exception as exc:  # a chunk the client cannot read: the stream ends with this error
            self.failure = exc
            outcome = FAILED
        if outcome:
            self.stream_over = True
            self.clean_end = outcome == DONE

    def _lines(self, body: bytes) -> int:
        """Hand every complete data line to the parser, keeping an unfinished line for the next read."""
        buffer = self.pending + body if self.pending else body
        start = 0
        take, now = self.take, self.now
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            if buffer.startswith(b"data:", start) and (outcome := take(buffer[start + 5:end].strip(), now)):
                self.pending = b""
                return outcome
            start = end + 1
        self.pending = buffer[start:] if start < len(buffer) else b""
        return GO_ON

    def on_message_complete(self) -> None:
        self.message_done = True
        self.keep_alive = self.parser.should_keep_alive()  # asked now: llhttp resets it for the next message
