"""The streaming client against the real simulator: timestamps, token counts, and every server quirk of §5."""

import json
import time

import gevent
import pytest

from genai_bench.client import OpenAIStreamingClient, Target
from genai_bench.protocol import (
    ERROR_CONNECTION,
    ERROR_INCOMPLETE_STREAM,
    ERROR_MALFORMED_CHUNK,
    ERROR_TIMEOUT,
    RequestRecord,
)
from genai_bench.sampling import PromptSampler
from genai_bench.tokenizer import builtin_tokenizer


def send(server, out=20, inp=30, timeout=10.0, **target_fields):
    tokenizer = builtin_tokenizer()
    target = Target(api_base=server.url if hasattr(server, "url") else server, model="m",
                    request_timeout=timeout, **target_fields)
    client = OpenAIStreamingClient(target, tokenizer)
    try:
        prompt = PromptSampler(tokenizer, seed=3).prompt(inp)
        return client.send(RequestRecord("D", 1, inp, out), prompt)
    finally:
        client.close()


def test_successful_stream_has_ordered_timestamps_and_server_counts(fast_simulator):
    rec = send(fast_simulator, out=20)
    assert rec.ok, rec.error_message
    assert rec.start < rec.first_token <= rec.chunk_times[-1] <= rec.end
    assert rec.first_token - rec.start >= 0.005  # configured TTFT is 5 ms
    assert rec.num_output_tokens == 20 and len(rec.chunk_times) == 20
    assert rec.num_input_tokens == 30 and not rec.tokens_estimated


def test_role_only_chunk_is_not_the_first_token(start_simulator):
    server = start_simulator(ttft_ms=30.0, itl_ms=1.0, role_chunk=True)
    rec = send(server, out=5)
    assert rec.ok
    assert rec.first_token - rec.start >= 0.030
    assert len(rec.chunk_times) == 5


def test_missing_usage_is_counted_locally_and_marked_estimated(start_simulator):
    rec = send(start_simulator(ttft_ms=1.0, itl_ms=0.0, no_usage=True), out=37)
    assert rec.ok and rec.tokens_estimated
    assert rec.num_output_tokens == 37  # the simulator's words are single tokens, so local counting agrees


def test_stream_cut_off_with_done_but_no_finish_reason_is_an_error(start_simulator):
    rec = send(start_simulator(ttft_ms=1.0, itl_ms=0.0, cut_off_rate=1.0), out=20)
    assert rec.error_code == ERROR_INCOMPLETE_STREAM
    assert rec.end > rec.start


def test_mid_stream_disconnect_is_an_error_with_real_latency(start_simulator):
    rec = send(start_simulator(ttft_ms=10.0, itl_ms=1.0, disconnect_rate=1.0), out=30)
    assert rec.error_code == ERROR_INCOMPLETE_STREAM
    assert rec.end - rec.start >= 0.010


def test_malformed_chunk_is_an_error(start_simulator):
    rec = send(start_simulator(ttft_ms=1.0, itl_ms=0.0, malformed_rate=1.0), out=20)
    assert rec.error_code == ERROR_MALFORMED_CHUNK
    assert "not JSON" in rec.error_message


@pytest.mark.parametrize("status", [429, 500, 503])
def test_http_errors_keep_status_code_message_and_latency(start_simulator, status):
    rec = send(start_simulator(ttft_ms=1.0, error_rate=1.0, error_codes=(status,)))
    assert rec.error_code == str(status) and rec.status_code == status
    assert rec.error_message and rec.end > rec.start


def test_reasoning_tokens_count_as_output_and_start_ttft(start_simulator):
    rec = send(start_simulator(ttft_ms=20.0, itl_ms=1.0, reasoning_tokens=5), out=12)
    assert rec.ok and rec.num_output_tokens == 12 and len(rec.chunk_times) == 12
    assert 0.020 <= rec.first_token - rec.start < 0.5


def test_completions_endpoint(fast_simulator):
    rec = send(fast_simulator, out=9, endpoint="completions")
    assert rec.ok and rec.num_output_tokens == 9


def test_tokens_per_chunk_spreads_itl(start_simulator):
    rec = send(start_simulator(ttft_ms=1.0, itl_ms=2.0, tokens_per_chunk=4), out=16)
    assert rec.ok and rec.num_output_tokens == 16 and len(rec.chunk_times) == 4


def test_api_key_is_sent(start_simulator):
    server = start_simulator(ttft_ms=1.0, itl_ms=0.0, api_key="sekret")
    assert send(server, out=3).error_code == "401"
    assert send(server, out=3, api_key="sekret").ok


def test_refused_connection_is_a_connection_error(start_simulator):
    server = start_simulator()
    url = server.url
    server.stop()
    rec = send(url)
    assert rec.error_code == ERROR_CONNECTION


def test_request_timeout_is_an_error_with_its_latency(start_simulator):
    rec = send(start_simulator(ttft_ms=2000.0), timeout=0.3)
    assert rec.error_code == ERROR_TIMEOUT
    assert 0.3 <= rec.end - rec.start < 1.5


def test_payload_forces_length_and_user_values_win():
    target = Target(api_base="http://127.0.0.1:1", model="m", backend="vllm",
                    additional_params={"temperature": 0.5, "ignore_eos": False})
    body = json.loads(target.payload("hi", 42))
    assert body["max_tokens"] == 42 and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.5 and body["ignore_eos"] is False
    assert "ignore_eos" not in json.loads(Target(api_base="http://x", model="m").payload("hi", 1))


@pytest.mark.parametrize("base,path", [
    ("http://h:1", "/v1/chat/completions"),
    ("http://h:1/", "/v1/chat/completions"),
    ("http://h:1/v1", "/v1/chat/completions"),
    ("http://h:1/proxy/v1/", "/proxy/v1/chat/completions"),
])
def test_path_accepts_api_base_with_or_without_v1(base, path):
    assert Target(api_base=base, model="m").path == path


def test_chunks_are_timed_when_they_arrive_even_while_the_client_is_busy(cli):
    """A client at full CPU reads late; its TTFT still comes from when the first token's bytes arrived."""
    process = cli("simulate", "--port", "0", "--ttft-ms", "100", "--itl-ms", "80", "--jitter-ms", "0")
    url = process.wait_for(r"at (http://127\.0\.0\.1:\d+)/v1").group(1)
    tokenizer = builtin_tokenizer()
    client = OpenAIStreamingClient(Target(api_base=url, model="m"), tokenizer)
    client.connect()
    record = RequestRecord("D", 1, 10, 2)
    sender = gevent.spawn(client.send, record, PromptSampler(tokenizer, seed=3).prompt(10))
    gevent.sleep(0.02)  # the request is out; its first token is due 100 ms after it was sent, the second at 180 ms
    busy_until = record.start + 0.15
    while time.perf_counter() < busy_until:  # no yield: the first token arrives while nobody reads
        pass
    sender.join(timeout=10)
    client.close()
    assert record.ok, record.error_message
    assert 0.095 <= record.first_token - record.start < 0.13  # read at 150 ms
    assert 0.075 <= record.chunk_times[1] - record.chunk_times[0] < 0.085


def _chunk(text: str, finish: str | None = None, usage: dict | None = None) -> dict:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}], "usage": usage}


SSE_EVENTS = [_chunk("Hel"), _chunk("lo"), _chunk("", "length"),
              {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2}}]


@pytest.fixture
def canned_sse_server():
    """A real HTTP server on 127.0.0.1:0 that streams the given SSE body bytes."""
    from gevent.pywsgi import WSGIServer

    servers = []

    def serve(body: bytes) -> str:
        def app(environ, start_response):
            environ["wsgi.input"].read()
            start_response("200 OK", [("Content-Type", "text/event-stream")])
            return [body]

        server = WSGIServer(("127.0.0.1", 0), app, log=None)
        server.start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server in servers:
        server.stop()


@pytest.mark.parametrize("style", ["crlf", "comments-and-fields", "lf"])
def test_sse_line_endings_and_extra_fields_are_parsed(canned_sse_server, style):
    datas = [b"data: " + json.dumps(event).encode() for event in SSE_EVENTS] + [b"data: [DONE]"]
    if style == "crlf":
        body = b"".join(d + b"\r\n\r\n" for d in datas)
    elif style == "comments-and-fields":
        body = b": keep-alive\n\n" + b"".join(b"event: message\nid: %d\n" % i + d + b"\n\n" for i, d in enumerate(datas))
    else:
        body = b"".join(d + b"\n\n" for d in datas)
    record = send(canned_sse_server(body), out=2, inp=7)
    assert record.ok, record.error_message
    assert (record.num_input_tokens, record.num_output_tokens, record.tokens_estimated) == (7, 2, False)
    assert len(record.chunk_times) == 2 and record.first_token == record.chunk_times[0] <= record.end


def stream_body(pieces: list[str], usage: dict | None = None) -> bytes:
    """An SSE body of one content chunk per piece, a finish chunk and an optional usage chunk."""
    events = [_chunk(piece) for piece in pieces] + [_chunk("", "length")]
    if usage:
        events.append({"choices": [], "usage": usage})
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"


def test_token_by_token_streams_without_usage_are_counted_by_chunk(canned_sse_server):
    # 10 chunks, one server token each, which the local tokenizer reads as 12 tokens (" cat" is 2 locally):
    # 8 x " the" + 2 x " cat" = 8 + 4 = 12 <= 1.3 x 10, so each chunk is one token and the count is exactly 10.
    record = send(canned_sse_server(stream_body([" the"] * 8 + [" cat"] * 2)), out=10)
    assert record.ok and record.tokens_estimated
    assert record.num_output_tokens == 10


def test_batched_streams_without_usage_are_counted_locally(canned_sse_server):
    # 5 chunks of 4 single-token words each: 20 local tokens, far above 1.3 x 5 chunks, so the text count wins.
    record = send(canned_sse_server(stream_body([" the and the and"] * 5)), out=20)
    assert record.ok and record.tokens_estimated
    assert record.num_output_tokens == 20


def test_reasoning_is_timed_apart_from_the_answer(start_simulator):
    # 5 reasoning tokens, then 7 answer tokens, 10 ms apart after a 20 ms TTFT: the answer starts ~50 ms after the
    # first token; the simulator's usage says how many were reasoning.
    rec = send(start_simulator(ttft_ms=20.0, itl_ms=10.0, reasoning_tokens=5), out=12)
    assert rec.ok and rec.num_output_tokens == 12 and rec.reasoning_tokens == 5
    assert rec.first_answer == rec.chunk_times[5]
    assert 0.045 <= rec.first_answer - rec.first_token < 0.2


def test_reasoning_without_usage_details_is_counted(start_simulator):
    rec = send(start_simulator(ttft_ms=1.0, itl_ms=0.0, reasoning_tokens=4, no_usage=True), out=9)
    assert rec.ok and rec.tokens_estimated and (rec.num_output_tokens, rec.reasoning_tokens) == (9, 4)


def test_usage_is_checked_against_a_local_count_on_a_sample(start_simulator):
    # The server claims 25% more tokens than it sends: the first request of every ten is checked.
    server = start_simulator(ttft_ms=1.0, itl_ms=0.0, usage_scale=1.25)
    tokenizer = builtin_tokenizer()
    client = OpenAIStreamingClient(Target(api_base=server.url, model="m"), tokenizer)
    prompt = PromptSampler(tokenizer, seed=3).prompt(10)
    try:
        records = [client.send(RequestRecord("D", 1, 10, 20), prompt) for _ in range(11)]
    finally:
        client.close()
    assert [r.num_output_tokens for r in records] == [25] * 11
    assert [i for i, r in enumerate(records) if r.local_output_tokens is not None] == [0, 10]
    assert records[0].local_output_tokens == 20
