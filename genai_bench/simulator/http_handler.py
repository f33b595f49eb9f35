"""The simulator's HTTP side under gevent's pywsgi: headers parsed by httptools, each request stamped with the
kernel's receive time, lean sends of many small streamed writes."""

import io
import socket
from typing import Any, Callable

import httptools
from gevent.pywsgi import WSGIHandler

from genai_bench.receive_times import ANCILLARY_SPACE, enable_receive_timestamps, received_at

# The limits of the stdlib header parser pywsgi used before.
_MAX_HEADERS = 100
_MAX_HEADER_LINE = 65536
# The WSGI environ key under which the handler passes the kernel's receive time of a request (perf_counter seconds).
RECEIVED_AT_KEY = "genai_bench.received_at"


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


class FastHandler(WSGIHandler):
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
