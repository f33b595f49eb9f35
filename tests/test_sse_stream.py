"""The loop-driven stream reader: every token timed and counted when each arrives on its own, and every way a
response can end (framing, early close, errors, a server that never finishes its body) handled like before."""

import statistics

import gevent
import pytest
from gevent.server import StreamServer

from genai_bench.client import OpenAIStreamingClient, Target
from genai_bench.protocol import ERROR_CONNECTION, ERROR_INCOMPLETE_STREAM, ERROR_MALFORMED_CHUNK, RequestRecord
from genai_bench.sampling import PromptSampler
from genai_bench.tokenizer import builtin_tokenizer

CHUNK = b'data: {"choices":[{"index":0,"delta":{"content":" the"},"finish_reason":null}]}\n\n'
FINISH = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}\n\n'
USAGE = b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":%d}}\n\n'
DONE = b"data: [DONE]\n\n"
CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def new_client(url: str, timeout: float = 10.0) -> OpenAIStreamingClient:
    return OpenAIStreamingClient(Target(api_base=url, model="m", request_timeout=timeout), builtin_tokenizer())


def send(client: OpenAIStreamingClient, out: int) -> RequestRecord:
    return client.send(RequestRecord("D", 1, 3, out), "hello")


@pytest.fixture
def raw_server():
    """A TCP server on 127.0.0.1:0 whose handler writes the given pieces (bytes, or a float: sleep that long)."""
    servers = []

    def serve(pieces: list, keep_open: float = 0.0) -> str:
        def handle(sock, _address):
            sock.recv(65536)  # the request (small: it arrives whole)
            for piece in pieces:
                if isinstance(piece, float):
                    gevent.sleep(piece)
                else:
                    sock.sendall(piece)
            gevent.sleep(keep_open)
            sock.close()

        server = StreamServer(("127.0.0.1", 0), handle)
        server.start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server in servers:
        server.stop(timeout=0.1)


def test_every_token_is_timed_and_counted_when_each_arrives_alone(start_simulator):
    server = start_simulator(ttft_ms=20.0, itl_ms=5.0, jitter_ms=0.0, seed=1)
    client = new_client(server.url)
    client.connect()
    try:
        records = [client.send(RequestRecord("D", 1, 30, 40), PromptSampler(builtin_tokenizer(), seed=3).prompt(30))
                   for _ in range(3)]
        connection = client.pool.current.fileno()
        assert connection >= 0  # kept alive for the next request
    finally:
        client.close()
    for record in records:
        assert record.ok, record.error_message
        assert record.num_output_tokens == 40 and len(record.chunk_times) == 40
        assert record.start < record.first_token == record.chunk_times[0] <= record.chunk_times[-1] <= record.end
        gaps = [b - a for a, b in zip(record.chunk_times, record.chunk_times[1:])]
        # The median gap is the configured ITL: tokens are stamped one by one, not per read (a late simulator may
        # still send two at once: deadlines are absolute).
        assert abs(statistics.median(gaps) - 0.005) < 0.0015
        assert 0.020 <= record.first_token - record.start < 0.060


def test_many_streams_each_get_every_token(start_simulator):
    server = start_simulator(ttft_ms=5.0, itl_ms=2.0, jitter_ms=0.0, seed=1)
    clients = [new_client(server.url) for _ in range(24)]
    try:
        greenlets = [gevent.spawn(lambda c=c: [send(c, 25) for _ in range(3)]) for c in clients]
        gevent.joinall(greenlets, timeout=30, raise_error=True)
    finally:
        for client in clients:
            client.close()
    records = [record for greenlet in greenlets for record in greenlet.value]
    assert len(records) == 72
    assert all(r.ok and r.num_output_tokens == 25 and len(r.chunk_times) == 25 for r in records)


def test_events_split_across_reads_are_joined_and_timed_by_the_read_that_completes_them(raw_server):
    body = chunked(CHUNK[:20]) + b"|" + chunked(CHUNK[20:]) + b"|" + chunked(CHUNK + FINISH) + chunked(
        USAGE % 2 + DONE) + b"0\r\n\r\n"
    pieces = [CHUNKED_HEAD]
    for part in body.split(b"|"):
        pieces += [part, 0.03]
    client = new_client(raw_server(pieces))
    try:
        record = send(client, 2)
        assert client.pool.current.fileno() >= 0  # the whole message was read: the connection stays
    finally:
        client.close()
    assert record.ok, record.error_message
    assert len(record.chunk_times) == 2 and record.num_output_tokens == 2
    assert 0.025 <= record.chunk_times[0] - record.start < 0.2  # completed by the second piece, 30 ms in
    assert 0.025 <= record.chunk_times[1] - record.chunk_times[0]


def test_a_body_delimited_by_the_close_is_read_to_its_end(raw_server):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    client = new_client(raw_server([head, CHUNK, 0.01, CHUNK + FINISH + USAGE % 2]))
    try:
        record = send(client, 2)  # no [DONE]: the close ends it, and a finish_reason was seen
    finally:
        client.close()
    assert record.ok, record.error_message
    assert len(record.chunk_times) == 2 and record.end >= record.chunk_times[-1]


def test_a_close_in_the_middle_of_a_chunked_body_is_an_incomplete_stream(raw_server):
    client = new_client(raw_server([CHUNKED_HEAD, chunked(CHUNK), 0.01, chunked(CHUNK)[:10]]))
    try:
        record = send(client, 5)
    finally:
        client.close()
    assert record.error_code == ERROR_INCOMPLETE_STREAM and record.status_code == 200
    assert len(record.chunk_times) == 1 and record.end > record.start


def test_a_close_before_any_answer_is_a_connection_error(raw_server):
    client = new_client(raw_server([]))
    try:
        record = send(client, 5)
    finally:
        client.close()
    assert record.error_code == ERROR_CONNECTION and record.status_code == 0


def test_done_without_the_end_of_the_body_still_completes_the_request(raw_server):
    # [DONE] arrives but the server neither ends the chunked body nor closes: the request is over at [DONE]
    # (not a timeout), and the connection, which cannot carry another request, is dropped.
    pieces = [CHUNKED_HEAD, chunked(CHUNK + FINISH + USAGE % 1 + DONE)]
    client = new_client(raw_server(pieces, keep_open=5.0), timeout=2.0)
    try:
        record = send(client, 1)
        assert client.pool.current.fileno() < 0
    finally:
        client.close()
    assert record.ok, record.error_message
    assert record.end - record.start < 1.0


def test_an_error_status_keeps_its_message(raw_server):
    body = b'{"error": {"message": "overloaded"}}'
    head = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    client = new_client(raw_server([head % len(body) + body], keep_open=1.0))
    try:
        record = send(client, 5)
    finally:
        client.close()
    assert (record.error_code, record.status_code, record.error_message) == ("503", 503, "overloaded")


def test_a_chunk_that_is_not_an_object_ends_the_stream_with_an_error(raw_server):
    pieces = [CHUNKED_HEAD, chunked(CHUNK + b"data: [1, 2]\n\n" + CHUNK), 0.01, chunked(DONE) + b"0\r\n\r\n"]
    client = new_client(raw_server(pieces))
    try:
        record = send(client, 5)
    finally:
        client.close()
    assert record.error_code == ERROR_INCOMPLETE_STREAM and "AttributeError" in record.error_message
    assert len(record.chunk_times) == 1


def test_a_malformed_chunk_is_reported(raw_server):
    client = new_client(raw_server([CHUNKED_HEAD, chunked(CHUNK + b"data: {nope\n\n"), 0.01, b"0\r\n\r\n"]))
    try:
        record = send(client, 5)
    finally:
        client.close()
    assert record.error_code == ERROR_MALFORMED_CHUNK


def test_timing_fidelity_against_a_simulator_writing_every_token_alone(cli):
    """16 streams against the simulator in its own process, 10 ms between tokens: TTFT and ITL as configured.

    Limits are loose: on a shared 2-core machine either process may wait for a core for milliseconds.
    """
    process = cli("simulate", "--port", "0", "--ttft-ms", "20", "--itl-ms", "10", "--jitter-ms", "0")
    url = process.wait_for(r"at (http://127\.0\.0\.1:\d+)/v1").group(1)
    clients = [new_client(url) for _ in range(16)]
    for client in clients:
        client.connect()
    try:
        greenlets = [gevent.spawn(lambda c=c: [send(c, 30) for _ in range(2)]) for c in clients]
        gevent.joinall(greenlets, timeout=60, raise_error=True)
    finally:
        for client in clients:
            client.close()
    records = [record for greenlet in greenlets for record in greenlet.value]
    assert all(r.ok and r.num_output_tokens == 30 and len(r.chunk_times) == 30 for r in records)
    ttft_errors = [r.first_token - r.start - 0.020 for r in records]
    itl_errors = [abs(b - a - 0.010) for r in records for a, b in zip(r.chunk_times, r.chunk_times[1:])]
    assert statistics.median(ttft_errors) < 0.005 and min(ttft_errors) > -0.001  # 32 first tokens due at once
    assert statistics.median(itl_errors) < 0.002
