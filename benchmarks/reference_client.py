"""The floor: a minimal streaming client doing only what timing every token needs, for benchmarks to compare with.

Standard library only, one thread, one epoll: N keep-alive connections each send a streaming chat completion, and
every readable socket is read once per wake-up; the reader keeps the bytes, undoes the chunked transfer encoding,
splits SSE events, parses each event's JSON once and stamps it with one perf_counter reading per read. Nothing else:
no framework, no statistics, no kernel receive stamps (the cheapest timestamp there is). Run as its own process so
that its CPU can be measured from outside (getrusage of the finished child):

    python benchmarks/reference_client.py URL --concurrency 16 --requests 400 --output-tokens 100 --out rows.json

The output file holds one row per request: [start, [event times of content chunks], completion_tokens]
(perf_counter seconds, comparable with other processes on one Linux machine).
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import sys
import time
from urllib.parse import urlsplit

# About 100 tokens of the simulator's tokenizer: the prompt of a D(100,·) request.
PROMPT = "hello there, how are you today " * 14


class Stream:
    """One keep-alive connection and the request it is reading."""

    __slots__ = ("sock", "buffer", "head_done", "body", "start", "times", "tokens", "done")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""  # raw bytes not yet decoded (head or chunked body)
        self.body = b""  # decoded body bytes not yet split into SSE events
        self.head_done = False
        self.start = 0.0
        self.times: list[float] = []
        self.tokens = 0
        self.done = False


def request_bytes(host: str, path: str, output_tokens: int) -> bytes:
    """The HTTP/1.1 keep-alive request of one streamed chat completion."""
    body = json.dumps({"model": "m", "stream": True, "max_tokens": output_tokens, "ignore_eos": True,
                       "stream_options": {"include_usage": True},
                       "messages": [{"role": "user", "content": PROMPT}]}).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Accept: text/event-stream\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def take_events(stream: Stream, now: float) -> None:
    """Split the decoded body into SSE events; parse each data field once and stamp its content chunks."""
    body = stream.body
    start = 0
    while True:
        end = body.find(b"\n\n", start)
        if end < 0:
            break
        event = body[start:end]
        start = end + 2
        if not event.startswith(b"data:"):
            continue
        data = event[5:].strip()
        if data == b"[DONE]":
            continue
        chunk = json.loads(data)
        choices = chunk.get("choices")
        if choices:
            delta = choices[0].get("delta") or {}
            if delta.get("content"):
                stream.times.append(now)
        usage = chunk.get("usage")
        if usage:
            stream.tokens = usage["completion_tokens"]
    stream.body = body[start:]


def decode(stream: Stream, data: bytes, now: float) -> None:
    """Feed the bytes of one read: the response head once, then the chunked body."""
    buffer = stream.buffer + data if stream.buffer else data
    if not stream.head_done:
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            stream.buffer = buffer
            return
        if not buffer.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"server answered {buffer[:end]!r}")
        stream.head_done = True
        buffer = buffer[end + 4:]
    position = 0
    pieces = []
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            break
        size = int(buffer[position:line_end].split(b";", 1)[0], 16)
        if size == 0:  # the last chunk and its empty trailer: the response is over
            if len(buffer) < line_end + 4:
                break
            position = line_end + 4
            stream.done = True
            break
        if len(buffer) < line_end + 2 + size + 2:
            break
        pieces.append(buffer[line_end + 2:line_end + 2 + size])
        position = line_end + 2 + size + 2
    stream.buffer = buffer[position:]
    if pieces or stream.done:
        stream.body = stream.body + b"".join(pieces) if stream.body else b"".join(pieces)
        take_events(stream, now)


def run(url: str, concurrency: int, requests: int, output_tokens: int) -> list[list]:
    """Stream `requests` requests over `concurrency` connections, each a new request as soon as one ends."""
    parts = urlsplit(url)
    address = (parts.hostname, parts.port or 80)
    request = request_bytes(f"{parts.hostname}:{address[1]}", parts.path.rstrip("/") + "/v1/chat/completions",
                            output_tokens)
    poller = select.epoll()
    streams: dict[int, Stream] = {}
    for _ in range(min(concurrency, requests)):
        sock = socket.create_connection(address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        streams[sock.fileno()] = Stream(sock)
    rows: list[list] = []
    issued = 0
    for stream in streams.values():
        stream.start = time.perf_counter()
        stream.sock.sendall(request)
        stream.sock.setblocking(False)
        poller.register(stream.sock.fileno(), select.EPOLLIN)
        issued += 1
    while streams:
        for fd, _ in poller.poll():
            stream = streams[fd]
            data = stream.sock.recv(65536)
            now = time.perf_counter()
            if not data:
                raise SystemExit("the server closed a connection mid-stream")
            decode(stream, data, now)
            if not stream.done:
                continue
            rows.append([stream.start, stream.times, stream.tokens])
            if issued < requests:
                issued += 1
                fresh = Stream(stream.sock)
                streams[fd] = fresh
                fresh.start = time.perf_counter()
                stream.sock.send(request)  # a small request on an idle connection: the buffer takes it whole
            else:
                poller.unregister(fd)
                stream.sock.close()
                del streams[fd]
    return rows


def main() -> None:
    """Run the client and write its rows."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="server root, e.g. http://127.0.0.1:8000")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--output-tokens", type=int, default=100)
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args()
    rows = run(args.url, args.concurrency, args.requests, args.output_tokens)
    if args.out:
        with open(args.out, "w") as out:
            json.dump(rows, out)
    else:
        json.dump({"requests": len(rows), "tokens": sum(r[2] for r in rows)}, sys.stdout)


if __name__ == "__main__":
    main()
